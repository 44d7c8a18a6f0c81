/**
 * Every public generator family, served end to end: model folders shaped like the real exports (PyTorch DCGAN,
 * StyleGAN mapping + synthesis and single file, BigGAN, float16, generator-only, other layouts, ranges and sizes),
 * loaded by the real runtime and asked through the real routes.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  writeBigganModel,
  writeDcganModel,
  writeGenericModel,
  writeStyleganModel,
  writeStyleganSingleFile,
} from '../../../scripts/onnx/family-models.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { json, PNG_SIGNATURE, tempDir } from '../../helpers/app.ts';

type App = Awaited<ReturnType<typeof buildApp>>;
let app: App;
let dir: string;
/** A w_avg given as a file: every entry 0.25. */
const GIVEN_W_AVG = new Float32Array(512).fill(0.25);

beforeAll(async () => {
  dir = await tempDir('gan-families-');
  await writeDcganModel(dir, { name: 'dcgan' });
  await writeDcganModel(dir, { name: 'dcgan-fp16', dtype: 'float16' });
  await writeDcganModel(dir, { name: 'dcgan-grey-flat', channels: 1, discriminator: 'N' });
  await writeStyleganModel(dir, { name: 'stylegan' });
  await writeStyleganModel(dir, { name: 'stylegan-wfile', wAvg: GIVEN_W_AVG, mappingOutput: 'w' });
  await writeStyleganModel(dir, { name: 'stylegan-fp16', dtype: 'float16' });
  await writeStyleganSingleFile(dir);
  await writeBigganModel(dir);
  await writeGenericModel(dir, {
    name: 'grey-nhwc-255',
    channels: 1,
    height: 28,
    width: 40,
    layout: 'NHWC',
    range: [0, 255],
  });
  await writeGenericModel(dir, {
    name: 'rgb-1024',
    channels: 3,
    height: 1024,
    width: 1024,
    layout: 'NCHW',
    range: [0, 1],
  });
  await writeGenericModel(dir, {
    name: 'rgb-noise',
    channels: 3,
    height: 48,
    width: 64,
    layout: 'NCHW',
    range: [0, 1],
    noise: true,
  });
  app = await buildApp(testConfig({ GAN_MODELS_DIR: dir, GAN_DEFAULT_MODEL: 'dcgan' }));
  await app.loadModels();
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
});

const post = (url: string, body: unknown) => app.inject({ method: 'POST', url, ...json(body) });

/** Decoded pixels, and the channels the file itself stores (sharp's raw output of a grey PNG may be RGB). */
async function raw(image: Buffer) {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const { channels } = await sharp(image).metadata();
  return { data, width: info.width, height: info.height, channels };
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function meanDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('PyTorch DCGAN export ([N, 100, 1, 1] → [N, 3, 64, 64], Sigmoid D of [N, 1, 1, 1])', () => {
  it('generates 64×64 RGB PNGs, the same bytes for the same seed', async () => {
    const a = await post('/generate', { model: 'dcgan', seed: 3 });
    expect(a.statusCode).toBe(200);
    expect(a.rawPayload.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const img = await raw(a.rawPayload);
    expect([img.width, img.height, img.channels]).toEqual([64, 64, 3]);
    const b = await post('/generate', { model: 'dcgan', seed: 3 });
    expect(a.rawPayload.equals(b.rawPayload)).toBe(true);
    const c = await post('/generate', { model: 'dcgan', seed: 4 });
    expect(a.rawPayload.equals(c.rawPayload)).toBe(false);
  });

  it('encodes JPEG and WebP, as single images, grids and inside JSON', async () => {
    const jpeg = await post('/generate', { model: 'dcgan', seed: 3, format: 'jpeg', quality: 80 });
    expect(jpeg.statusCode).toBe(200);
    expect(jpeg.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(jpeg.rawPayload).metadata()).format).toBe('jpeg');
    const webp = await post('/generate', { model: 'dcgan', seed: 3, count: 4, columns: 2, format: 'webp' });
    expect(webp.headers['content-type']).toBe('image/webp');
    const meta = await sharp(webp.rawPayload).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 130, 130]);
    const again = await post('/generate', { model: 'dcgan', seed: 3, count: 4, columns: 2, format: 'webp' });
    expect(again.rawPayload.equals(webp.rawPayload)).toBe(true);
    // At quality 100 (4:4:4 chroma) a JPEG of the same pixels stays close to the PNG; quality trades it for size.
    const best = await post('/generate', { model: 'dcgan', seed: 3, format: 'jpeg', quality: 100 });
    const png = await raw((await post('/generate', { model: 'dcgan', seed: 3 })).rawPayload);
    expect(meanDiff(png.data, (await raw(best.rawPayload)).data)).toBeLessThan(3);
    expect(jpeg.rawPayload.length).toBeLessThan(best.rawPayload.length);
    const js = await post('/generate', {
      model: 'dcgan',
      seeds: [1, 2],
      format: 'json',
      imageFormat: 'jpeg',
      quality: 70,
    });
    expect(js.statusCode).toBe(200);
    const images = js.json<{ images: Array<{ seed: number; jpeg?: string; png?: string }> }>().images;
    expect(images.map((i) => i.seed)).toEqual([1, 2]);
    expect(images[0]!.png).toBeUndefined();
    expect((await sharp(Buffer.from(images[0]!.jpeg!, 'base64')).metadata()).format).toBe('jpeg');
  });

  it('refuses quality for PNG and imageFormat outside JSON, naming the field', async () => {
    for (const [body, field] of [
      [{ model: 'dcgan', quality: 50 }, 'quality'],
      [{ model: 'dcgan', imageFormat: 'jpeg' }, 'imageFormat'],
      [{ model: 'dcgan', format: 'bmp' }, 'format'],
    ] as const) {
      const res = await post('/generate', body);
      expect(res.statusCode).toBe(400);
      expect(res.json<{ error: { field: string } }>().error.field).toBe(field);
    }
  });

  it('scores its own samples with the discriminator (probability output of shape [N, 1, 1, 1] and [N])', async () => {
    for (const model of ['dcgan', 'dcgan-grey-flat']) {
      const png = (await post('/generate', { model, seed: 5 })).rawPayload;
      const res = await app.inject({
        method: 'POST',
        url: `/discriminate?model=${model}`,
        headers: { 'content-type': 'image/png' },
        payload: png,
      });
      expect(res.statusCode).toBe(200);
      const [verdict] = res.json<{ results: Array<{ probabilityReal: number; logit: number }> }>().results;
      expect(verdict!.probabilityReal).toBeGreaterThan(0);
      expect(verdict!.probabilityReal).toBeLessThan(1);
      expect(Math.abs(1 / (1 + Math.exp(-verdict!.logit)) - verdict!.probabilityReal)).toBeLessThan(1e-6);
    }
    const grey = await raw((await post('/generate', { model: 'dcgan-grey-flat', seed: 5 })).rawPayload);
    expect(grey.channels).toBe(1);
  });

  it('lists its inputs by role with the shapes it is fed', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/models/dcgan' });
    const info = res.json<{
      networks: { generator: { inputs: Array<{ role: string; shape: unknown[]; dtype: string }> } };
      discriminator: boolean;
      truncation: string;
    }>();
    expect(info.networks.generator.inputs).toEqual([
      { name: 'input', role: 'latent', dtype: 'float32', shape: ['N', 100, 1, 1] },
    ]);
    expect(info.discriminator).toBe(true);
    expect(info.truncation).toBe('z');
  });
});

describe('float16 exports', () => {
  it('match the float32 model within one grey level, converted in the worker', async () => {
    for (const [fp16, fp32] of [
      ['dcgan-fp16', 'dcgan'],
      ['stylegan-fp16', 'stylegan'],
    ]) {
      const seeds = [11, 12, 13, 14];
      const half = await post('/generate', { model: fp16, seeds, count: 4, columns: 4 });
      const full = await post('/generate', { model: fp32, seeds, count: 4, columns: 4 });
      expect(half.statusCode).toBe(200);
      expect(
        maxDiff((await raw(half.rawPayload)).data, (await raw(full.rawPayload)).data),
      ).toBeLessThanOrEqual(1);
    }
    const res = await app.inject({ method: 'GET', url: '/v1/models/dcgan-fp16' });
    expect(
      res.json<{ networks: { generator: { inputs: Array<{ dtype: string }> } } }>().networks.generator
        .inputs[0]!.dtype,
    ).toBe('float16');
  });

  it('scores images with a float16 discriminator like the float32 one', async () => {
    const png = (await post('/generate', { model: 'dcgan', seed: 9 })).rawPayload;
    const score = async (model: string) =>
      (
        await app.inject({
          method: 'POST',
          url: `/discriminate?model=${model}`,
          headers: { 'content-type': 'image/png' },
          payload: png,
        })
      ).json<{ results: Array<{ probabilityReal: number }> }>().results[0]!.probabilityReal;
    expect(Math.abs((await score('dcgan-fp16')) - (await score('dcgan')))).toBeLessThan(2e-3);
  });
});

describe('StyleGAN-style mapping + synthesis', () => {
  it('generates through both networks, the same bytes for the same seed', async () => {
    const a = await post('/generate', { model: 'stylegan', seed: 1 });
    expect(a.statusCode).toBe(200);
    const img = await raw(a.rawPayload);
    expect([img.width, img.height, img.channels]).toEqual([64, 64, 3]);
    expect(a.rawPayload.equals((await post('/generate', { model: 'stylegan', seed: 1 })).rawPayload)).toBe(
      true,
    );
  });

  it('estimates w_avg at load from seeded z and reports it', async () => {
    const info = (await app.inject({ method: 'GET', url: '/v1/models/stylegan' })).json<{
      truncation: string;
      networks: { mapping: { wAvg: { source: string; samples: number }; inputs: unknown[] } };
    }>();
    expect(info.truncation).toBe('w');
    expect(info.networks.mapping.wAvg).toEqual({ source: 'estimated', file: null, samples: 1000 });
    const m = app.runtime.model('stylegan');
    expect(m.wAvg!.data.length).toBe(10 * 512);
  });

  it('reads w_avg from a .npy file when the manifest names one', async () => {
    const m = app.runtime.model('stylegan-wfile');
    expect(m.wAvg!.source).toBe('file');
    expect(Array.from(m.wAvg!.data.subarray(0, 3))).toEqual([0.25, 0.25, 0.25]);
  });

  it('truncates in w space: ψ → 0 draws every seed toward the image of w_avg', async () => {
    const atAvg = await raw(
      (await post('/generate', { model: 'stylegan-wfile', ws: [Array.from(GIVEN_W_AVG)] })).rawPayload,
    );
    const near = await raw(
      (await post('/generate', { model: 'stylegan-wfile', seed: 8, truncation: 0.001 })).rawPayload,
    );
    const far = await raw((await post('/generate', { model: 'stylegan-wfile', seed: 8 })).rawPayload);
    expect(maxDiff(near.data, atAvg.data)).toBeLessThanOrEqual(1);
    expect(meanDiff(far.data, atAvg.data)).toBeGreaterThan(2);
  });

  it('takes ws: the w a seed was mapped to gives back the same image', async () => {
    const js = await post('/generate', { model: 'stylegan', seed: 21, format: 'json', returnLatents: true });
    const [img] = js.json<{ images: Array<{ latent: number[]; w: number[]; png: string }> }>().images;
    expect(img!.latent).toHaveLength(512);
    expect(img!.w).toHaveLength(10 * 512);
    const plain = await post('/generate', { model: 'stylegan', seed: 21, format: 'json' });
    expect(plain.json<{ images: Array<{ png: string }> }>().images[0]!.png).toBe(img!.png);
    const again = await post('/generate', { model: 'stylegan', ws: [img!.w], format: 'json' });
    expect(again.json<{ images: Array<{ png: string }> }>().images[0]!.png).toBe(img!.png);
    // One w (wDim values) is repeated for every layer: the mapping gives the same w to each.
    const one = await post('/generate', { model: 'stylegan', ws: [img!.w.slice(0, 512)], format: 'json' });
    expect(one.json<{ images: Array<{ png: string }> }>().images[0]!.png).toBe(img!.png);
  });

  it('refuses ws of the wrong length, ws with truncation, and ws for a model without mapping', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ model: 'stylegan', ws: [[1, 2, 3]] }, 400, 'ws[0]'],
      [{ model: 'stylegan', ws: [new Array(512).fill(0)], truncation: 0.5 }, 400, 'truncation'],
      [{ model: 'dcgan', ws: [new Array(512).fill(0)] }, 400, 'ws'],
    ];
    for (const [body, status, field] of cases) {
      const res = await post('/generate', body);
      expect(res.statusCode).toBe(status);
      expect(res.json<{ error: { field: string } }>().error.field).toBe(field);
    }
  });

  it('walks in w space: the ends are /generate’s images of the same seeds', async () => {
    const res = await post('/interpolate', {
      model: 'stylegan',
      from: { seed: 1 },
      to: { seed: 2 },
      steps: 3,
      space: 'w',
      method: 'lerp',
      format: 'json',
    });
    expect(res.statusCode).toBe(200);
    const frames = res.json<{ frames: Array<{ png: string; latent: number[] }> }>().frames;
    const first = (await post('/generate', { model: 'stylegan', seed: 1, format: 'json' })).json<{
      images: Array<{ png: string }>;
    }>().images[0]!.png;
    expect(frames[0]!.png).toBe(first);
    expect(frames[1]!.latent).toHaveLength(10 * 512);
    const strip = await post('/interpolate', {
      model: 'stylegan',
      from: { seed: 1 },
      to: { seed: 2 },
      space: 'w',
      format: 'jpeg',
    });
    expect(strip.headers['content-type']).toBe('image/jpeg');
  });
});

describe('generator-only models', () => {
  it('generate, and /discriminate answers 409 naming the model', async () => {
    expect((await post('/generate', { model: 'stylegan-single', seed: 1 })).statusCode).toBe(200);
    const res = await app.inject({
      method: 'POST',
      url: '/discriminate?model=stylegan-single',
      headers: { 'content-type': 'image/png' },
      payload: (await post('/generate', { model: 'stylegan-single', seed: 1 })).rawPayload,
    });
    expect(res.statusCode).toBe(409);
    const err = res.json<{ error: { code: string; message: string; field: string } }>().error;
    expect(err.code).toBe('GAN_ERR_NO_DISCRIMINATOR');
    expect(err.message).toContain("model 'stylegan-single' has no discriminator");
  });

  it('feed ψ to the truncation input of a single-file export, and its constant input', async () => {
    const info = (await app.inject({ method: 'GET', url: '/v1/models/stylegan-single' })).json<{
      truncation: string;
      discriminator: boolean;
      networks: { generator: { inputs: Array<{ name: string; role: string; shape: unknown[] }> } };
    }>();
    expect(info.truncation).toBe('input');
    expect(info.discriminator).toBe(false);
    expect(info.networks.generator.inputs.map((i) => [i.name, i.role, i.shape])).toEqual([
      ['z', 'latent', ['N', 512]],
      ['truncation_psi', 'truncation', []],
      ['noise_mode', 'constant', []],
    ]);
    const a = await raw(
      (await post('/generate', { model: 'stylegan-single', seed: 1, truncation: 0.01 })).rawPayload,
    );
    const b = await raw(
      (await post('/generate', { model: 'stylegan-single', seed: 2, truncation: 0.01 })).rawPayload,
    );
    const c = await raw((await post('/generate', { model: 'stylegan-single', seed: 2 })).rawPayload);
    // ψ 0.01 keeps 1% of what separates two seeds.
    expect(meanDiff(a.data, b.data)).toBeLessThan(meanDiff(b.data, c.data) / 10);
  });
});

describe('BigGAN-style inputs (z, one-hot class, scalar truncation)', () => {
  it('turns label into the one-hot row and needs it', async () => {
    const a = await post('/generate', { model: 'biggan', seed: 1, label: 207 });
    expect(a.statusCode).toBe(200);
    expect([(await raw(a.rawPayload)).width, (await raw(a.rawPayload)).channels]).toEqual([128, 3]);
    const b = await post('/generate', { model: 'biggan', seed: 1, label: 208 });
    expect(a.rawPayload.equals(b.rawPayload)).toBe(false);
    const missing = await post('/generate', { model: 'biggan', seed: 1 });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ error: { field: string } }>().error.field).toBe('label');
    const out = await post('/generate', { model: 'biggan', seed: 1, label: 1000 });
    expect(out.json<{ error: { field: string } }>().error.field).toBe('label');
  });

  it('feeds truncation to its input (default 0.4) instead of scaling z', async () => {
    const byDefault = await post('/generate', { model: 'biggan', seed: 1, label: 3 });
    const explicit = await post('/generate', { model: 'biggan', seed: 1, label: 3, truncation: 0.4 });
    const full = await post('/generate', { model: 'biggan', seed: 1, label: 3, truncation: 1 });
    expect(byDefault.rawPayload.equals(explicit.rawPayload)).toBe(true);
    expect(byDefault.rawPayload.equals(full.rawPayload)).toBe(false);
  });
});

describe('layouts, ranges and sizes', () => {
  it('serves an NHWC [0, 255] grey 40×28 model', async () => {
    const img = await raw((await post('/generate', { model: 'grey-nhwc-255', seed: 1 })).rawPayload);
    expect([img.width, img.height, img.channels]).toEqual([40, 28, 1]);
    expect(Math.max(...img.data) - Math.min(...img.data)).toBeGreaterThan(20);
  });

  it('feeds a seeded noise input drawn once: the same seed gives the same bytes', async () => {
    const a = await post('/generate', { model: 'rgb-noise', seed: 1 });
    expect(a.statusCode).toBe(200);
    const img = await raw(a.rawPayload);
    expect([img.width, img.height, img.channels]).toEqual([64, 48, 3]);
    expect(a.rawPayload.equals((await post('/generate', { model: 'rgb-noise', seed: 1 })).rawPayload)).toBe(
      true,
    );
    const info = (await app.inject({ method: 'GET', url: '/v1/models/rgb-noise' })).json<{
      networks: { generator: { inputs: Array<{ role: string; shape: unknown[] }> } };
    }>();
    expect(info.networks.generator.inputs[1]).toEqual({
      name: 'noise',
      role: 'noise',
      dtype: 'float32',
      shape: [1, 48, 64],
    });
  });

  it('serves 1024×1024; pixels, not counts, bound a request and a batch', async () => {
    const res = await post('/generate', { model: 'rgb-1024', seed: 1, format: 'jpeg' });
    expect(res.statusCode).toBe(200);
    const meta = await sharp(res.rawPayload).metadata();
    expect([meta.width, meta.height]).toEqual([1024, 1024]);
    const tooMany = await post('/generate', { model: 'rgb-1024', seed: 1, count: 17, format: 'jpeg' });
    expect(tooMany.statusCode).toBe(413);
    const err = tooMany.json<{ error: { field: string; message: string } }>().error;
    expect(err.field).toBe('count');
    expect(err.message).toContain('16777216');
    // GAN_MAX_BATCH_PIXELS (4,194,304 by default) ÷ 1024² = 4 images per onnxruntime run: 6 images take 2 runs.
    const runs = async () => {
      const metric = await app.metrics.execCount.get();
      return (
        metric.values.find((v) => v.labels.model === 'rgb-1024' && v.labels.network === 'generator')?.value ??
        0
      );
    };
    const before = await runs();
    const six = await post('/generate', { model: 'rgb-1024', seed: 1, count: 6, format: 'jpeg', columns: 3 });
    expect(six.statusCode).toBe(200);
    expect((await runs()) - before).toBe(2);
  });
});

describe('the v2 protocol over every family', () => {
  const infer = (name: string, body: unknown) => post(`/v2/models/${name}/infer`, body);
  const z = (rows: number, dim: number) => Array.from({ length: rows * dim }, (_, i) => Math.sin(i));

  it('lists only the generator of a generator-only model, with every input of the export', async () => {
    expect(
      (await app.inject({ method: 'GET', url: '/v2/models/stylegan-single-discriminator' })).statusCode,
    ).toBe(404);
    const meta = (await app.inject({ method: 'GET', url: '/v2/models/stylegan-single-generator' })).json<{
      inputs: Array<{ name: string; datatype: string; shape: number[] }>;
    }>();
    expect(meta.inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([
      ['z', 'FP32', [-1, 512]],
      ['truncation_psi', 'FP32', []],
      ['noise_mode', 'INT64', []],
    ]);
  });

  it('fills the inputs a client leaves out (constants, noise, a truncation default) and feeds given scalars whole', async () => {
    const plain = await infer('stylegan-single-generator', {
      inputs: [{ name: 'z', datatype: 'FP32', shape: [2, 512], data: z(2, 512) }],
    });
    expect(plain.statusCode).toBe(200);
    const out = plain.json<{ outputs: Array<{ name: string; shape: number[]; data: number[] }> }>()
      .outputs[0]!;
    expect(out.shape).toEqual([2, 3, 64, 64]);
    const truncated = await infer('stylegan-single-generator', {
      inputs: [
        { name: 'z', datatype: 'FP32', shape: [2, 512], data: z(2, 512) },
        { name: 'truncation_psi', datatype: 'FP32', shape: [], data: [0.5] },
      ],
    });
    expect(truncated.statusCode).toBe(200);
    const t = truncated.json<{ outputs: Array<{ data: number[] }> }>().outputs[0]!;
    expect(t.data).not.toEqual(out.data);
    const biggan = await infer('biggan-generator', {
      inputs: [
        { name: 'z', datatype: 'FP32', shape: [1, 128], data: z(1, 128) },
        {
          name: 'y',
          datatype: 'FP32',
          shape: [1, 1000],
          data: Array.from({ length: 1000 }, (_, i) => (i === 7 ? 1 : 0)),
        },
      ],
    });
    expect(biggan.statusCode).toBe(200);
  });

  it('takes and returns FP16 for a float16 export, and 4-D latents for a PyTorch DCGAN', async () => {
    const meta = (await app.inject({ method: 'GET', url: '/v2/models/dcgan-fp16-generator' })).json<{
      inputs: Array<{ datatype: string; shape: number[] }>;
      outputs: Array<{ datatype: string }>;
    }>();
    expect(meta.inputs[0]).toMatchObject({ datatype: 'FP16', shape: [-1, 100, 1, 1] });
    const res = await infer('dcgan-fp16-generator', {
      inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 100, 1, 1], data: z(1, 100) }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ outputs: Array<{ shape: number[] }> }>().outputs[0]!.shape).toEqual([1, 3, 64, 64]);
  });
});
