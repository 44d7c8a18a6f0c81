/**
 * From what a request means (latents, classes, w-space latents, images, a truncation ψ) to the tensors a network
 * takes, input by input according to each input's role. Constants and seeded noise are built once per model
 * (`fixedTensors`) and fed unchanged with every batch.
 */
import type { TensorData, TensorType, WireTensor } from '../inference/protocol.ts';
import type { RowInput } from '../inference/scheduler.ts';
import { RandomState } from '../latent/random-state.ts';
import type { InputSpec } from './manifest.ts';
import type { ResolvedInput } from './metadata-check.ts';

/** Row data by role; a role the network takes but the values lack is an error in the caller. */
export interface FeedValues {
  rows: number;
  /** float32 [rows, latentDim] */
  latents?: Float32Array;
  /** float32 [rows, ...the w-latent row shape] */
  ws?: Float32Array;
  /** float32 [rows, ...image row dims], in the discriminator's range and layout */
  images?: Float32Array;
  /** One class id per row (conditional models). */
  labels?: readonly number[] | null;
  /** ψ for a truncation input. */
  truncation?: number;
}

export interface Feeds {
  inputs: Record<string, RowInput>;
  fixed: Record<string, WireTensor>;
  fixedKey: string;
}

/** The wire type a manifest dtype travels as: float16 travels as float32 (the worker converts). */
export function wireType(dtype: InputSpec['dtype']): TensorType {
  return dtype === 'float16' ? 'float32' : dtype;
}

function filled(type: TensorType, size: number, value: number): TensorData {
  if (type === 'int64') return new BigInt64Array(size).fill(BigInt(Math.trunc(value)));
  if (type === 'int32') return new Int32Array(size).fill(Math.trunc(value));
  if (type === 'bool') return new Uint8Array(size).fill(value ? 1 : 0);
  return new Float32Array(size).fill(value);
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Class ids as the input's dtype. */
function classIndexData(labels: readonly number[], type: TensorType): TensorData {
  if (type === 'int64') return BigInt64Array.from(labels, (l) => BigInt(l));
  if (type === 'int32') return Int32Array.from(labels);
  return Float32Array.from(labels);
}

/** One-hot rows [rows, classes]. */
export function oneHot(labels: readonly number[], classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => {
    out[i * classes + l] = 1;
  });
  return out;
}

/**
 * The tensors of a model's constant and noise inputs, drawn once (noise from RandomState(seed), standard normal ×
 * std). Batched ones hold one row; `feedsFor` repeats it per row.
 */
export function fixedTensors(inputs: readonly ResolvedInput[]): Map<string, WireTensor> {
  const out = new Map<string, WireTensor>();
  for (const { spec, dims } of inputs) {
    if (spec.role === 'constant') {
      const type = wireType(spec.dtype);
      out.set(spec.name, { type, data: filled(type, product(dims), spec.value), dims });
    } else if (spec.role === 'noise') {
      const data = Float32Array.from(new RandomState(spec.seed).randn(product(dims)), (v) => v * spec.std);
      out.set(spec.name, { type: 'float32', data, dims });
    }
  }
  return out;
}

function repeatRows(t: WireTensor, rows: number): TensorData {
  const size = t.data.length;
  const out =
    t.data instanceof Float32Array
      ? new Float32Array(size * rows)
      : t.data instanceof Int32Array
        ? new Int32Array(size * rows)
        : t.data instanceof BigInt64Array
          ? new BigInt64Array(size * rows)
          : new Uint8Array(size * rows);
  for (let r = 0; r < rows; r++)
    (out as { set(a: ArrayLike<unknown>, o: number): void }).set(t.data, r * size);
  return out;
}

/** `value`, or an error naming what this network lacked. */
function need<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`no ${what} given for this network`);
  return value;
}

/**
 * The feeds of one network for `values.rows` rows.
 * @param numClasses the model's classes (for one-hot rows), or null
 * @param fixed the model's constant and noise tensors (`fixedTensors`)
 */
export function feedsFor(
  inputs: readonly ResolvedInput[],
  values: FeedValues,
  numClasses: number | null,
  fixed: ReadonlyMap<string, WireTensor>,
): Feeds {
  const out: Feeds = { inputs: {}, fixed: {}, fixedKey: '' };
  const { rows } = values;
  for (const { spec, dims, batched } of inputs) {
    const type = wireType(spec.dtype);
    switch (spec.role) {
      case 'latent':
        out.inputs[spec.name] = { type, data: need(values.latents, 'latents'), rowDims: dims };
        break;
      case 'w-latent':
        out.inputs[spec.name] = { type, data: need(values.ws, 'w latents'), rowDims: dims };
        break;
      case 'image':
        out.inputs[spec.name] = { type, data: need(values.images, 'images'), rowDims: dims };
        break;
      case 'class-index': {
        const labels = values.labels ?? new Array<number>(rows).fill(0);
        out.inputs[spec.name] = { type, data: classIndexData(labels, type), rowDims: dims };
        break;
      }
      case 'class-onehot': {
        const labels = values.labels ?? new Array<number>(rows).fill(0);
        out.inputs[spec.name] = { type, data: oneHot(labels, need(numClasses, 'numClasses')), rowDims: dims };
        break;
      }
      case 'truncation': {
        const psi = values.truncation ?? spec.default;
        out.fixed[spec.name] = { type, data: new Float32Array(product(dims)).fill(psi), dims };
        out.fixedKey += `${spec.name}=${psi};`;
        break;
      }
      case 'constant':
      case 'noise': {
        const t = need(fixed.get(spec.name), `tensor for ${spec.role} input '${spec.name}'`);
        if (batched) out.inputs[spec.name] = { type: t.type, data: repeatRows(t, rows), rowDims: dims };
        else out.fixed[spec.name] = t;
        break;
      }
    }
  }
  return out;
}
