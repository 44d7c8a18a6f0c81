import { describe, expect, it } from 'vitest';
import { parseIdx } from '../../../trainer/data/idx.ts';

/** An IDX buffer: magic 0x0000 <dtype> <ndim>, big-endian uint32 sizes, data. */
function idx(shape: number[], data: number[], dtype = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = dtype;
  header[3] = shape.length;
  shape.forEach((s, i) => {
    view.setUint32(4 + 4 * i, s);
  });
  return new Uint8Array([...header, ...data]);
}

describe('parseIdx', () => {
  it('reads shape and data of a crafted 2×3 image file', () => {
    const out = parseIdx(idx([1, 2, 3], [0, 1, 2, 253, 254, 255]));
    expect(out.shape).toEqual([1, 2, 3]);
    expect(Array.from(out.data)).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it('reads sizes above 255 big-endian', () => {
    const out = parseIdx(idx([300], new Array(300).fill(7)));
    expect(out.shape).toEqual([300]);
    expect(out.data.length).toBe(300);
  });

  it('rejects a bad magic, a non-ubyte dtype, a short header and a size mismatch', () => {
    const bad = idx([2], [1, 2]);
    bad[0] = 1;
    expect(() => parseIdx(bad)).toThrow(/magic/);
    expect(() => parseIdx(idx([2], [1, 2], 0x0d))).toThrow('expected unsigned byte data (0x08), got 0xd');
    expect(() => parseIdx(new Uint8Array([0, 0, 8]))).toThrow('expected at least 4 header bytes, got 3');
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0]))).toThrow('expected 12 header bytes, got 6');
    expect(() => parseIdx(idx([2, 2], [1, 2, 3]))).toThrow('expected 4 data bytes for shape [2, 2], got 3');
  });
});
