/**
 * The v2 datatypes' raw encoding: little-endian bytes, row-major, FP16 as IEEE binary16 bits, and decoding from any
 * byte offset of a body.
 */
import { describe, expect, it } from 'vitest';
import {
  DATATYPE_BYTES,
  datatypeOfOnnx,
  decodeRaw,
  encodeRaw,
  fromNumbers,
  toNumbers,
} from '../../../src/services/v2-tensors.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('v2 tensor datatypes', () => {
  it('maps ONNX types to v2 datatypes, and nothing else', () => {
    expect(['float32', 'float16', 'int32', 'int64', 'bool'].map(datatypeOfOnnx)).toEqual([
      'FP32',
      'FP16',
      'INT32',
      'INT64',
      'BOOL',
    ]);
    expect(datatypeOfOnnx('string')).toBeNull();
    expect(datatypeOfOnnx('uint8')).toBeNull();
  });

  it('encodes little-endian, row-major, no padding', () => {
    expect(hex(encodeRaw('FP32', Float32Array.from([1, -2])))).toBe('0000803f000000c0');
    expect(hex(encodeRaw('INT32', Int32Array.from([1, -1])))).toBe('01000000ffffffff');
    expect(hex(encodeRaw('INT64', BigInt64Array.from([258n])))).toBe('0201000000000000');
    expect(hex(encodeRaw('BOOL', Uint8Array.from([1, 0, 1])))).toBe('010001');
    for (const [dt, width] of Object.entries(DATATYPE_BYTES)) {
      const values = fromNumbers(dt as keyof typeof DATATYPE_BYTES, [0, 1, 0, 1]);
      expect(encodeRaw(dt as keyof typeof DATATYPE_BYTES, values).length, dt).toBe(4 * width);
    }
  });

  it('encodes FP16 as binary16 bits (round to nearest, overflow to Infinity) and decodes them back exactly', () => {
    const values = Float32Array.from([1, -2, 0.5, 65504, 1e-8, 70000, Number.NaN]);
    const bytes = encodeRaw('FP16', values);
    expect(hex(bytes)).toBe('003c00c00038ff7b0000007c007e');
    expect(Array.from(decodeRaw('FP16', bytes) as Float32Array)).toEqual([
      1,
      -2,
      0.5,
      65504,
      0,
      Infinity,
      Number.NaN,
    ]);
  });

  it('decodes from any byte offset into a fresh array that does not share the body', () => {
    const body = Buffer.concat([Buffer.from([9]), Buffer.from(Float32Array.from([1.5, -3]).buffer)]);
    const values = decodeRaw('FP32', body.subarray(1)) as Float32Array;
    expect(Array.from(values)).toEqual([1.5, -3]);
    expect(values.buffer).not.toBe(body.buffer);
    body.fill(0);
    expect(Array.from(values)).toEqual([1.5, -3]);
    expect(toNumbers(decodeRaw('INT64', encodeRaw('INT64', BigInt64Array.from([-5n, 7n]))))).toEqual([-5, 7]);
  });
});
