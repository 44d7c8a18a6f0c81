/**
 * Messages between the main thread and inference workers. Tensor data crosses as transferred ArrayBuffers,
 * never copied or serialised.
 */
import type { ExecutionProvider } from '../config.ts';
import type { ThreadSettings } from './providers.ts';

export type TensorType = 'float32' | 'int32' | 'int64';
export type TensorData = Float32Array | Int32Array | BigInt64Array;

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
 * Turn a float output into uint8 pixels inside the worker, off the event loop; with `png`, go on and encode each
 * image as a PNG there too (the worker then returns PNGs, not pixels).
 */
export interface ImagePostprocess {
  kind: 'image-uint8';
  output: string;
  range: [number, number];
  layout: 'NHWC' | 'NCHW';
  height: number;
  width: number;
  channels: number;
  png?: { scale: number };
}

/** One PNG per image, back to back in one buffer: image i is `data[offsets[i], offsets[i + 1])`. */
export interface PackedPngs {
  data: Uint8Array;
  offsets: number[];
}

/** Packs buffers into one freshly allocated buffer (safe to transfer: never a slice of Node's shared pool). */
export function packPngs(pngs: readonly Uint8Array[]): PackedPngs {
  const offsets = [0];
  for (const p of pngs) offsets.push(offsets[offsets.length - 1]! + p.length);
  const data = new Uint8Array(offsets[offsets.length - 1]!);
  pngs.forEach((p, i) => {
    data.set(p, offsets[i]!);
  });
  return { data, offsets };
}

/** PNGs `from` … `to − 1` of a packed set, as views. */
export function unpackPngs(packed: PackedPngs, from = 0, to = packed.offsets.length - 1): Uint8Array[] {
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
      postprocess?: ImagePostprocess;
    }
  | { type: 'release' };

export type FromWorker =
  | { type: 'loaded'; sessions: SessionInfo[] }
  | {
      type: 'result';
      id: number;
      outputs: Record<string, WireTensor>;
      /** The post-processed image output (uint8, NHWC), when asked for without `png`. */
      pixels?: Uint8Array;
      /** One PNG per image, when asked for with `png`. */
      pngs?: PackedPngs;
      computeMs: number;
    }
  | { type: 'error'; id: number; message: string }
  | { type: 'released' };

export function transferList(tensors: Iterable<{ data: ArrayBufferView }>, extra: ArrayBufferView[] = []) {
  const out: ArrayBuffer[] = [];
  for (const t of tensors) out.push(t.data.buffer as ArrayBuffer);
  for (const v of extra) out.push(v.buffer as ArrayBuffer);
  return out;
}
