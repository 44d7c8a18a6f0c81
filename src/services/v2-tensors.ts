/**
 * The Open Inference Protocol's tensor datatypes and their two encodings: numbers (JSON `data`, gRPC `contents`)
 * and raw bytes (the HTTP binary tensor data extension, gRPC `raw_input_contents` / `raw_output_contents`): flat,
 * row-major, little-endian, no padding. FP16 travels as IEEE 754 binary16 bits; inside the service it is float32.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from '../inference/float16.ts';

export const V2_DATATYPES = ['FP32', 'FP16', 'INT32', 'INT64', 'BOOL'] as const;
export type V2Datatype = (typeof V2_DATATYPES)[number];

/** Bytes per element in the raw encoding. */
export const DATATYPE_BYTES: Record<V2Datatype, number> = { FP32: 4, FP16: 2, INT32: 4, INT64: 8, BOOL: 1 };

/** A tensor's values inside the service: float32 for FP32 and FP16, 0/1 bytes for BOOL. */
export type V2Values = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** The datatype of an ONNX tensor type, or null for one the protocol layer does not carry. */
export function datatypeOfOnnx(type: string): V2Datatype | null {
  switch (type) {
    case 'float32':
      return 'FP32';
    case 'float16':
      return 'FP16';
    case 'int32':
      return 'INT32';
    case 'int64':
      return 'INT64';
    case 'bool':
      return 'BOOL';
    default:
      return null;
  }
}

export const isV2Datatype = (s: string): s is V2Datatype => (V2_DATATYPES as readonly string[]).includes(s);

/** Elements in a tensor of this shape. */
export const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the bytes of each `width`-byte element in place (for a big-endian host). */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let at = 0; at < bytes.length; at += width) bytes.subarray(at, at + width).reverse();
}

/** A copy of `bytes` in a fresh, aligned buffer in host byte order. */
function hostOrderCopy(bytes: Uint8Array, width: number): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(copy, width);
  return copy.buffer;
}

/**
 * Raw little-endian bytes → values. The caller checks the length first (`bytes.length` = elements × width).
 * @returns a fresh array (never a view of `bytes`), safe to hand to a worker
 */
export function decodeRaw(datatype: V2Datatype, bytes: Uint8Array): V2Values {
  const width = DATATYPE_BYTES[datatype];
  const buffer = hostOrderCopy(bytes, width);
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buffer);
    case 'FP16':
      return float16BitsToFloat32(new Uint16Array(buffer));
    case 'INT32':
      return new Int32Array(buffer);
    case 'INT64':
      return new BigInt64Array(buffer);
    case 'BOOL':
      return new Uint8Array(buffer);
  }
}

/** Values → raw little-endian bytes (a view of `values` where nothing needs converting). */
export function encodeRaw(datatype: V2Datatype, values: V2Values): Uint8Array {
  const source = datatype === 'FP16' ? float32ToFloat16Bits(values as Float32Array) : values;
  const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (LITTLE_ENDIAN || DATATYPE_BYTES[datatype] === 1) return bytes;
  const copy = Uint8Array.from(bytes);
  swapBytes(copy, DATATYPE_BYTES[datatype]);
  return copy;
}

/** Numbers (already checked to fit the datatype: integers for INT*, 0/1 for BOOL) → values. */
export function fromNumbers(datatype: V2Datatype, values: readonly number[]): V2Values {
  switch (datatype) {
    case 'FP32':
    case 'FP16':
      return Float32Array.from(values);
    case 'INT32':
      return Int32Array.from(values);
    case 'INT64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'BOOL':
      return Uint8Array.from(values);
  }
}

/** Values → numbers, for JSON and gRPC typed contents. FP16 values are the float32 the half widens to. */
export function toNumbers(values: V2Values): number[] {
  if (values instanceof BigInt64Array) return Array.from(values, (v) => Number(v));
  return Array.from(values);
}
