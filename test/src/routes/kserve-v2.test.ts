import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { latentForSeed } from '../../../src/latent/random-state.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { json, startTestApp, type TestApp, tempDir } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const infer = (name: string, body: unknown) =>
  t.app.inject({ method: 'POST', url: `/v2/models/${name}/infer`, ...json(body) });

interface InferResponse {
  model_name: string;
  id?: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
}

describe('KServe v2: health and metadata', () => {
  it('answers live, ready and server metadata', async () => {
    expect((await t.app.inject('/v2/health/live')).json()).toEqual({ live: true });
    expect((await t.app.inject('/v2/health/ready')).json()).toEqual({ ready: true });
    expect((await t.app.inject('/v2')).json()).toMatchObject({ name: 'gan-serve', extensions: [] });
  });

  it('describes each network as a v2 model with its ONNX tensors', async () => {
    const g = (await t.app.inject('/v2/models/tiny-conditional-generator')).json();
    expect(g).toMatchObject({
      name: 'tiny-conditional-generator',
      platform: 'onnxruntime_onnx',
      inputs: expect.arrayContaining([
        { name: 'z', datatype: 'FP32', shape: [-1, 16] },
        { name: 'label', datatype: 'INT32', shape: [-1] },
      ]),
      outputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
    });
    expect((await t.app.inject('/v2/models/tiny-discriminator/ready')).json()).toEqual({
      name: 'tiny-discriminator',
      ready: true,
    });
  });

  it('uses the protocol error body for unknown models', async () => {
    for (const url of ['/v2/models/tiny/ready', '/v2/models/nope-generator', '/v2/models/tiny-encoder']) {
      const res = await t.app.inject(url);
      expect(res.statusCode).toBe(404);
      expect(Object.keys(res.json())).toEqual(['error']);
      expect(typeof res.json().error).toBe('string');
    }
  });
});

describe('KServe v2: infer', () => {
  it('runs the generator on JSON tensors, matching /generate for the same latent', async () => {
    const z = Array.from(latentForSeed(42, 16));
    const res = await infer('tiny-generator', {
      id: 'req-1',
      inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', data: [...z, ...z] }],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<InferResponse>();
    expect(body.model_name).toBe('tiny-generator');
    expect(body.id).toBe('req-1');
    const out = body.outputs[0]!;
    expect(out).toMatchObject({ name: 'image', datatype: 'FP32', shape: [2, 28, 28, 1] });
    expect(out.data).toHaveLength(2 * 784);
    expect(out.data.slice(0, 784)).toEqual(out.data.slice(784));
    for (const v of out.data) expect(Math.abs(v)).toBeLessThanOrEqual(1);

    // The same image as /generate: map [-1, 1] to bytes and compare with the PNG's pixels.
    const png = await t.app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ seed: 42, format: 'json' }),
    });
    const sharp = (await import('sharp')).default;
    const pixels = await sharp(Buffer.from(png.json().images[0].png, 'base64'))
      .extractChannel(0)
      .raw()
      .toBuffer();
    const fromV2 = out.data
      .slice(0, 784)
      .map((v) => Math.min(255, Math.max(0, Math.floor(((v + 1) * 255) / 2 + 0.5))));
    expect(Array.from(pixels)).toEqual(fromV2);
  });

  it('accepts nested data and a conditional label input', async () => {
    const z = Array.from(latentForSeed(1, 16));
    const res = await infer('tiny-conditional-generator', {
      inputs: [
        { name: 'z', shape: [1, 16], datatype: 'FP32', data: [z] },
        { name: 'label', shape: [1], datatype: 'INT32', data: [3] },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<InferResponse>().outputs[0]!.shape).toEqual([1, 28, 28, 1]);
  });

  it('scores images with the discriminator', async () => {
    const res = await infer('tiny-discriminator', {
      inputs: [{ name: 'image', shape: [3, 28, 28, 1], datatype: 'FP32', data: new Array(3 * 784).fill(-1) }],
      outputs: [{ name: 'logit' }],
    });
    expect(res.statusCode).toBe(200);
    const out = res.json<InferResponse>().outputs[0]!;
    expect(out.name).toBe('logit');
    expect(out.shape).toEqual([3, 1]);
    expect(out.data[0]).toBe(out.data[2]);
  });

  it.each([
    [
      'an unknown input',
      { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0) }] },
      /unknown input 'x'/,
    ],
    [
      'a wrong datatype',
      { inputs: [{ name: 'z', shape: [1, 16], datatype: 'INT32', data: new Array(16).fill(0) }] },
      /datatype INT32; expected FP32/,
    ],
    [
      'a wrong shape',
      { inputs: [{ name: 'z', shape: [1, 8], datatype: 'FP32', data: new Array(8).fill(0) }] },
      /expected \[-1,16\]/,
    ],
    [
      'data not matching the shape',
      { inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', data: new Array(16).fill(0) }] },
      /has 16 values; shape \[2,16\] needs 32/,
    ],
    [
      'a huge value',
      { inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: [1e308, ...new Array(15).fill(0)] }] },
      /finite/,
    ],
    [
      'a string value',
      { inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: ['1', ...new Array(15).fill(0)] }] },
      /./,
    ],
    ['no inputs', { inputs: [] }, /./],
    [
      'an empty outputs list',
      { inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0) }], outputs: [] },
      /outputs/,
    ],
    [
      'an unknown output',
      {
        inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0) }],
        outputs: [{ name: 'nope' }],
      },
      /unknown output 'nope'/,
    ],
  ])('rejects %s with 400 and the protocol error body', async (_name, body, message) => {
    const res = await infer('tiny-generator', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(message);
  });

  it('rejects labels out of range and a missing label input', async () => {
    const z = new Array(16).fill(0);
    const out = await infer('tiny-conditional-generator', {
      inputs: [
        { name: 'z', shape: [1, 16], datatype: 'FP32', data: z },
        { name: 'label', shape: [1], datatype: 'INT32', data: [10] },
      ],
    });
    expect(out.statusCode).toBe(400);
    expect(out.json().error).toMatch(/labels in 0\.\.9; got 10/);
    const missing = await infer('tiny-conditional-generator', {
      inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: z }],
    });
    expect(missing.json().error).toMatch(/missing input 'label'/);
  });
});

describe('KServe v2: readiness while loading', () => {
  it('answers 503 {name, ready: false} for a model that is found but not started, then 200', async () => {
    const dir = await tempDir();
    await writeFixtureModel(dir, {});
    const app = await buildApp(testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1' }));
    try {
      await app.runtime.scan();
      const loading = await app.inject('/v2/models/tiny-generator/ready');
      expect(loading.statusCode).toBe(503);
      expect(loading.json()).toEqual({ name: 'tiny-generator', ready: false });
      expect((await app.inject('/v2/health/ready')).statusCode).toBe(503);
      await app.runtime.start();
      const ready = await app.inject('/v2/models/tiny-generator/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ name: 'tiny-generator', ready: true });
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
