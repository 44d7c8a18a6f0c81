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

/** Turn a float output into uint8 pixels inside the worker, off the event loop. */
export interface ImagePostprocess {
  kind: 'image-uint8';
  output: string;
  range: [number, number];
  layout: 'NHWC' | 'NCHW';
  height: number;
  width: number;
  channels: number;
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
      /** The post-processed image output (uint8, NHWC), when asked for. */
      pixels?: Uint8Array;
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
