import { rm } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDcganModel } from '../../../scripts/onnx/family-models.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { encodePng } from '../../../src/imaging/codec.ts';
import { codeOfRow } from '../../../src/latent/code.ts';
import { latentForSeed } from '../../../src/latent/random-state.ts';
import { generatePixels } from '../../../src/services/images.ts';
import { candidateSeed } from '../../../src/services/rejection.ts';
import { json, PNG_SIGNATURE, startTestApp, type TestApp, tempDir } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const generate = (body: unknown) => t.app.inject({ method: 'POST', url: '/generate', ...json(body) });

async function size(png: Buffer) {
  const m = await sharp(png).metadata();
  return [m.width, m.height, m.channels];
}

describe('POST /generate', () => {
  it('returns one PNG for a seed, with model and seed headers', async () => {
    const res = await generate({ seed: 42 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['x-model']).toBe('tiny');
    expect(res.headers['x-seeds']).toBe('42');
    expect(res.rawPayload.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(await size(res.rawPayload)).toEqual([28, 28, 1]);
  });

  it('gives byte-identical PNGs for the same seed and different ones for another', async () => {
    const a = await generate({ seed: 7 });
    const b = await generate({ seed: 7 });
    const c = await generate({ seed: 8 });
    expect(a.rawPayload.equals(b.rawPayload)).toBe(true);
    expect(a.rawPayload.equals(c.rawPayload)).toBe(false);
  });

  it('maps a seed to NumPy RandomState(seed).randn(latentDim): the same latent gives the same image', async () => {
    const bySeed = await generate({ seed: 42 });
    const byLatent = await generate({ latents: [Array.from(latentForSeed(42, 16))] });
    expect(byLatent.statusCode).toBe(200);
    expect(byLatent.headers['x-seeds']).toBeUndefined();
    expect(byLatent.rawPayload.equals(bySeed.rawPayload)).toBe(true);
  });

  it('applies truncation as z ← ψ·z', async () => {
    const truncated = await generate({ seed: 3, truncation: 0.5 });
    const scaled = await generate({ latents: [Array.from(latentForSeed(3, 16), (v) => v * 0.5)] });
    expect(truncated.rawPayload.equals(scaled.rawPayload)).toBe(true);
    expect(truncated.rawPayload.equals((await generate({ seed: 3 })).rawPayload)).toBe(false);
  });

  it('tiles several images into a grid with columns, and upscales', async () => {
    const res = await generate({ seed: 1, count: 6, columns: 3, scale: 2 });
    expect(res.headers['x-seeds']).toBe('1,2,3,4,5,6');
    // 3 columns × 2 rows of 28 px tiles with 2 px gaps, then ×2
    expect(await size(res.rawPayload)).toEqual([(3 * 28 + 2 * 2) * 2, (2 * 28 + 2) * 2, 1]);
    const single = await generate({ seed: 1, scale: 4 });
    expect(await size(single.rawPayload)).toEqual([112, 112, 1]);
  });

  it('draws fresh seeds when none are given and reports them so the image can be reproduced', async () => {
    const res = await generate({});
    const seed = Number(res.headers['x-seeds']);
    expect(Number.isInteger(seed)).toBe(true);
    expect((await generate({ seed })).rawPayload.equals(res.rawPayload)).toBe(true);
  });

  it('returns JSON with one PNG per seed, and latents on request', async () => {
    const res = await generate({ seeds: [5, 9], format: 'json', returnLatents: true });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      model: string;
      images: Array<{ seed: number; png: string; latent: number[] }>;
    }>();
    expect(body.model).toBe('tiny');
    expect(body.images.map((i) => i.seed)).toEqual([5, 9]);
    const png = Buffer.from(body.images[1]!.png, 'base64');
    expect(png.equals((await generate({ seed: 9 })).rawPayload)).toBe(true);
    expect(body.images[0]!.latent).toEqual(Array.from(latentForSeed(5, 16)));
  });

  it('generates a requested class with a conditional model', async () => {
    const three = await generate({ model: 'tiny-conditional', seed: 4, label: 3 });
    const seven = await generate({ model: 'tiny-conditional', seed: 4, label: 7 });
    expect(three.statusCode).toBe(200);
    expect(three.rawPayload.equals(seven.rawPayload)).toBe(false);
    const perImage = await generate({
      model: 'tiny-conditional',
      seeds: [4, 4],
      labels: [3, 7],
      format: 'json',
    });
    const images = perImage.json<{ images: Array<{ png: string; label: number }> }>().images;
    expect(images.map((i) => i.label)).toEqual([3, 7]);
    expect(Buffer.from(images[0]!.png, 'base64').equals(three.rawPayload)).toBe(true);
  });

  it('splits a request larger than the batch limit and keeps the order', async () => {
    const res = await generate({ seed: 10, count: 256, format: 'json' });
    const images = res.json<{ images: Array<{ seed: number; png: string }> }>().images;
    expect(images).toHaveLength(256);
    expect(images[200]!.seed).toBe(210);
    expect(Buffer.from(images[200]!.png, 'base64').equals((await generate({ seed: 210 })).rawPayload)).toBe(
      true,
    );
  });
});

describe('POST /generate rejects bad input with a 4xx naming the field', () => {
  const long = new Array(16).fill(0);
  it.each([
    ['count 0', { count: 0 }, 400, 'count'],
    ['count 257', { count: 257 }, 400, 'count'],
    ['fractional count', { count: 1.5 }, 400, 'count'],
    ['negative seed', { seed: -1 }, 400, 'seed'],
    ['fractional seed', { seed: 1.5 }, 400, 'seed'],
    ['seed over uint32', { seed: 2 ** 32 }, 400, 'seed'],
    ['string seed', { seed: '42' }, 400, 'seed'],
    ['seed and latents', { seed: 1, latents: [long] }, 400, 'latents'],
    ['seeds and a different count', { seeds: [1, 2], count: 3 }, 400, 'count'],
    ['latent of the wrong length', { latents: [[1, 2, 3]] }, 400, 'latents[0]'],
    ['huge latent value', { latents: [[1e308, ...long.slice(1)]] }, 400, 'latents[0][0]'],
    ['nested latent', { latents: [[[1], ...long.slice(1)]] }, 400, 'latents[0][0]'],
    ['ragged latents', { latents: [long, [1]] }, 400, 'latents[1]'],
    ['truncation 0', { truncation: 0 }, 400, 'truncation'],
    ['truncation 1.5', { truncation: 1.5 }, 400, 'truncation'],
    ['scale 17', { scale: 17 }, 400, 'scale'],
    ['unknown format', { format: 'gif' }, 400, 'format'],
    ['unknown field', { seed: 1, colour: 'red' }, 400, ''],
    ['unknown model', { model: 'nope' }, 404, 'model'],
    ['path in model name', { model: '../../etc/passwd' }, 400, 'model'],
    ['label on an unconditional model', { label: 1 }, 400, 'label'],
    ['conditional model without label', { model: 'tiny-conditional' }, 400, 'label'],
    ['label out of range', { model: 'tiny-conditional', labels: [1, 10], count: 2 }, 400, 'labels[1]'],
    ['labels of the wrong length', { model: 'tiny-conditional', labels: [1], count: 2 }, 400, 'labels'],
    ['an array body', [1, 2], 400, ''],
  ])('%s', async (_name, body, status, field) => {
    const res = await generate(body);
    expect(res.statusCode).toBe(status);
    const err = res.json<{ error: { code: string; message: string; field?: string } }>().error;
    expect(err.code).toMatch(/^GAN_ERR_/);
    expect(err.message.length).toBeGreaterThan(0);
    if (field) expect(err.field).toBe(field);
  });

  it('rejects malformed JSON, an empty body and a wrong content type', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json' },
      payload: '{"seed":',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('GAN_ERR_VALIDATION');
    const empty = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    const text = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'text/plain' },
      payload: 'seed=1',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('GAN_ERR_UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('POST /generate: PNGs encoded by the inference worker', () => {
  let big: TestApp;
  beforeAll(async () => {
    big = await startTestApp({
      models: [{}, { name: 'wide', width: 128, height: 128, channels: 3 }],
    });
  });
  afterAll(async () => {
    await big.close();
  });

  /** What the main thread's encoder makes of the same seeds' pixels. */
  async function reference(app: TestApp, modelName: string, seeds: number[], scale: number) {
    const model = app.app.runtime.model(modelName);
    const { width, height, channels } = model.manifest.image;
    const dim = model.manifest.latentDim;
    const latents = new Float32Array(seeds.length * dim);
    seeds.forEach((s, i) => {
      latents.set(latentForSeed(s, dim), i * dim);
    });
    const pixels = await generatePixels(app.app.runtime, model, { latents, labels: null });
    const per = width * height * channels;
    return Promise.all(
      seeds.map((_, i) =>
        encodePng({ data: pixels.subarray(i * per, (i + 1) * per), width, height, channels }, scale),
      ),
    );
  }

  it.each([1, 3, 16])(
    'are byte-identical to the main thread encoder at scale %i (PNG and JSON)',
    async (scale) => {
      const [one, two] = await reference(big, 'tiny', [5, 6], scale);
      const single = await big.app.inject({
        method: 'POST',
        url: '/generate',
        ...json({ model: 'tiny', seed: 5, scale }),
      });
      expect(single.rawPayload.equals(one!)).toBe(true);
      const res = await big.app.inject({
        method: 'POST',
        url: '/generate',
        ...json({ model: 'tiny', seeds: [5, 6], scale, format: 'json' }),
      });
      const images = res.json().images as Array<{ png: string }>;
      expect(Buffer.from(images[0]!.png, 'base64').equals(one!)).toBe(true);
      expect(Buffer.from(images[1]!.png, 'base64').equals(two!)).toBe(true);
    },
  );

  it('leaves images too large for the worker (over 4 MiB of scanlines) to sharp on the main thread', async () => {
    const [expected] = await reference(big, 'wide', [9], 16);
    const res = await big.app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ model: 'wide', seed: 9, scale: 16 }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(expected!)).toBe(true);
    expect(await size(res.rawPayload)).toEqual([2048, 2048, 3]);
  });
});

describe('POST /generate with a model that reads a code from z', () => {
  let coded: TestApp;
  beforeAll(async () => {
    coded = await startTestApp({ models: [{}, { name: 'tiny-coded', latentCode: 4 }] });
  });
  afterAll(async () => {
    await coded.close();
  });
  const post = (body: unknown) => coded.app.inject({ method: 'POST', url: '/generate', ...json(body) });
  type CodedImage = { seed: number; code: number; latent: number[] };

  it("reports each image's code, and sets it on request by a swap that keeps the seed's values", async () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const drawn = await post({ model: 'tiny-coded', seeds, format: 'json', returnLatents: true });
    expect(drawn.statusCode).toBe(200);
    const natural = drawn.json<{ images: CodedImage[] }>().images;
    natural.forEach((img, i) => {
      expect(img.code).toBe(codeOfRow(latentForSeed(seeds[i]!, 16), 0, 4));
    });
    const res = await post({ model: 'tiny-coded', seeds, code: 2, format: 'json', returnLatents: true });
    const images = res.json<{ images: CodedImage[] }>().images;
    images.forEach((img, i) => {
      expect(img.code).toBe(2);
      expect(codeOfRow(Float32Array.from(img.latent), 0, 4)).toBe(2);
      const sorted = (v: ArrayLike<number>) => Array.from(v).sort((a, b) => a - b);
      expect(sorted(img.latent)).toEqual(sorted(latentForSeed(seeds[i]!, 16)));
      if (natural[i]!.code === 2) expect(img.latent).toEqual(natural[i]!.latent); // nothing to move
    });
    const models = await coded.app.inject({ method: 'GET', url: '/v1/models/tiny-coded' });
    expect(models.json<{ latentCode: unknown }>().latentCode).toEqual({ categories: 4, supervised: false });
  });

  it('sets the code of hand-made latents too (all zeros ties every entry), and of every image in a grid', async () => {
    const zeros = new Array(16).fill(0);
    const res = await post({
      model: 'tiny-coded',
      latents: [zeros],
      code: 3,
      format: 'json',
      returnLatents: true,
    });
    const image = res.json<{ images: CodedImage[] }>().images[0]!;
    expect(image.code).toBe(3);
    expect(image.latent.filter((v) => v !== 0)).toHaveLength(1); // only the target was raised, by one float32 step
    const grid = await post({ model: 'tiny-coded', seed: 5, count: 4, code: 1, truncation: 0.5 });
    expect(grid.statusCode).toBe(200);
    expect(grid.headers['x-code']).toBe('1');
    expect(grid.headers['x-seeds']).toBe('5,6,7,8');
    expect((await post({ model: 'tiny-coded', seed: 5 })).headers['x-code']).toBeUndefined();
  });

  it.each([
    ['a code on a model without one', { model: 'tiny', code: 1 }],
    ['a code past the categories', { model: 'tiny-coded', code: 4 }],
    ['a negative code', { model: 'tiny-coded', code: -1 }],
    ['a fractional code', { model: 'tiny-coded', code: 1.5 }],
  ])('rejects %s with a 400 naming code', async (_name, body) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { field?: string } }>().error.field).toBe('code');
  });
});

describe('POST /generate with rejection sampling', () => {
  type Kept = {
    seed: number;
    label?: number;
    png: string;
    rejection: {
      requestedSeed: number;
      candidate: number;
      logit: number;
      score: number;
      acceptance: number | null;
      chosenBy: 'acceptance' | 'best';
    };
  };
  type KeptBody = {
    images: Kept[];
    rejection: { method: string; oversample: number; candidates: number; gamma: number | null };
  };

  /** The discriminator's logits of PNGs, through POST /discriminate. */
  async function logitsOf(model: string, pngs: string[], labels?: number[]): Promise<number[]> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...json({ model, images: pngs, ...(labels ? { labels } : {}) }),
    });
    expect(res.statusCode).toBe(200);
    return res.json<{ results: Array<{ logit: number }> }>().results.map((r) => r.logit);
  }

  it.each(['top-k', 'drs'] as const)(
    '%s: the same request gives the same bytes, and reports what it cost',
    async (method) => {
      const body = { seed: 20, count: 6, rejection: { method, oversample: 4 } };
      const a = await generate(body);
      const b = await generate(body);
      expect(a.statusCode).toBe(200);
      expect(a.rawPayload.equals(b.rawPayload)).toBe(true);
      expect(a.headers['x-oversample']).toBe('4');
      const candidates = Number(a.headers['x-candidates']);
      if (method === 'top-k') expect(candidates).toBe(24);
      else expect(candidates >= 6 && candidates <= 24).toBe(true);
      // x-seeds lists the kept candidates; a grid of those seeds without rejection is the same picture
      const seeds = String(a.headers['x-seeds']).split(',').map(Number);
      expect(seeds).toHaveLength(6);
      expect((await generate({ seeds })).rawPayload.equals(a.rawPayload)).toBe(true);
      // the same images come back inside a larger request: each image depends on its own seed only
      const wider = await generate({
        seed: 20,
        count: 8,
        format: 'json',
        rejection: { method, oversample: 4 },
      });
      expect(
        wider
          .json<KeptBody>()
          .images.slice(0, 6)
          .map((i) => i.seed),
      ).toEqual(seeds);
    },
  );

  it("top-k keeps each image's best-scored candidate: its D logit is at least every rejected one's", async () => {
    const res = await generate({
      seeds: [3, 77],
      format: 'json',
      rejection: { method: 'top-k', oversample: 6 },
    });
    const body = res.json<KeptBody>();
    expect(body.rejection).toMatchObject({ method: 'top-k', oversample: 6, candidates: 12, gamma: null });
    for (const image of body.images) {
      const { requestedSeed, candidate, logit } = image.rejection;
      // every candidate of this image, generated without rejection and scored by /discriminate
      const all = await generate({
        seeds: Array.from({ length: 6 }, (_, j) => candidateSeed(requestedSeed, j)),
        format: 'json',
      });
      const pngs = all.json<{ images: Array<{ png: string }> }>().images.map((i) => i.png);
      const logits = await logitsOf('tiny', pngs);
      expect(image.seed).toBe(candidateSeed(requestedSeed, candidate));
      expect(image.png).toBe(pngs[candidate]);
      expect(logit).toBeCloseTo(logits[candidate]!, 5);
      for (const other of logits) expect(logit).toBeGreaterThanOrEqual(other - 1e-6);
    }
  });

  it("the kept seed regenerates the same PNG without rejection, also for a conditional model's labels", async () => {
    const res = await generate({
      model: 'tiny-conditional',
      seed: 400,
      count: 5,
      labels: [0, 1, 2, 3, 4],
      format: 'json',
      rejection: { method: 'drs', oversample: 8 },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<KeptBody>();
    expect(body.rejection.gamma).not.toBeNull();
    for (const [i, image] of body.images.entries()) {
      expect(image.label).toBe(i);
      expect(image.rejection.requestedSeed).toBe(400 + i);
      const plain = await generate({ model: 'tiny-conditional', seed: image.seed, label: i });
      expect(Buffer.from(image.png, 'base64').equals(plain.rawPayload)).toBe(true);
      if (image.rejection.chosenBy === 'acceptance') expect(image.rejection.acceptance).toBeGreaterThan(0);
    }
  });

  it('oversample 1 keeps the requested seeds themselves', async () => {
    const res = await generate({ seed: 5, count: 3, rejection: { method: 'top-k', oversample: 1 } });
    expect(res.headers['x-seeds']).toBe('5,6,7');
    expect(res.headers['x-candidates']).toBe('3');
    expect(res.rawPayload.equals((await generate({ seed: 5, count: 3 })).rawPayload)).toBe(true);
  });

  it('counts candidates in gan_rejection_candidates_total, accepted and rejected', async () => {
    const read = async () => {
      const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const value = (outcome: string) =>
        Number(
          text.match(
            new RegExp(`^gan_rejection_candidates_total\\{model="tiny",outcome="${outcome}"\\} (\\S+)$`, 'm'),
          )?.[1] ?? 0,
        );
      return { accepted: value('accepted'), rejected: value('rejected') };
    };
    const before = await read();
    await generate({ seed: 900, count: 4, rejection: { method: 'top-k', oversample: 3 } });
    const after = await read();
    expect(after.accepted - before.accepted).toBe(4);
    expect(after.rejected - before.rejected).toBe(8);
  });

  it.each([
    ['oversample 0', { method: 'top-k', oversample: 0 }, 'rejection.oversample'],
    ['oversample past the schema', { method: 'top-k', oversample: 65 }, 'rejection.oversample'],
    ['oversample past GAN_MAX_OVERSAMPLE (8)', { method: 'drs', oversample: 9 }, 'rejection.oversample'],
    ['fractional oversample', { method: 'top-k', oversample: 2.5 }, 'rejection.oversample'],
    ['unknown method', { method: 'best', oversample: 2 }, 'rejection.method'],
    ['no method', { oversample: 2 }, 'rejection.method'],
    ['gamma with top-k', { method: 'top-k', oversample: 2, gamma: 1 }, 'rejection.gamma'],
    ['gamma out of range', { method: 'drs', oversample: 2, gamma: 1e9 }, 'rejection.gamma'],
    ['unknown key', { method: 'drs', oversample: 2, keep: 1 }, 'rejection.keep'],
  ])('rejects %s with a 400 naming the field', async (_name, rejection, field) => {
    const res = await generate({ seed: 1, rejection });
    expect(res.statusCode).toBe(400);
    const err = res.json<{ error: { code: string; field: string } }>().error;
    expect(err.code).toBe('GAN_ERR_VALIDATION');
    expect(err.field).toBe(field);
  });

  it('rejects rejection with latents (it draws from seeds), and candidates past the pixel budget', async () => {
    const latents = await generate({
      latents: [new Array(16).fill(0)],
      rejection: { method: 'top-k', oversample: 2 },
    });
    expect(latents.statusCode).toBe(400);
    expect(latents.json().error.field).toBe('rejection');
    // 256 images × 8 candidates × 784 pixels is past a budget of 1,000,000 pixels that 256 images alone fit
    const small = await startTestApp({ config: { GAN_MAX_REQUEST_PIXELS: '1000000' } });
    try {
      const res = await small.app.inject({
        method: 'POST',
        url: '/generate',
        ...json({ seed: 1, count: 256, rejection: { method: 'top-k', oversample: 8 } }),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.field).toBe('rejection.oversample');
    } finally {
      await small.close();
    }
  });

  it('answers 409 naming rejection for a generator-only model', async () => {
    const dir = await tempDir('gan-generator-only-');
    await writeDcganModel(dir, { name: 'generator-only', discriminator: false });
    const app = await buildApp(testConfig({ GAN_MODELS_DIR: dir }));
    try {
      await app.loadModels();
      await app.ready();
      const post = (body: unknown) => app.inject({ method: 'POST', url: '/generate', ...json(body) });
      expect((await post({ seed: 1 })).statusCode).toBe(200);
      const res = await post({ seed: 1, rejection: { method: 'drs', oversample: 2 } });
      expect(res.statusCode).toBe(409);
      const err = res.json<{ error: { code: string; message: string; field: string } }>().error;
      expect(err.code).toBe('GAN_ERR_NO_DISCRIMINATOR');
      expect(err.field).toBe('rejection');
      expect(err.message).toContain("model 'generator-only' has no discriminator");
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
