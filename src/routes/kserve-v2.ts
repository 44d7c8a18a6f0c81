/**
 * The KServe / Triton Open Inference Protocol (v2) over REST, so their clients call the models unchanged. Each
 * served model appears as two v2 models, `<model>-generator` and `<model>-discriminator`, whose tensors are the
 * ONNX inputs and outputs. Inference goes through the same batching and workers as /generate. Errors use the
 * protocol's `{"error": "<message>"}` body.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceError, sendV2Error, toServiceError } from '../errors.ts';
import type { TensorType } from '../inference/protocol.ts';
import { networkKey, type ServedModel } from '../inference/runtime.ts';
import type { NetworkRequest } from '../inference/scheduler.ts';
import { MAX_LATENT_ABS, noQuerySchema } from '../schemas/common.ts';
import { API_VERSION } from '../version.ts';

const NETWORKS = ['generator', 'discriminator'] as const;
type V2Network = (typeof NETWORKS)[number];
/** Rows one v2 request may carry; larger ones are split into batches by the scheduler. */
const MAX_V2_ROWS = 1024;
const FP32_MAX = 3.4028234663852886e38;

const V2_TYPES: Record<TensorType, string> = { float32: 'FP32', int32: 'INT32', int64: 'INT64' };

const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional();

export const inferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: parametersSchema,
  inputs: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        shape: z.array(z.number().int().min(0).max(1_000_000)).min(1).max(8),
        datatype: z.string().min(1).max(16),
        parameters: parametersSchema,
        // Row-major numbers, flat or nested; checked (and flattened) by the handler, since a recursive schema
        // has no place in the OpenAPI document.
        data: z
          .array(z.unknown())
          .describe('Tensor values in row-major order, flat or nested arrays of numbers'),
      }),
    )
    .min(1)
    .max(8),
  outputs: z
    .array(z.object({ name: z.string().min(1).max(128), parameters: parametersSchema }))
    .min(1)
    .max(8)
    .optional(),
});

const tensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number()) });
const v2Error = z.object({ error: z.string() });
const v2Errors = {
  400: v2Error,
  404: v2Error,
  413: v2Error,
  415: v2Error,
  422: v2Error,
  503: v2Error,
  504: v2Error,
};
const nameParams = z.object({ name: z.string().min(1).max(200) });

interface V2Target {
  model: ServedModel;
  network: V2Network;
}

interface TensorSpec {
  name: string;
  type: TensorType;
  /** ONNX shape with -1 for dynamic dimensions. */
  shape: number[];
  /** Largest absolute value accepted, for float inputs; class count for label inputs. */
  maxAbs?: number;
  classes?: number;
}

/** Flatten nested arrays of numbers; null when something else is inside. */
function flatten(data: unknown[], out: number[] = [], depth = 0): number[] | null {
  if (depth > 8) return null;
  for (const v of data) {
    if (Array.isArray(v)) {
      if (flatten(v, out, depth + 1) === null) return null;
    } else if (typeof v === 'number') out.push(v);
    else return null;
  }
  return out;
}

const readiness = z.object({ name: z.string(), ready: z.boolean() });

const toShape = (shape: Array<number | string> | null) =>
  (shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));

export const kserveV2Routes: FastifyPluginAsyncZod = async (app) => {
  // The protocol's error body for everything under /v2.
  app.setErrorHandler((raw, request, reply) => {
    const err = toServiceError(raw);
    if (err.statusCode >= 500) request.log.error({ err: raw, code: err.code }, 'v2 request failed');
    else request.log.info({ code: err.code, msg: err.message }, 'v2 request rejected');
    return sendV2Error(reply, err);
  });

  function target(v2Name: string): V2Target {
    const at = v2Name.lastIndexOf('-');
    const network = v2Name.slice(at + 1) as V2Network;
    if (at <= 0 || !NETWORKS.includes(network)) {
      throw new ServiceError(
        'GAN_ERR_MODEL_NOT_FOUND',
        `no v2 model '${v2Name}' (names are <model>-generator or <model>-discriminator)`,
        'name',
      );
    }
    return { model: app.runtime.model(v2Name.slice(0, at), 'name'), network };
  }

  function specs({ model, network }: V2Target): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
    const state = model[network];
    const m = model.manifest;
    const labelName = network === 'generator' ? m.generator.labelInput : m.discriminator.labelInput;
    const inputs = (state.info?.inputs ?? []).map((i): TensorSpec => {
      const type = (i.type === 'int64' || i.type === 'int32' ? i.type : 'float32') as TensorType;
      const spec: TensorSpec = { name: i.name, type, shape: toShape(i.shape) };
      if (i.name === labelName && m.numClasses !== null) spec.classes = m.numClasses;
      else if (network === 'generator' && i.name === m.generator.latentInput) spec.maxAbs = MAX_LATENT_ABS;
      else spec.maxAbs = FP32_MAX;
      return spec;
    });
    const outputs = (state.info?.outputs ?? []).map(
      (o): TensorSpec => ({ name: o.name, type: 'float32', shape: toShape(o.shape) }),
    );
    return { inputs, outputs };
  }

  const meta = (s: TensorSpec) => ({ name: s.name, datatype: V2_TYPES[s.type], shape: s.shape });

  app.get(
    '/v2/health/live',
    { schema: { tags: ['kserve-v2'], response: { 200: z.object({ live: z.boolean() }) } } },
    async () => ({
      live: true,
    }),
  );

  app.get(
    '/v2/health/ready',
    {
      schema: {
        tags: ['kserve-v2'],
        response: { 200: z.object({ ready: z.boolean() }), 503: z.object({ ready: z.boolean() }) },
      },
    },
    async (_request, reply) => {
      const ready = app.runtime.ready && !app.lifecycle.shuttingDown;
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );

  app.get(
    '/v2',
    {
      schema: {
        tags: ['kserve-v2'],
        summary: 'Server metadata',
        response: {
          200: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }),
        },
      },
    },
    async () => ({ name: 'gan-serve', version: API_VERSION, extensions: [] }),
  );

  app.get(
    '/v2/models/:name',
    {
      schema: {
        tags: ['kserve-v2'],
        summary: 'Model metadata (<model>-generator or <model>-discriminator)',
        params: nameParams,
        response: {
          200: z.object({
            name: z.string(),
            versions: z.array(z.string()),
            platform: z.string(),
            inputs: z.array(tensorMetadata),
            outputs: z.array(tensorMetadata),
          }),
          ...v2Errors,
        },
      },
    },
    async (request) => {
      const t = target(request.params.name);
      const { inputs, outputs } = specs(t);
      return {
        name: request.params.name,
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: inputs.map(meta),
        outputs: outputs.map(meta),
      };
    },
  );

  app.get(
    '/v2/models/:name/ready',
    {
      schema: {
        tags: ['kserve-v2'],
        params: nameParams,
        response: {
          ...v2Errors,
          200: readiness.describe('The model is ready'),
          503: readiness.describe('Not ready yet (still loading, or the runtime is not started)'),
        },
      },
    },
    async (request, reply) => {
      const name = request.params.name;
      const at = name.lastIndexOf('-');
      const model = at > 0 ? app.runtime.models.get(name.slice(0, at)) : undefined;
      if (!model || !NETWORKS.includes(name.slice(at + 1) as V2Network)) {
        throw new ServiceError('GAN_ERR_MODEL_NOT_FOUND', `no v2 model '${name}'`, 'name');
      }
      const ready = model.status === 'ready' && app.runtime.ready;
      return reply.code(ready ? 200 : 503).send({ name, ready });
    },
  );

  app.post(
    '/v2/models/:name/infer',
    {
      config: { inference: true },
      schema: {
        tags: ['kserve-v2'],
        summary: 'Inference with JSON tensors',
        params: nameParams,
        querystring: noQuerySchema,
        body: inferRequestSchema,
        response: {
          200: z.object({
            model_name: z.string(),
            model_version: z.string(),
            id: z.string().optional(),
            outputs: z.array(tensorMetadata.extend({ data: z.array(z.number()) })),
          }),
          ...v2Errors,
        },
      },
    },
    async (request) => {
      const t = target(request.params.name);
      const body = request.body;
      const { inputs: expected, outputs: available } = specs(t);
      const bad = (message: string) => new ServiceError('GAN_ERR_VALIDATION', message, 'inputs');
      let rows: number | undefined;
      const feeds: NetworkRequest['inputs'] = {};
      for (const input of body.inputs) {
        const spec = expected.find((s) => s.name === input.name);
        if (!spec) {
          throw bad(
            `unknown input '${input.name}'; ${request.params.name} takes ${expected.map((s) => `'${s.name}'`).join(', ')}`,
          );
        }
        if (feeds[input.name]) throw bad(`input '${input.name}' given twice`);
        if (input.datatype !== V2_TYPES[spec.type]) {
          throw bad(`input '${input.name}' has datatype ${input.datatype}; expected ${V2_TYPES[spec.type]}`);
        }
        if (input.shape.length !== spec.shape.length) {
          throw bad(
            `input '${input.name}' has shape [${input.shape}]; expected rank ${spec.shape.length} ([${spec.shape}])`,
          );
        }
        input.shape.forEach((d, i) => {
          if (i > 0 && spec.shape[i] !== -1 && d !== spec.shape[i]) {
            throw bad(`input '${input.name}' has shape [${input.shape}]; expected [${spec.shape}]`);
          }
        });
        const n = input.shape[0]!;
        if (n < 1 || n > MAX_V2_ROWS)
          throw bad(`input '${input.name}' has batch ${n}; expected 1..${MAX_V2_ROWS}`);
        if (rows !== undefined && n !== rows)
          throw bad(`inputs disagree on the batch size (${rows} and ${n})`);
        rows = n;
        const values = flatten(input.data);
        if (values === null) throw bad(`input '${input.name}' data must be numbers (flat or nested arrays)`);
        const size = input.shape.reduce((a, b) => a * b, 1);
        if (values.length !== size) {
          throw bad(
            `input '${input.name}' has ${values.length} values; shape [${input.shape}] needs ${size}`,
          );
        }
        for (const v of values) {
          if (spec.classes !== undefined) {
            if (!Number.isInteger(v) || v < 0 || v >= spec.classes) {
              throw bad(`input '${input.name}' holds labels in 0..${spec.classes - 1}; got ${v}`);
            }
          } else if (!(Math.abs(v) <= spec.maxAbs!)) {
            throw bad(`input '${input.name}' values must be finite with |v| ≤ ${spec.maxAbs}; got ${v}`);
          }
        }
        const data =
          spec.type === 'float32'
            ? Float32Array.from(values)
            : spec.type === 'int32'
              ? Int32Array.from(values)
              : BigInt64Array.from(values, (v) => BigInt(v));
        feeds[input.name] = { type: spec.type, data, rowDims: input.shape.slice(1) };
      }
      const missing = expected.filter((s) => !feeds[s.name]);
      if (missing.length > 0)
        throw bad(
          `missing input${missing.length > 1 ? 's' : ''} ${missing.map((s) => `'${s.name}'`).join(', ')}`,
        );
      const wanted = body.outputs?.map((o) => o.name) ?? available.map((o) => o.name);
      const repeated = wanted.find((name, i) => wanted.indexOf(name) !== i);
      if (repeated !== undefined) {
        throw new ServiceError('GAN_ERR_VALIDATION', `output '${repeated}' asked for twice`, 'outputs');
      }
      for (const name of wanted) {
        if (!available.some((o) => o.name === name)) {
          throw new ServiceError(
            'GAN_ERR_VALIDATION',
            `unknown output '${name}'; available: ${available.map((o) => `'${o.name}'`).join(', ')}`,
            'outputs',
          );
        }
      }
      const result = await app.runtime.run({
        key: networkKey(t.model.name, t.network),
        model: t.model.name,
        network: t.network,
        rows: rows!,
        inputs: feeds,
        outputs: wanted,
      });
      return {
        model_name: request.params.name,
        model_version: '1',
        ...(body.id !== undefined ? { id: body.id } : {}),
        outputs: wanted.map((name) => {
          const out = result.outputs[name]!;
          // JSON has no NaN or Infinity: say so instead of failing to serialise the answer.
          if (out.type === 'float32' && !(out.data as Float32Array).every(Number.isFinite)) {
            throw new ServiceError(
              'GAN_ERR_NON_FINITE_OUTPUT',
              `output '${name}' holds NaN or ±Infinity, which JSON cannot carry; the inputs are far outside what the network was trained on`,
              'inputs',
            );
          }
          return {
            name,
            datatype: V2_TYPES[out.type],
            shape: out.dims,
            data: Array.from(out.data as Float32Array),
          };
        }),
      };
    },
  );
};
