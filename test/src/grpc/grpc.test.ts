/**
 * The gRPC Open Inference Protocol service against the real app (fixture models, real onnxruntime workers), called
 * by a real gRPC client generated from the same proto: health, metadata, inference from raw and typed contents
 * (the same numbers as HTTP), errors as gRPC status codes, and the shared API keys, rate limit, message limit and
 * metrics.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.ts';
import { latentForSeed } from '../../../src/latent/random-state.ts';
import { json, startTestApp, type TestApp } from '../../helpers/app.ts';
import { grpcError, type InferenceClient, inferenceClient } from './client.ts';

const LATENT = 16;
const bytesOf = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const floatsOf = (b: Buffer) => new Float32Array(Uint8Array.from(b).buffer);

interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Array<{ name: string; datatype: string; shape: number[] }>;
  raw_output_contents: Buffer[];
}

const zInput = (rows: number) => ({ name: 'z', datatype: 'FP32', shape: [rows, LATENT] });

let t: TestApp;
let client: InferenceClient;
beforeAll(async () => {
  t = await startTestApp();
  client = inferenceClient(await t.app.grpc.listen('127.0.0.1', 0));
});
afterAll(async () => {
  client.close();
  await t.close();
});

describe('gRPC: health and metadata', () => {
  it('answers ServerLive, ServerReady, ServerMetadata and ModelReady', async () => {
    expect(await client.call('ServerLive')).toEqual({ live: true });
    expect(await client.call('ServerReady')).toEqual({ ready: true });
    expect(await client.call('ServerMetadata')).toMatchObject({
      name: 'gan-serve',
      extensions: ['binary_tensor_data', 'model_repository'],
    });
    expect(await client.call('ModelReady', { name: 'tiny-generator' })).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'tiny-discriminator', version: '1' })).toEqual({
      ready: true,
    });
  });

  it('describes a model as HTTP does', async () => {
    const grpc = await client.call('ModelMetadata', { name: 'tiny-conditional-generator' });
    const http = (await t.app.inject('/v2/models/tiny-conditional-generator')).json();
    expect(grpc).toEqual(http);
    expect(grpc).toMatchObject({
      platform: 'onnxruntime_onnx',
      versions: ['1'],
      inputs: expect.arrayContaining([{ name: 'z', datatype: 'FP32', shape: [-1, 16] }]),
    });
  });

  it('answers NOT_FOUND for an unknown model or version', async () => {
    for (const request of [{ name: 'nope-generator' }, { name: 'tiny-generator', version: '2' }]) {
      const err = await grpcError(client.call('ModelMetadata', request));
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toMatch(/no v2 model|no version '2'/);
      expect((await grpcError(client.call('ModelReady', request))).code).toBe(status.NOT_FOUND);
    }
  });
});

describe('gRPC: ModelInfer', () => {
  it('runs the generator from raw_input_contents, matching HTTP JSON for the same latent', async () => {
    const z = Float32Array.from([...latentForSeed(42, LATENT), ...latentForSeed(7, LATENT)]);
    const res = await client.call<InferResponse>('ModelInfer', {
      model_name: 'tiny-generator',
      id: 'grpc-1',
      inputs: [zInput(2)],
      raw_input_contents: [bytesOf(z)],
    });
    expect(res).toMatchObject({
      model_name: 'tiny-generator',
      model_version: '1',
      id: 'grpc-1',
      outputs: [{ name: 'image', datatype: 'FP32', shape: [2, 28, 28, 1] }],
    });
    expect(res.raw_output_contents).toHaveLength(1);
    const fromGrpc = floatsOf(res.raw_output_contents[0]!);
    expect(fromGrpc).toHaveLength(2 * 784);

    const http = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer',
      ...json({ inputs: [{ ...zInput(2), data: Array.from(z) }] }),
    });
    expect(Array.from(fromGrpc)).toEqual(http.json().outputs[0].data);
  });

  it('takes typed contents (fp32_contents, int_contents) and a chosen output', async () => {
    const z = Array.from(latentForSeed(1, LATENT));
    const typed = await client.call<InferResponse>('ModelInfer', {
      model_name: 'tiny-conditional-generator',
      inputs: [
        { ...zInput(1), contents: { fp32_contents: z } },
        { name: 'label', datatype: 'INT32', shape: [1], contents: { int_contents: [3] } },
      ],
      outputs: [{ name: 'image' }],
    });
    const raw = await client.call<InferResponse>('ModelInfer', {
      model_name: 'tiny-conditional-generator',
      inputs: [zInput(1), { name: 'label', datatype: 'INT32', shape: [1] }],
      raw_input_contents: [bytesOf(Float32Array.from(z)), bytesOf(Int32Array.from([3]))],
    });
    expect(typed.outputs[0]!.shape).toEqual([1, 28, 28, 1]);
    expect(typed.raw_output_contents[0]!.equals(raw.raw_output_contents[0]!)).toBe(true);
  });

  it('scores images with the discriminator', async () => {
    const images = new Float32Array(3 * 784).fill(-1);
    const res = await client.call<InferResponse>('ModelInfer', {
      model_name: 'tiny-discriminator',
      model_version: '1',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [3, 28, 28, 1] }],
      raw_input_contents: [bytesOf(images)],
    });
    expect(res.outputs).toMatchObject([{ name: 'logit', datatype: 'FP32', shape: [3, 1] }]);
    const logits = floatsOf(res.raw_output_contents[0]!);
    expect(logits[0]).toBe(logits[2]);
    expect(Number.isFinite(logits[0])).toBe(true);
  });

  const zeros = (rows: number) => bytesOf(new Float32Array(rows * LATENT));
  it.each([
    [
      'raw bytes not matching shape × datatype',
      { inputs: [zInput(2)], raw_input_contents: [zeros(1)] },
      /has 64 bytes of binary data; shape \[2,16\] of FP32 needs 128/,
    ],
    [
      'fewer raw entries than inputs',
      {
        model_name: 'tiny-conditional-generator',
        inputs: [zInput(1), { name: 'label', datatype: 'INT32', shape: [1] }],
        raw_input_contents: [zeros(1)],
      },
      /raw_input_contents has 1 entries for 2 inputs/,
    ],
    [
      'contents and raw together',
      { inputs: [{ ...zInput(1), contents: { fp32_contents: [1] } }], raw_input_contents: [zeros(1)] },
      /both contents and raw_input_contents/,
    ],
    [
      'values in the wrong contents field',
      { inputs: [{ ...zInput(1), contents: { int_contents: new Array(LATENT).fill(0) } }] },
      /is FP32: its values go in contents\.fp32_contents/,
    ],
    [
      'FP16 as typed contents',
      { inputs: [{ ...zInput(1), datatype: 'FP16', contents: { fp32_contents: [0] } }] },
      /FP16, which travels only as raw_input_contents/,
    ],
    [
      'a wrong datatype',
      { inputs: [{ ...zInput(1), datatype: 'INT32' }], raw_input_contents: [zeros(1)] },
      /datatype INT32; expected FP32/,
    ],
    [
      'a negative dimension',
      { inputs: [{ ...zInput(1), shape: [-1, LATENT] }], raw_input_contents: [zeros(1)] },
      /shape \[-1,16\]; dimensions are whole numbers up to 1000000/,
    ],
    [
      'a NaN in raw bytes',
      { inputs: [zInput(1)], raw_input_contents: [bytesOf(new Float32Array(LATENT).fill(Number.NaN))] },
      /finite/,
    ],
    [
      'an unsupported extension parameter',
      {
        inputs: [zInput(1)],
        raw_input_contents: [zeros(1)],
        outputs: [{ name: 'image', parameters: { classification: { int64_param: 3 } } }],
      },
      /classification extension/,
    ],
  ])('answers INVALID_ARGUMENT for %s', async (_what, request, message) => {
    const err = await grpcError(client.call('ModelInfer', { model_name: 'tiny-generator', ...request }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  it('counts calls in the shared metrics, and its rows in the same inference counters as HTTP', async () => {
    const metric = async (pattern: RegExp) => {
      const text = (await t.app.inject('/metrics')).body;
      return Number(pattern.exec(text)?.[1] ?? 0);
    };
    const rows = /gan_inference_count_total\{model="tiny",network="generator"\} (\d+)/;
    const ok = /gan_grpc_requests_total\{method="ModelInfer",code="OK"\} (\d+)/;
    const [rowsBefore, okBefore] = [await metric(rows), await metric(ok)];
    await client.call('ModelInfer', {
      model_name: 'tiny-generator',
      inputs: [zInput(5)],
      raw_input_contents: [zeros(5)],
    });
    expect(await metric(rows)).toBe(rowsBefore + 5);
    expect(await metric(ok)).toBe(okBefore + 1);
    expect(
      await metric(/gan_grpc_requests_total\{method="ModelInfer",code="INVALID_ARGUMENT"\} (\d+)/),
    ).toBeGreaterThan(0);
  });
});

describe('gRPC: API keys, rate limit and message size, as HTTP', () => {
  let guarded: TestApp;
  let c: InferenceClient;
  beforeAll(async () => {
    guarded = await startTestApp({
      models: [{}],
      config: { GAN_API_KEYS: 'k1,k2', GAN_RATE_LIMIT_PER_MINUTE: '3', GAN_BODY_LIMIT_BYTES: '2048' },
    });
    c = inferenceClient(await guarded.app.grpc.listen('127.0.0.1', 0));
  });
  afterAll(async () => {
    c.close();
    await guarded.close();
  });
  const request = (rows: number) => ({
    model_name: 'tiny-generator',
    inputs: [zInput(rows)],
    raw_input_contents: [bytesOf(new Float32Array(rows * LATENT))],
  });

  it('needs the API key for ModelInfer only, and counts calls against the rate limit', async () => {
    expect(await c.call('ServerLive')).toEqual({ live: true });
    const anonymous = await grpcError(c.call('ModelInfer', request(1)));
    expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    expect(anonymous.details).toMatch(/API key/);
    const wrong = await grpcError(c.call('ModelInfer', request(1), { authorization: 'Bearer nope' }));
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    const allowed = await c.call<InferResponse>('ModelInfer', request(1), { authorization: 'Bearer k1' });
    expect(allowed.outputs[0]!.shape).toEqual([1, 28, 28, 1]);
    // Three calls so far this minute (the limit), refused or not: the next is refused even with a good key.
    const limited = await grpcError(c.call('ModelInfer', request(1), { authorization: 'Bearer k2' }));
    expect(limited.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(limited.details).toMatch(/rate limit of 3 requests per minute/);
    expect(Number(limited.metadata.get('retry-after')[0])).toBeGreaterThan(0);
  });

  it('refuses a message over GAN_BODY_LIMIT_BYTES', async () => {
    const big = await grpcError(c.call('ModelInfer', request(64), { authorization: 'Bearer k1' }));
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(big.details).toMatch(/larger than max|exceeds|length/i);
  });
});

describe('GAN_GRPC_PORT', () => {
  it('is off by default and needs a port of its own', () => {
    expect(loadConfig({}).GAN_GRPC_PORT).toBe(0);
    expect(loadConfig({ GAN_GRPC_PORT: '9000' }).GAN_GRPC_PORT).toBe(9000);
    expect(() => loadConfig({ GAN_GRPC_PORT: '8080' })).toThrow(ConfigError);
    expect(() => loadConfig({ GAN_GRPC_PORT: '8080' })).toThrow(/GAN_GRPC_PORT and GAN_PORT are both 8080/);
    expect(() => loadConfig({ GAN_GRPC_PORT: '70000' })).toThrow(/GAN_GRPC_PORT/);
  });
});
