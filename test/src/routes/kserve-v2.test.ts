import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genericGenerator, writeOnnx } from '../../../scripts/onnx/families.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/inference/float16.ts';
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
    expect((await t.app.inject('/v2')).json()).toMatchObject({
      name: 'gan-serve',
      extensions: ['binary_tensor_data', 'model_repository'],
    });
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

describe('KServe v2: versions', () => {
  it('serves version 1 under /versions/1 and 404s any other', async () => {
    const meta = await t.app.inject('/v2/models/tiny-generator/versions/1');
    expect(meta.json()).toEqual((await t.app.inject('/v2/models/tiny-generator')).json());
    expect((await t.app.inject('/v2/models/tiny-generator/versions/1/ready')).json()).toEqual({
      name: 'tiny-generator',
      ready: true,
    });
    const z = new Array(16).fill(0);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/versions/1/infer',
      ...json({ inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: z }] }),
    });
    expect(res.json<InferResponse>().outputs[0]!.shape).toEqual([1, 28, 28, 1]);
    const other = await t.app.inject('/v2/models/tiny-generator/versions/2');
    expect(other.statusCode).toBe(404);
    expect(other.json().error).toMatch(/no version '2'; the version served is 1/);
  });
});

const HEADER_LENGTH = 'inference-header-content-length';
const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A binary-extension body: the JSON header, then the blobs; the header's length in its own header. */
function binaryBody(header: unknown, blobs: Uint8Array[], contentType?: string) {
  const head = Buffer.from(JSON.stringify(header));
  return {
    headers: {
      [HEADER_LENGTH]: String(head.length),
      ...(contentType ? { 'content-type': contentType } : {}),
    },
    payload: Buffer.concat([head, ...blobs]),
  };
}

/** A binary answer split into its JSON header and its binary part. */
function splitAnswer(res: { headers: Record<string, unknown>; rawPayload: Buffer }) {
  const n = Number(res.headers[HEADER_LENGTH]);
  return {
    header: JSON.parse(res.rawPayload.subarray(0, n).toString()) as {
      outputs: Array<{
        name: string;
        datatype: string;
        shape: number[];
        parameters?: { binary_data_size: number };
      }>;
    },
    binary: res.rawPayload.subarray(n),
  };
}

const floats = (b: Buffer) => Array.from(new Float32Array(Uint8Array.from(b).buffer));

describe('KServe v2: binary tensor data extension', () => {
  const z = Float32Array.from([...latentForSeed(42, 16), ...latentForSeed(3, 16)]);
  let fromJson: number[];
  beforeAll(async () => {
    const res = await infer('tiny-generator', {
      inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', data: Array.from(z) }],
    });
    fromJson = res.json<InferResponse>().outputs[0]!.data;
  });

  it.each([
    ['no content type (as Triton’s Python client sends)', undefined],
    ['application/octet-stream', 'application/octet-stream'],
    ['application/json', 'application/json'],
  ])('takes binary inputs and answers binary outputs with %s', async (_what, contentType) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer',
      ...binaryBody(
        {
          id: 'bin-1',
          inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', parameters: { binary_data_size: 128 } }],
          outputs: [{ name: 'image', parameters: { binary_data: true } }],
        },
        [bytes(z)],
        contentType,
      ),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const { header, binary } = splitAnswer(res);
    expect(header).toMatchObject({
      model_name: 'tiny-generator',
      id: 'bin-1',
      outputs: [
        {
          name: 'image',
          datatype: 'FP32',
          shape: [2, 28, 28, 1],
          parameters: { binary_data_size: 2 * 784 * 4 },
        },
      ],
    });
    expect(header.outputs[0]).not.toHaveProperty('data');
    expect(binary.length).toBe(2 * 784 * 4);
    expect(floats(binary)).toEqual(fromJson);
  });

  it('answers JSON outputs to a binary request unless asked, and binary outputs to a JSON request when asked', async () => {
    const jsonOut = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer',
      ...binaryBody(
        { inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', parameters: { binary_data_size: 128 } }] },
        [bytes(z)],
      ),
    });
    expect(jsonOut.headers['content-type']).toMatch(/^application\/json/);
    expect(jsonOut.headers[HEADER_LENGTH]).toBeUndefined();
    expect(jsonOut.json<InferResponse>().outputs[0]!.data).toEqual(fromJson);

    // binary_data_output: every output not saying otherwise goes binary (Triton's client sets it when it names none).
    const binOut = await infer('tiny-generator', {
      parameters: { binary_data_output: true },
      inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', data: Array.from(z) }],
    });
    const { header, binary } = splitAnswer(binOut);
    expect(header.outputs[0]!.parameters).toEqual({ binary_data_size: 2 * 784 * 4 });
    expect(floats(binary)).toEqual(fromJson);

    const overridden = await infer('tiny-generator', {
      parameters: { binary_data_output: true },
      inputs: [{ name: 'z', shape: [2, 16], datatype: 'FP32', data: Array.from(z) }],
      outputs: [{ name: 'image', parameters: { binary_data: false } }],
    });
    expect(overridden.json<InferResponse>().outputs[0]!.data).toEqual(fromJson);
  });

  it('mixes JSON and binary inputs in one request (binary z, JSON label)', async () => {
    const one = z.subarray(0, 16);
    const mixed = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-conditional-generator/infer',
      ...binaryBody(
        {
          inputs: [
            { name: 'label', shape: [1], datatype: 'INT32', data: [7] },
            { name: 'z', shape: [1, 16], datatype: 'FP32', parameters: { binary_data_size: 64 } },
          ],
        },
        [bytes(one)],
      ),
    });
    const allBinary = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-conditional-generator/infer',
      ...binaryBody(
        {
          inputs: [
            { name: 'z', shape: [1, 16], datatype: 'FP32', parameters: { binary_data_size: 64 } },
            { name: 'label', shape: [1], datatype: 'INT32', parameters: { binary_data_size: 4 } },
          ],
        },
        [bytes(one), bytes(Int32Array.from([7]))],
      ),
    });
    const plain = await infer('tiny-conditional-generator', {
      inputs: [
        { name: 'z', shape: [1, 16], datatype: 'FP32', data: Array.from(one) },
        { name: 'label', shape: [1], datatype: 'INT32', data: [7] },
      ],
    });
    expect(mixed.statusCode).toBe(200);
    expect(mixed.json()).toEqual(plain.json());
    expect(allBinary.json()).toEqual(plain.json());
  });

  it('carries NaN and ±Infinity in binary outputs, which JSON answers with 422', async () => {
    const extreme = {
      inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: new Array(784).fill(3e38) }],
    };
    const asJson = await infer('tiny-discriminator', extreme);
    expect(asJson.statusCode).toBe(422);
    expect(asJson.json().error).toMatch(
      /NaN or ±Infinity, which JSON cannot carry \(ask for it as binary data\)/,
    );
    const asBinary = await infer('tiny-discriminator', {
      ...extreme,
      parameters: { binary_data_output: true },
    });
    expect(asBinary.statusCode).toBe(200);
    expect(Number.isFinite(floats(splitAnswer(asBinary).binary)[0])).toBe(false);
  });

  const zHeader = (size: number, extra: object = {}) => ({
    inputs: [
      { name: 'z', shape: [1, 16], datatype: 'FP32', parameters: { binary_data_size: size }, ...extra },
    ],
  });
  const zeros = (n: number) => Buffer.alloc(n);
  it.each([
    [
      'a binary size not matching shape × datatype',
      binaryBody(zHeader(60), [zeros(60)]),
      /has 60 bytes of binary data; shape \[1,16\] of FP32 needs 64/,
    ],
    [
      'a binary size past the end of the body',
      binaryBody(zHeader(64), [zeros(32)]),
      /binary_data_size 64 at offset 0, past the end of the 32 bytes/,
    ],
    [
      'bytes left over after the last binary input',
      binaryBody(zHeader(64), [zeros(80)]),
      /80 bytes after the JSON header but the inputs' binary_data_size add up to 64/,
    ],
    [
      'a negative binary size',
      binaryBody(zHeader(-4), [zeros(64)]),
      /binary_data_size must be a byte count; got -4/,
    ],
    [
      'data and binary_data_size together',
      binaryBody(zHeader(64, { data: new Array(16).fill(0) }), [zeros(64)]),
      /both data and binary_data_size/,
    ],
    [
      'a header length past the body',
      { headers: { [HEADER_LENGTH]: '5000' }, payload: JSON.stringify(zHeader(64)) },
      /inference-header-content-length is 5000 but the body has only \d+ bytes/,
    ],
    [
      'a header length that is not a number',
      { headers: { [HEADER_LENGTH]: '12abc' }, payload: JSON.stringify(zHeader(64)) },
      /inference-header-content-length must be a byte count; got '12abc'/,
    ],
    [
      'a header length cutting the JSON short',
      { headers: { [HEADER_LENGTH]: '10' }, payload: JSON.stringify(zHeader(64)) },
      /the JSON header is not valid JSON/,
    ],
    [
      'a JSON header of the wrong shape',
      binaryBody({ inputs: [{ name: 'z', shape: 'wide', datatype: 'FP32' }] }, []),
      /inputs\[0\]\.shape/,
    ],
    [
      'binary_data that is not a boolean',
      binaryBody({ ...zHeader(64), outputs: [{ name: 'image', parameters: { binary_data: 'yes' } }] }, [
        zeros(64),
      ]),
      /binary_data must be true or false/,
    ],
    [
      'the classification extension',
      binaryBody({ ...zHeader(64), outputs: [{ name: 'image', parameters: { classification: 3 } }] }, [
        zeros(64),
      ]),
      /classification extension, which this server does not implement/,
    ],
    [
      'shared memory',
      binaryBody(zHeader(64, { parameters: { binary_data_size: 64, shared_memory_region: 'r' } }), [
        zeros(64),
      ]),
      /shared memory extension/,
    ],
  ])('answers 400 in the protocol error shape for %s', async (_what, request, message) => {
    const res = await t.app.inject({ method: 'POST', url: '/v2/models/tiny-generator/infer', ...request });
    expect(res.statusCode).toBe(400);
    expect(Object.keys(res.json())).toEqual(['error']);
    expect(res.json().error).toMatch(message);
  });

  it('answers 415 for a body type other than JSON or octet-stream, and 400 for an empty body', async () => {
    const text = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer',
      headers: { 'content-type': 'text/plain' },
      payload: '{}',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toMatch(/content-type 'text\/plain' is not taken here/);
    const empty = await t.app.inject({ method: 'POST', url: '/v2/models/tiny-generator/infer' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toMatch(/the body is empty/);
  });
});

describe('KServe v2: a float16 generator-only model', () => {
  let half: { app: FastifyInstance; dir: string };
  beforeAll(async () => {
    const dir = await tempDir();
    const folder = join(dir, 'half');
    const onnx = genericGenerator({ latentDim: 8, channels: 1, height: 8, width: 8, dtype: 'float16' });
    await writeOnnx(folder, 'generator.onnx', onnx);
    await writeFile(
      join(folder, 'model.json'),
      JSON.stringify({
        name: 'half',
        title: 'float16 generator, no discriminator',
        latentDim: 8,
        image: { width: 8, height: 8, channels: 1 },
        generator: {
          inputs: [{ role: 'latent', name: 'z', dtype: 'float16' }],
          output: 'image',
          outputRange: [-1, 1],
          outputLayout: 'NCHW',
        },
        numClasses: null,
      }),
    );
    const app = await buildApp(testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1' }));
    await app.loadModels();
    await app.ready();
    half = { app, dir };
  });
  afterAll(async () => {
    await half.app.close();
    await rm(half.dir, { recursive: true, force: true });
  });

  it('lists only the generator, with FP16 tensors', async () => {
    expect((await half.app.inject('/v2/models/half-generator')).json()).toMatchObject({
      inputs: [{ name: 'z', datatype: 'FP16', shape: [-1, 8] }],
      outputs: [{ name: 'image', datatype: 'FP16', shape: [-1, 1, 8, 8] }],
    });
    const d = await half.app.inject('/v2/models/half-discriminator');
    expect(d.statusCode).toBe(404);
    expect(d.json().error).toMatch(/models: half-generator\)/);
  });

  it('takes FP16 as JSON numbers or as binary16 bytes and answers the same numbers either way', async () => {
    // Values a half holds exactly, so the JSON and binary inputs are the same tensor.
    const z = Float32Array.from([
      0.5, -1, 0.25, 2, -0.125, 1.5, 0, -0.75, 1, 0.375, -2, 0.5, -0.25, 0.125, 1.25, -1.5,
    ]);
    const fromJson = await half.app.inject({
      method: 'POST',
      url: '/v2/models/half-generator/infer',
      ...json({ inputs: [{ name: 'z', shape: [2, 8], datatype: 'FP16', data: Array.from(z) }] }),
    });
    const out = fromJson.json<InferResponse>().outputs[0]!;
    expect(out).toMatchObject({ datatype: 'FP16', shape: [2, 1, 8, 8] });
    const binary = await half.app.inject({
      method: 'POST',
      url: '/v2/models/half-generator/infer',
      ...binaryBody(
        {
          inputs: [{ name: 'z', shape: [2, 8], datatype: 'FP16', parameters: { binary_data_size: 32 } }],
          outputs: [{ name: 'image', parameters: { binary_data: true } }],
        },
        [Buffer.from(float32ToFloat16Bits(z).buffer)],
      ),
    });
    const { header, binary: raw } = splitAnswer(binary);
    expect(header.outputs[0]!.parameters).toEqual({ binary_data_size: 2 * 64 * 2 });
    const halves = float16BitsToFloat32(new Uint16Array(Uint8Array.from(raw).buffer));
    expect(Array.from(halves)).toEqual(out.data);
    expect(new Set(out.data).size).toBeGreaterThan(10);
    for (const v of out.data) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('refuses FP32 for an FP16 input, and FP16 bytes of the wrong size', async () => {
    const fp32 = await half.app.inject({
      method: 'POST',
      url: '/v2/models/half-generator/infer',
      ...json({ inputs: [{ name: 'z', shape: [1, 8], datatype: 'FP32', data: new Array(8).fill(0) }] }),
    });
    expect(fp32.json().error).toMatch(/datatype FP32; expected FP16/);
    const short = await half.app.inject({
      method: 'POST',
      url: '/v2/models/half-generator/infer',
      ...binaryBody(
        { inputs: [{ name: 'z', shape: [1, 8], datatype: 'FP16', parameters: { binary_data_size: 32 } }] },
        [Buffer.alloc(32)],
      ),
    });
    expect(short.json().error).toMatch(/has 32 bytes of binary data; shape \[1,8\] of FP16 needs 16/);
  });
});

describe('KServe v2: readiness while loading', () => {
  it('answers 503 {name, ready: false} for a model that is found but not started, then 200', async () => {
    const dir = await tempDir();
    await writeFixtureModel(dir, {});
    const app = await buildApp(testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1' }));
    try {
      const loading = await app.inject('/v2/models/tiny-generator/ready');
      expect(loading.statusCode).toBe(503);
      expect(loading.json()).toEqual({ name: 'tiny-generator', ready: false });
      expect((await app.inject('/v2/health/ready')).statusCode).toBe(503);
      await app.loadModels();
      const ready = await app.inject('/v2/models/tiny-generator/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ name: 'tiny-generator', ready: true });
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
