/**
 * The Open Inference Protocol (KServe / Triton v2) over the served models: one implementation behind every
 * transport (HTTP with JSON tensors, HTTP with the binary tensor data extension, gRPC). A transport decodes its
 * request into a `V2InferRequest` (each input's values as numbers or as raw little-endian bytes), calls `infer`,
 * and encodes the typed output values its own way. Each served network is a v2 model `<model>-<network>` whose
 * tensors are the ONNX inputs and outputs; inference goes through the same scheduler, batching and workers as
 * /generate. Errors are ServiceErrors naming the field, mapped to each transport's status codes.
 */

import { createHash } from 'node:crypto';
import { ServiceError } from '../errors.ts';
import type { TensorType, WireTensor } from '../inference/protocol.ts';
import { type ModelRuntime, modelKey, type NetworkState, type ServedModel } from '../inference/runtime.ts';
import type { NetworkRequest } from '../inference/scheduler.ts';
import { feedsFor } from '../models/feeds.ts';
import { MAX_LATENT_ABS } from '../schemas/common.ts';
import { API_VERSION } from '../version.ts';
import {
  DATATYPE_BYTES,
  datatypeOfOnnx,
  decodeRaw,
  elementCount,
  fromNumbers,
  isV2Datatype,
  type V2Datatype,
  type V2Values,
} from './v2-tensors.ts';

/** Protocol extensions this server implements, as server metadata lists them (Triton's names). */
export const V2_EXTENSIONS = ['binary_tensor_data', 'model_repository'] as const;
export const V2_SERVER_NAME = 'gan-serve';
export const V2_PLATFORM = 'onnxruntime_onnx';
/** Every v2 model has one version. */
/** A model's version as v2 names it: its load count (1, then one more per reload). */
export const v2Version = (model: ServedModel): string => String(model.version);
/** Rows one v2 request may carry; larger ones are split into batches by the scheduler. */
export const MAX_V2_ROWS = 1024;
/** Most inputs and requested outputs per request. */
export const MAX_V2_TENSORS = 8;
/** Largest dimension of an input's shape (as the HTTP JSON schema bounds it). */
const MAX_DIM = 1_000_000;
const FP32_MAX = 3.4028234663852886e38;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Request parameters of protocol extensions this server does not implement: refused with a 400 naming the
 * extension, never silently ignored. Other parameters (`priority`, `timeout`, custom ones) are accepted and unused.
 */
const UNSUPPORTED_PARAMETERS: Record<string, string> = {
  classification: 'classification',
  shared_memory_region: 'shared memory',
  shared_memory_byte_size: 'shared memory',
  shared_memory_offset: 'shared memory',
  sequence_id: 'sequence',
  sequence_start: 'sequence',
  sequence_end: 'sequence',
};

export type V2Network = 'generator' | 'discriminator';

export interface V2TensorMetadata {
  name: string;
  datatype: V2Datatype;
  /** -1 for a dynamic dimension (the batch axis). */
  shape: number[];
}

export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

export type V2Parameters = Readonly<Record<string, unknown>>;

/** One input tensor as a transport decoded it: values as numbers (`data`) or as raw bytes (`raw`), not both. */
export interface V2InputTensor {
  name: string;
  datatype: string;
  shape: readonly number[];
  parameters?: V2Parameters | undefined;
  /** Row-major values, flat or nested arrays of numbers (booleans for BOOL): JSON `data`, gRPC `contents`. */
  data?: readonly unknown[] | undefined;
  /** Row-major little-endian bytes: the binary extension, gRPC `raw_input_contents`. */
  raw?: Uint8Array | undefined;
}

export interface V2InferRequest {
  id?: string | undefined;
  parameters?: V2Parameters | undefined;
  inputs: readonly V2InputTensor[];
  /** Outputs asked for, in order; all of the model's when absent. */
  outputs?: ReadonlyArray<{ name: string; parameters?: V2Parameters | undefined }> | undefined;
}

export interface V2OutputTensor extends V2TensorMetadata {
  values: V2Values;
}

export interface V2InferResult {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: V2OutputTensor[];
}

/** Bounds on an input's values: finite floats up to `maxAbs`, or class indices 0 … classes − 1. */
type Bounds = { maxAbs: number } | { classes: number };

interface InputSpec extends V2TensorMetadata {
  bounds: Bounds;
}

interface Target {
  name: string;
  model: ServedModel;
  network: V2Network;
  state: NetworkState;
}

// ---------------------------------------------------------------------------------------------------------------
// The one model-specific place: which networks a served model exposes, and the bounds of each input's values.

/** The networks a served model exposes as v2 models: its generator and, when it has one, its discriminator. */
function exposedNetworks(model: ServedModel): V2Network[] {
  return model.manifest.discriminator ? ['generator', 'discriminator'] : ['generator'];
}

/** Class inputs take 0 … numClasses − 1, the latent |z| ≤ MAX_LATENT_ABS, every other float input any float32. */
function inputBounds(model: ServedModel, network: V2Network, input: string): Bounds {
  const m = model.manifest;
  const spec = network === 'generator' ? m.generator : m.discriminator;
  const role = spec?.inputs.find((i) => i.name === input)?.role;
  if (role === 'class-index' && m.numClasses !== null) return { classes: m.numClasses };
  if (role === 'latent') return { maxAbs: MAX_LATENT_ABS };
  return { maxAbs: FP32_MAX };
}

// ---------------------------------------------------------------------------------------------------------------

const notFound = (name: string, why: string) =>
  new ServiceError('GAN_ERR_MODEL_NOT_FOUND', `no v2 model '${name}' (${why})`, 'name');

/** The served model and network behind a v2 model name, without requiring it to be ready. */
function lookup(runtime: ModelRuntime, name: string, version?: string): Target {
  const at = name.lastIndexOf('-');
  const network = name.slice(at + 1);
  const model = at > 0 ? runtime.models.get(name.slice(0, at)) : undefined;
  if (!model || !(exposedNetworks(model) as string[]).includes(network)) {
    const names = [...runtime.models.values()].flatMap((m) =>
      exposedNetworks(m).map((n) => `${m.name}-${n}`),
    );
    throw notFound(name, `models: ${names.join(', ')}`);
  }
  if (version !== undefined && version !== '' && version !== v2Version(model)) {
    throw new ServiceError(
      'GAN_ERR_MODEL_NOT_FOUND',
      `v2 model '${name}' has no version '${version}'; the version served is ${v2Version(model)}`,
      'version',
    );
  }
  const state = model[network as V2Network];
  if (!state) throw notFound(name, 'no such network');
  return { name, model, network: network as V2Network, state };
}

/** A ready target: 404 for an unknown name, 503 while loading or when the model failed. */
function target(runtime: ModelRuntime, name: string, version?: string): Target {
  const t = lookup(runtime, name, version);
  runtime.model(t.model.name, 'name');
  return t;
}

const toShape = (shape: ReadonlyArray<number | string> | null) =>
  (shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));

function specs(t: Target): { inputs: InputSpec[]; outputs: V2TensorMetadata[] } {
  const info = t.state.info;
  const inputs = (info?.inputs ?? []).map(
    (i): InputSpec => ({
      name: i.name,
      // An input of a type the protocol layer does not carry is listed as FP32 and refused at infer time.
      datatype: datatypeOfOnnx(i.type) ?? 'FP32',
      shape: toShape(i.shape),
      bounds: inputBounds(t.model, t.network, i.name),
    }),
  );
  const outputs = (info?.outputs ?? []).flatMap((o): V2TensorMetadata[] => {
    const datatype = datatypeOfOnnx(o.type);
    return datatype ? [{ name: o.name, datatype, shape: toShape(o.shape) }] : [];
  });
  return { inputs, outputs };
}

const meta = ({ name, datatype, shape }: V2TensorMetadata): V2TensorMetadata => ({ name, datatype, shape });

export function serverMetadata() {
  return { name: V2_SERVER_NAME, version: API_VERSION, extensions: [...V2_EXTENSIONS] };
}

/** Whether a v2 model is ready; throws 404 for an unknown one. */
export function modelReady(runtime: ModelRuntime, name: string, version?: string): boolean {
  const t = lookup(runtime, name, version);
  return t.model.status === 'ready' && runtime.ready;
}

export function modelMetadata(runtime: ModelRuntime, name: string, version?: string): V2ModelMetadata {
  const t = target(runtime, name, version);
  const { inputs, outputs } = specs(t);
  return {
    name,
    versions: [v2Version(t.model)],
    platform: V2_PLATFORM,
    inputs: inputs.map(meta),
    outputs: outputs.map(meta),
  };
}

const bad = (message: string, field = 'inputs') => new ServiceError('GAN_ERR_VALIDATION', message, field);

function checkParameters(parameters: V2Parameters | undefined, where: string): void {
  for (const key of Object.keys(parameters ?? {})) {
    const extension = UNSUPPORTED_PARAMETERS[key];
    if (extension) {
      throw bad(
        `${where} parameter '${key}' belongs to the ${extension} extension, which this server does not implement`,
        where,
      );
    }
  }
}

/** Flatten nested arrays of numbers (booleans too, for BOOL); null when something else is inside. */
function flatten(data: readonly unknown[], bool: boolean, out: number[] = [], depth = 0): number[] | null {
  if (depth > 8) return null;
  for (const v of data) {
    if (Array.isArray(v)) {
      if (flatten(v, bool, out, depth + 1) === null) return null;
    } else if (typeof v === 'number') out.push(v);
    else if (bool && typeof v === 'boolean') out.push(v ? 1 : 0);
    else return null;
  }
  return out;
}

/** Values from numbers, each checked against the datatype and the input's bounds. */
function valuesFromNumbers(input: V2InputTensor, spec: InputSpec, numbers: number[]): V2Values {
  const name = input.name;
  const dt = spec.datatype;
  for (const v of numbers) {
    if (dt === 'BOOL') {
      if (v !== 0 && v !== 1)
        throw bad(`input '${name}' is BOOL: values must be true/false (or 0/1); got ${v}`);
    } else if (dt === 'INT32' || dt === 'INT64') {
      const [lo, hi] =
        dt === 'INT32' ? [INT32_MIN, INT32_MAX] : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      if (!Number.isInteger(v) || v < lo || v > hi)
        throw bad(`input '${name}' is ${dt}: values must be integers; got ${v}`);
    }
  }
  const values = fromNumbers(dt, numbers);
  checkBounds(name, spec.bounds, values);
  return values;
}

function checkBounds(name: string, bounds: Bounds, values: V2Values): void {
  if ('classes' in bounds) {
    const classes = bounds.classes;
    for (const raw of values) {
      const v = Number(raw);
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw bad(`input '${name}' holds labels in 0..${classes - 1}; got ${v}`);
      }
    }
  } else if (values instanceof Float32Array) {
    const max = bounds.maxAbs;
    for (const v of values) {
      if (!(Math.abs(v) <= max))
        throw bad(`input '${name}' values must be finite with |v| ≤ ${max}; got ${v}`);
    }
  }
}

/** The runtime's tensor type for a v2 datatype: floats travel as float32 (the worker converts for float16). */
const FEED_TYPE: Record<V2Datatype, TensorType> = {
  FP32: 'float32',
  FP16: 'float32',
  INT32: 'int32',
  INT64: 'int64',
  BOOL: 'bool',
};

/**
 * Validate a decoded request against the model's tensors and run it through the scheduler. Throws a 4xx
 * ServiceError naming what is wrong (unknown input, datatype, shape, value count or byte size, bounds), 404 for
 * an unknown model or version, 503 while loading.
 */
export async function infer(
  runtime: ModelRuntime,
  name: string,
  request: V2InferRequest,
  version?: string,
): Promise<V2InferResult> {
  const t = target(runtime, name, version);
  const { inputs: expected, outputs: available } = specs(t);
  checkParameters(request.parameters, 'request');
  if (request.inputs.length === 0)
    throw bad(`${name} needs inputs ${expected.map((s) => `'${s.name}'`).join(', ')}`);
  if (request.inputs.length > MAX_V2_TENSORS)
    throw bad(`at most ${MAX_V2_TENSORS} inputs; got ${request.inputs.length}`);
  let rows: number | undefined;
  const feeds: NetworkRequest['inputs'] = {};
  // Inputs without a batch axis (a truncation scalar, a constant, a noise tensor) are fed whole, once per batch.
  const fixed: Record<string, WireTensor> = {};
  let fixedKey = '';
  const unbatched = (n: string) => t.state.inputs.some((r) => r.spec.name === n && !r.batched);
  for (const input of request.inputs) {
    const spec = expected.find((s) => s.name === input.name);
    if (!spec) {
      throw bad(
        `unknown input '${input.name}'; ${name} takes ${expected.map((s) => `'${s.name}'`).join(', ')}`,
      );
    }
    if (feeds[input.name]) throw bad(`input '${input.name}' given twice`);
    checkParameters(input.parameters, 'inputs');
    if (!isV2Datatype(input.datatype) || input.datatype !== spec.datatype) {
      throw bad(`input '${input.name}' has datatype ${input.datatype}; expected ${spec.datatype}`);
    }
    const shape = input.shape;
    if (shape.length !== spec.shape.length) {
      throw bad(
        `input '${input.name}' has shape [${shape}]; expected rank ${spec.shape.length} ([${spec.shape}])`,
      );
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 0 || d > MAX_DIM)) {
      throw bad(`input '${input.name}' has shape [${shape}]; dimensions are whole numbers up to ${MAX_DIM}`);
    }
    shape.forEach((d, i) => {
      if (spec.shape[i] !== -1 && d !== spec.shape[i]) {
        throw bad(`input '${input.name}' has shape [${shape}]; expected [${spec.shape}]`);
      }
    });
    const whole = unbatched(input.name);
    const n = whole ? (rows ?? 1) : (shape[0] ?? 1);
    if (n < 1 || n > MAX_V2_ROWS)
      throw bad(`input '${input.name}' has batch ${n}; expected 1..${MAX_V2_ROWS}`);
    if (!whole && rows !== undefined && n !== rows)
      throw bad(`inputs disagree on the batch size (${rows} and ${n})`);
    if (!whole) rows = n;
    const count = elementCount(shape);
    let values: V2Values;
    if (input.raw !== undefined) {
      if (input.data !== undefined)
        throw bad(`input '${input.name}' has both data and binary data; give one`);
      const bytes = count * DATATYPE_BYTES[spec.datatype];
      if (input.raw.length !== bytes) {
        throw bad(
          `input '${input.name}' has ${input.raw.length} bytes of binary data; shape [${shape}] of ${spec.datatype} needs ${bytes}`,
        );
      }
      values = decodeRaw(spec.datatype, input.raw);
      checkBounds(input.name, spec.bounds, values);
    } else {
      if (input.data === undefined) throw bad(`input '${input.name}' has no data`);
      const numbers = flatten(input.data, spec.datatype === 'BOOL');
      if (numbers === null) throw bad(`input '${input.name}' data must be numbers (flat or nested arrays)`);
      if (numbers.length !== count) {
        throw bad(`input '${input.name}' has ${numbers.length} values; shape [${shape}] needs ${count}`);
      }
      values = valuesFromNumbers(input, spec, numbers);
    }
    if (whole) {
      fixed[input.name] = { type: FEED_TYPE[spec.datatype], data: values, dims: [...shape] };
      fixedKey += `${input.name}=${createHash('sha1')
        .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
        .digest('base64')};`;
    } else {
      feeds[input.name] = { type: FEED_TYPE[spec.datatype], data: values, rowDims: shape.slice(1) };
    }
  }
  // What the client left out and the model can fill itself: constants, seeded noise, a truncation input's default.
  const fillable = t.state.inputs.filter(
    (r) =>
      !feeds[r.spec.name] &&
      !fixed[r.spec.name] &&
      (r.spec.role === 'constant' || r.spec.role === 'noise' || r.spec.role === 'truncation'),
  );
  if (fillable.length > 0) {
    const filled = feedsFor(fillable, { rows: rows ?? 1 }, t.model.manifest.numClasses, t.state.fixed);
    Object.assign(feeds, filled.inputs);
    Object.assign(fixed, filled.fixed);
    fixedKey += filled.fixedKey;
  }
  const missing = expected.filter((s) => !feeds[s.name] && !fixed[s.name]);
  if (missing.length > 0) {
    throw bad(
      `missing input${missing.length > 1 ? 's' : ''} ${missing.map((s) => `'${s.name}'`).join(', ')}`,
    );
  }
  const asked = request.outputs;
  if (asked !== undefined && (asked.length === 0 || asked.length > MAX_V2_TENSORS)) {
    throw bad(
      `outputs must list 1..${MAX_V2_TENSORS} outputs (or be left out for all); got ${asked.length}`,
      'outputs',
    );
  }
  for (const o of asked ?? []) checkParameters(o.parameters, 'outputs');
  const wanted = asked?.map((o) => o.name) ?? available.map((o) => o.name);
  const repeated = wanted.find((n, i) => wanted.indexOf(n) !== i);
  if (repeated !== undefined) throw bad(`output '${repeated}' asked for twice`, 'outputs');
  const outputSpecs = wanted.map((n) => {
    const spec = available.find((o) => o.name === n);
    if (!spec) {
      throw bad(
        `unknown output '${n}'; available: ${available.map((o) => `'${o.name}'`).join(', ')}`,
        'outputs',
      );
    }
    return spec;
  });
  const result = await runtime.run({
    key: modelKey(t.model, t.network),
    model: t.model.name,
    network: t.network,
    rows: rows ?? 1,
    inputs: feeds,
    ...(Object.keys(fixed).length > 0 ? { fixed, fixedKey } : {}),
    outputs: wanted,
  });
  return {
    model_name: name,
    model_version: v2Version(t.model),
    ...(request.id !== undefined && request.id !== '' ? { id: request.id } : {}),
    outputs: outputSpecs.map((spec) => {
      const out = result.outputs[spec.name]!;
      return { name: spec.name, datatype: spec.datatype, shape: out.dims, values: out.data };
    }),
  };
}
