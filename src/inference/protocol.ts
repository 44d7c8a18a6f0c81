/**
 * Messages between the main thread and inference workers. Tensor data crosses as transferred ArrayBuffers,
 * never copied or serialised.
 */
import type { ExecutionProvider } from '../config.ts';
import type { ThreadSettings } from './providers.ts';

export type TensorType = 'float32' | 'int32' | 'int64' | 'bool';
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/**
 * A tensor on the wire. Float inputs always travel as float32: the worker converts them to float16 for a session
 * that takes float16, and float16 outputs come back as float32.
 */
export interface WireTensor {
  type: TensorType;
  data: TensorData;
  dims: number[];
}

/** The identity of one ONNX network in the pool: `<model>/<network>`. */
export type NetworkKey = string;

export interface SessionSpec {
  key: NetworkKey;
  file: string;
}

/**
 * Per-row post-processing the worker applies to one output right after the run, off the event loop: a step
 * registered in `row-steps.ts` (by name) turns the output into one opaque byte buffer per row, which the scheduler
 * splits between the requests of a batch without knowing what the bytes are.
 */
export interface RowPostprocess {
  /** The registered step, e.g. `pixels` (uint8 NHWC) or `png`. */
  step: string;
  /** The output it applies to; that output comes back with empty data. */
  output: string;
  /** The step's settings (plain data: they cross to the worker). */
  options: Readonly<Record<string, unknown>>;
  /** Requests batch together only with the same `key` (the step and its settings). */
  key: string;
}

/** One buffer per row, back to back in one buffer: row i is `data[offsets[i], offsets[i + 1])`. */
export interface PackedRows {
  data: Uint8Array;
  offsets: number[];
}

/**
 * The one buffer `rows` are back-to-back views of, from its start to its end, or null: rows cut from one array need no
 * copy to be packed or joined.
 */
export function wholeBuffer(rows: readonly Uint8Array[]): Uint8Array | null {
  const first = rows[0];
  if (first?.byteOffset !== 0) return null;
  let end = 0;
  for (const r of rows) {
    if (r.buffer !== first.buffer || r.byteOffset !== end) return null;
    end += r.length;
  }
  return end === first.buffer.byteLength ? new Uint8Array(first.buffer, 0, end) : null;
}

/**
 * Packs buffers into one buffer safe to transfer (never a slice of Node's shared pool): rows that already fill one
 * array of their own (the pixels of a batch) are used as they are, others are copied into a fresh one.
 */
export function packRows(rows: readonly Uint8Array[]): PackedRows {
  const offsets = [0];
  for (const p of rows) offsets.push(offsets[offsets.length - 1]! + p.length);
  const whole = wholeBuffer(rows);
  if (whole && !(whole.buffer instanceof SharedArrayBuffer)) return { data: whole, offsets };
  const data = new Uint8Array(offsets[offsets.length - 1]!);
  rows.forEach((p, i) => {
    data.set(p, offsets[i]!);
  });
  return { data, offsets };
}

/** Rows `from` … `to − 1` of a packed set, as views. */
export function unpackRows(packed: PackedRows, from = 0, to = packed.offsets.length - 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = from; i < to; i++) out.push(packed.data.subarray(packed.offsets[i], packed.offsets[i + 1]));
  return out;
}

export interface ValueInfo {
  name: string;
  type: string;
  /** Dimensions; strings or -1 are symbolic (dynamic). */
  shape: Array<number | string> | null;
}

export interface SessionInfo {
  key: NetworkKey;
  provider: ExecutionProvider | null;
  skipped: Array<{ provider: ExecutionProvider; reason: string }>;
  error: string | null;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export type ToWorker =
  | {
      type: 'load';
      sessions: SessionSpec[];
      providers: ExecutionProvider[];
      threads: ThreadSettings;
    }
  | {
      type: 'run';
      id: number;
      key: NetworkKey;
      feeds: Record<string, WireTensor>;
      outputs: string[];
      postprocess?: RowPostprocess;
    }
  /** Load more sessions into a running worker (a model loaded or reloaded while serving). */
  | {
      type: 'add';
      id: number;
      sessions: SessionSpec[];
      providers: ExecutionProvider[];
      threads: ThreadSettings;
    }
  /** Release some sessions (a model unloaded, or the old version of a reloaded one). */
  | { type: 'remove'; id: number; keys: NetworkKey[] }
  | { type: 'release' };

export type FromWorker =
  | { type: 'loaded'; sessions: SessionInfo[] }
  | {
      type: 'result';
      id: number;
      outputs: Record<string, WireTensor>;
      /** The post-processed output, one buffer per row, when `postprocess` was asked for. */
      rows?: PackedRows;
      computeMs: number;
    }
  | { type: 'error'; id: number; message: string }
  | { type: 'added'; id: number; sessions: SessionInfo[] }
  | { type: 'removed'; id: number }
  | { type: 'released' };

export function transferList(tensors: Iterable<{ data: ArrayBufferView }>, extra: ArrayBufferView[] = []) {
  const out: ArrayBuffer[] = [];
  for (const t of tensors) out.push(t.data.buffer as ArrayBuffer);
  for (const v of extra) out.push(v.buffer as ArrayBuffer);
  return out;
}
