/**
 * What the one command promises: ONNX files shaped like the public exports, imported with `npm run import`'s library
 * and no hand-written manifest, then served by the real app through every route that applies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importModel } from '../../../scripts/import/import-model.ts';
import {
  bigganGenerator,
  pytorchDcganDiscriminator,
  pytorchDcganGenerator,
  styleganMapping,
  styleganSingleFile,
  styleganSynthesis,
  writeOnnx,
} from '../../../scripts/onnx/families.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { json } from '../../helpers/app.ts';

let dir: string;
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gan-imported-'));
  const files = join(dir, 'exports');
  const models = join(dir, 'models');
  const write = (name: string, bytes: Uint8Array) => writeOnnx(files, name, bytes);
  await importModel({
    generator: await write('dcgan-g.onnx', pytorchDcganGenerator({ dtype: 'float16' })),
    discriminator: await write('dcgan-d.onnx', pytorchDcganDiscriminator({ dtype: 'float16' })),
    name: 'dcgan',
    modelsDir: models,
  });
  await importModel({
    mapping: await write('map.onnx', styleganMapping({ numWs: 10 })),
    generator: await write('syn.onnx', styleganSynthesis({ numWs: 10, resolution: 64 })),
    name: 'stylegan',
    modelsDir: models,
  });
  await importModel({
    generator: await write('single.onnx', styleganSingleFile({ resolution: 32, truncationInput: true })),
    name: 'single',
    modelsDir: models,
  });
  await importModel({
    generator: await write('biggan.onnx', bigganGenerator({ resolution: 64 })),
    name: 'biggan',
    modelsDir: models,
  });
  app = await buildApp(testConfig({ GAN_MODELS_DIR: models, GAN_DEFAULT_MODEL: 'dcgan' }));
  await app.loadModels();
}, 180_000);

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (url: string, body: unknown) => app.inject({ method: 'POST', url, ...json(body) });

describe('imported models serve', () => {
  it.each([
    ['dcgan', {}, [64, 64, 3]],
    ['stylegan', { truncation: 0.7 }, [64, 64, 3]],
    ['single', { truncation: 0.5 }, [32, 32, 3]],
    ['biggan', { label: 3 }, [64, 64, 3]],
  ] as const)(
    '%s: /generate in PNG and JPEG at its size, the same bytes for the same seed',
    async (model, extra, size) => {
      const a = await post('/generate', { model, seed: 4, ...extra });
      expect(a.statusCode, a.body).toBe(200);
      const meta = await sharp(a.rawPayload).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual(size);
      expect((await post('/generate', { model, seed: 4, ...extra })).rawPayload.equals(a.rawPayload)).toBe(
        true,
      );
      const jpeg = await post('/generate', { model, seed: 4, format: 'jpeg', ...extra });
      expect(jpeg.headers['content-type']).toBe('image/jpeg');
      const walk = await post('/interpolate', {
        model,
        from: { seed: 1 },
        to: { seed: 2 },
        steps: 3,
        ...extra,
      });
      expect(walk.statusCode, walk.body).toBe(200);
    },
  );

  it('the imported float16 DCGAN scores its own samples; generator-only imports refuse /discriminate', async () => {
    const png = (await post('/generate', { model: 'dcgan', seed: 1 })).rawPayload;
    const scored = await app.inject({
      method: 'POST',
      url: '/discriminate?model=dcgan',
      headers: { 'content-type': 'image/png' },
      payload: png,
    });
    expect(scored.statusCode).toBe(200);
    const refused = await app.inject({
      method: 'POST',
      url: '/discriminate?model=single',
      headers: { 'content-type': 'image/png' },
      payload: png,
    });
    expect(refused.statusCode).toBe(409);
    const info = (await app.inject('/v1/models/stylegan')).json<{ truncation: string }>();
    expect(info.truncation).toBe('w');
  });
});
