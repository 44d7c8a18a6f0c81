import { describe, expect, it } from 'vitest';
import {
  defaultColumns,
  floatToPixels,
  pixelsToFloat,
  tileGrid,
  upscaleNearest,
  upscaleRowNearest,
} from '../../../src/imaging/pixels.ts';

describe('floatToPixels', () => {
  it('maps [-1, 1] to [0, 255] with clamp and round', () => {
    const out = floatToPixels(
      Float32Array.from([-1, 1, 0, -5, 5, Number.NaN, 0.001, -0.999]),
      [-1, 1],
      'NHWC',
      2,
      2,
      2,
    );
    expect(Array.from(out)).toEqual([0, 255, 128, 0, 255, 0, 128, 0]);
  });

  it('maps [0, 1] ranges and converts NCHW to NHWC', () => {
    // one 1x2 image with 3 channels, NCHW: R plane [0, 1], G plane [0.5, 0.5], B plane [1, 0]
    const out = floatToPixels(Float32Array.from([0, 1, 0.5, 0.5, 1, 0]), [0, 1], 'NCHW', 1, 2, 3);
    expect(Array.from(out)).toEqual([0, 128, 255, 255, 128, 0]);
  });

  it('rounds half up at every half step of [-1, 1] and [0, 1], and saturates ±Infinity', () => {
    // Values whose scaled x lands exactly on k − 0.5, k and k + 0.5 for every byte k: round half up is floor(x + 0.5).
    for (const [lo, hi] of [
      [-1, 1],
      [0, 1],
    ] as const) {
      const scale = 255 / (hi - lo);
      const xs = Array.from({ length: 511 }, (_, i) => i / 2);
      const values = Float32Array.from(xs, (x) => lo + x / scale);
      const expected = Array.from(values, (v) => {
        const x = (v - lo) * scale;
        return x >= 255 ? 255 : x > 0 ? Math.floor(x + 0.5) : 0;
      });
      expect(Array.from(floatToPixels(values, [lo, hi], 'NHWC', 1, values.length, 1))).toEqual(expected);
    }
    const edges = floatToPixels(Float32Array.from([Infinity, -Infinity]), [-1, 1], 'NHWC', 1, 2, 1);
    expect(Array.from(edges)).toEqual([255, 0]);
  });

  it('rejects a wrong length', () => {
    expect(() => floatToPixels(new Float32Array(5), [-1, 1], 'NHWC', 2, 2, 1)).toThrow(/multiple of 2x2x1/);
  });
});

describe('pixelsToFloat', () => {
  it('inverts floatToPixels within one quantisation step', () => {
    const px = Uint8Array.from([0, 64, 128, 255]);
    const f = pixelsToFloat(px, [-1, 1], 'NHWC', 2, 2, 1);
    expect(f[0]).toBe(-1);
    expect(f[3]).toBe(1);
    expect(Array.from(floatToPixels(f, [-1, 1], 'NHWC', 2, 2, 1))).toEqual(Array.from(px));
  });

  it('writes NCHW planes', () => {
    const f = pixelsToFloat(Uint8Array.from([0, 255, 0, 255, 0, 0]), [0, 1], 'NCHW', 1, 2, 3);
    expect(Array.from(f)).toEqual([0, 1, 1, 0, 0, 0]);
  });
});

describe('tileGrid', () => {
  it('places tiles row-major with gaps', () => {
    const images = Uint8Array.from([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]); // three 2x2 grey tiles
    const grid = tileGrid(images, 3, 2, 2, 1, 2, 1, 9);
    expect(grid.width).toBe(5);
    expect(grid.height).toBe(5);
    expect(Array.from(grid.data)).toEqual([
      1, 1, 9, 2, 2, 1, 1, 9, 2, 2, 9, 9, 9, 9, 9, 3, 3, 9, 9, 9, 3, 3, 9, 9, 9,
    ]);
  });

  it('chooses near-square columns', () => {
    expect(defaultColumns(1)).toBe(1);
    expect(defaultColumns(16)).toBe(4);
    expect(defaultColumns(17)).toBe(5);
  });
});

describe('upscaleNearest', () => {
  it('repeats each pixel scale × scale times, channels kept together', () => {
    const rgb = Uint8Array.of(1, 2, 3, 4, 5, 6); // 1 row, 2 pixels
    expect(Array.from(upscaleNearest(rgb, 1, 2, 3, 2))).toEqual([
      1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6,
    ]);
    const grey = Uint8Array.of(10, 20);
    expect(upscaleNearest(grey, 2, 1, 1, 1)).toBe(grey);
    expect(Array.from(upscaleNearest(grey, 2, 1, 1, 3))).toEqual([
      10, 10, 10, 10, 10, 10, 10, 10, 10, 20, 20, 20, 20, 20, 20, 20, 20, 20,
    ]);
  });

  it('writes one upscaled row into a larger buffer at an offset', () => {
    const out = new Uint8Array(8).fill(9);
    // The second row of a 2×2 greyscale image (bytes 2..3), three times wider, written from offset 1.
    expect(upscaleRowNearest(Uint8Array.of(1, 2, 3, 4), 2, 2, 1, 3, out, 1)).toBe(7);
    expect(Array.from(out)).toEqual([9, 3, 3, 3, 4, 4, 4, 9]);
  });

  it('rejects a wrong size or scale', () => {
    expect(() => upscaleNearest(new Uint8Array(5), 2, 1, 3, 2)).toThrow(/expected 2x1x3 = 6 bytes, got 5/);
    expect(() => upscaleNearest(new Uint8Array(1), 1, 1, 1, 0)).toThrow(/scale ≥ 1, got 0/);
  });
});
