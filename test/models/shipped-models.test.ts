/**
 * The committed models end to end through the real app: every model in models/ loads, generates reproducible
 * 28×28 images and scores them; the conditional model draws the digit it is asked for.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { testConfig } from '../../src/config.ts';
import { json } from '../helpers/app.ts';

const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));
const SHIPPED = ['fashion-mnist-dcgan', 'mnist-acgan', 'mnist-dcgan'];
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildApp(testConfig({ GAN_MODELS_DIR: MODELS_DIR, GAN_DEFAULT_MODEL: 'mnist-dcgan' }));
  await app.loadModels();
});
afterAll(async () => {
  await app.close();
});

const generate = (body: unknown) => app.inject({ method: 'POST', url: '/generate', ...json(body) });

describe('shipped models', () => {
  it('are all served, with their classifiers, on the CPU provider', async () => {
    const body = (await app.inject('/v1/models')).json<{
      default: string;
      models: Array<{
        name: string;
        ready: boolean;
        diagnostics: boolean;
        latentDim: number;
        executionProvider: { generator: string };
      }>;
    }>();
    expect(body.default).toBe('mnist-dcgan');
    expect(body.models.map((m) => m.name)).toEqual(SHIPPED);
    for (const m of body.models) {
      expect(m.ready).toBe(true);
      expect(m.diagnostics).toBe(true);
      expect(m.latentDim).toBe(100);
      expect(m.executionProvider.generator).toBe('cpu');
    }
  });

  it.each(SHIPPED)('%s: the same seed gives the same 28×28 greyscale PNG, and it is scored', async (name) => {
    const label = name === 'mnist-acgan' ? { label: 4 } : {};
    const a = await generate({ model: name, seed: 42, ...label });
    const b = await generate({ model: name, seed: 42, ...label });
    expect(a.statusCode).toBe(200);
    expect(a.rawPayload.equals(b.rawPayload)).toBe(true);
    const meta = await sharp(a.rawPayload).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([28, 28, 1]);
    // Not blank: a trained generator draws strokes on a dark background.
    const stats = await sharp(a.rawPayload).stats();
    expect(stats.channels[0]!.max).toBeGreaterThan(200);
    expect(stats.channels[0]!.mean).toBeLessThan(128);
    const verdict = await app.inject({
      method: 'POST',
      url: `/discriminate?model=${name}`,
      headers: { 'content-type': 'image/png' },
      payload: a.rawPayload,
    });
    const p = verdict.json<{ results: Array<{ probabilityReal: number }> }>().results[0]!.probabilityReal;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
  });

  it('mnist-acgan draws the requested digit (judged by the MNIST classifier)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/mnist-acgan/diagnostics',
      ...json({ samples: 200, seed: 0 }),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ labelAgreement: { overall: number } }>();
    expect(body.labelAgreement.overall).toBeGreaterThan(0.9);
  });

  it('fashion-mnist-dcgan takes z alone, and its label-tied code picks the garment', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/fashion-mnist-dcgan/diagnostics',
      ...json({ samples: 500, seed: 0 }),
    });
    const body = res.json<{ conditional: boolean; code: { supervised: boolean; agreement: number } }>();
    expect(body.conditional).toBe(false);
    expect(body.code.supervised).toBe(true);
    expect(body.code.agreement).toBeGreaterThan(0.85); // 0.960 on 10,000 samples
  });

  it('mnist-dcgan reads an unsupervised 10-way code from z: /generate sets it, diagnostics measure its purity', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/models/mnist-dcgan/diagnostics',
      ...json({ samples: 500, seed: 0 }),
    });
    const code = res.json<{ code: { categories: number; purity: number; agreement: null } }>().code;
    expect(code).toMatchObject({ categories: 10, supervised: false, agreement: null });
    expect(code.purity).toBeGreaterThan(0.4); // 0.566 on 10,000 samples; codes blind to the digit score far less
    const images = await app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ model: 'mnist-dcgan', seeds: [0, 1, 2], code: 7, format: 'json', returnLatents: true }),
    });
    type Coded = { code: number; png: string; latent: number[] };
    const coded = images.json<{ images: Coded[] }>().images;
    expect(coded.map((i) => i.code)).toEqual([7, 7, 7]);
    // The code only rearranges z: the returned latent, sent back without a code, draws the same image.
    const again = await app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ model: 'mnist-dcgan', latents: coded.map((i) => i.latent), format: 'json' }),
    });
    const back = again.json<{ images: Coded[] }>().images;
    expect(back.map((i) => i.png)).toEqual(coded.map((i) => i.png));
    expect(back.map((i) => i.code)).toEqual([7, 7, 7]);
  });
});
