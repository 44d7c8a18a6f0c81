import { describe, expect, it } from 'vitest';
import {
  convPads,
  deconvAxis,
  scaleAlongAxis,
  subPixelAxis,
  transpose,
} from '../../../trainer/export/tensor-math.ts';

describe('transpose', () => {
  it('matches np.transpose on a 2×3×4 array', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const t = transpose(data, [2, 3, 4], [2, 0, 1]); // → [4, 2, 3]
    // out[k, i, j] = data[i, j, k] = 12i + 4j + k
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) expect(t[k * 6 + i * 3 + j]).toBe(12 * i + 4 * j + k);
  });

  it('HWIO kernel → OIHW', () => {
    const dims = [2, 2, 1, 3];
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const t = transpose(data, dims, [3, 2, 0, 1]);
    // out[o, 0, h, w] = data[h, w, 0, o] = 3(2h + w) + o
    expect(Array.from(t)).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  });
});

describe('scaleAlongAxis', () => {
  it('scales each slice of the axis by its factor', () => {
    const out = scaleAlongAxis(Float32Array.of(1, 1, 1, 1, 1, 1), [2, 3], 1, Float64Array.of(1, 2, 3));
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3]);
  });
});

describe('convPads (TensorFlow same/valid)', () => {
  it.each([
    // in, kernel, stride, dilation → begin, end
    [28, 4, 1, 1, 1, 2], // even kernel: the odd pixel goes to the end
    [28, 4, 2, 1, 1, 1],
    [28, 5, 2, 1, 1, 2],
    [7, 3, 1, 1, 1, 1],
    [8, 1, 2, 1, 0, 0],
    [9, 3, 1, 2, 2, 2],
    [10, 4, 3, 1, 1, 2],
  ])('same: in %i kernel %i stride %i dilation %i → [%i, %i]', (inSize, k, s, d, begin, end) => {
    expect(convPads('same', inSize, k, s, d)).toEqual({ begin, end });
  });

  it('valid pads nothing', () => {
    expect(convPads('valid', 28, 4, 2)).toEqual({ begin: 0, end: 0 });
  });
});

describe('deconvAxis', () => {
  it('same: out = in·stride with the forward conv padding as crop', () => {
    expect(deconvAxis('same', 7, 4, 2)).toEqual({ begin: 1, end: 1, outputPadding: 0, outSize: 14 });
    expect(deconvAxis('same', 7, 5, 2)).toEqual({ begin: 1, end: 2, outputPadding: 0, outSize: 14 });
    // kernel < stride: the full output is short, output_padding makes up the rest.
    expect(deconvAxis('same', 4, 1, 2)).toEqual({ begin: 0, end: 0, outputPadding: 1, outSize: 8 });
  });

  it('valid: out = in·stride + max(kernel − stride, 0)', () => {
    expect(deconvAxis('valid', 5, 3, 2)).toEqual({ begin: 0, end: 0, outputPadding: 0, outSize: 11 });
    expect(deconvAxis('valid', 5, 2, 3)).toEqual({ begin: 0, end: 0, outputPadding: 1, outSize: 15 });
  });
});

/** Reference 1-D transposed convolution: y[t] = Σ_{j,k: t + crop = s·j + k} x[j]·w[k]. */
function deconv1d(x: number[], w: number[], s: number, crop: number, outSize: number): number[] {
  const y = new Array<number>(outSize).fill(0);
  x.forEach((xv, j) => {
    w.forEach((wv, k) => {
      const t = s * j + k - crop;
      if (t >= 0 && t < outSize) y[t]! += xv * wv;
    });
  });
  return y;
}

/** The sub-pixel form in 1-D: pad, correlate each phase, interleave. */
function subPixel1d(
  x: number[],
  w: number[],
  s: number,
  inSize: number,
  axis: ReturnType<typeof deconvAxis>,
) {
  const p = subPixelAxis(inSize, w.length, s, axis);
  if (!p) return null;
  const padded = [...new Array(p.padBegin).fill(0), ...x, ...new Array(p.padEnd).fill(0)];
  const q = padded.length - p.length + 1;
  const y = new Array<number>(q * s).fill(0);
  for (let r = 0; r < s; r++) {
    for (let i = 0; i < q; i++) {
      let acc = 0;
      for (let b = 0; b < p.length; b++) {
        const tap = p.taps[r]![b]!;
        if (tap >= 0) acc += padded[i + b]! * w[tap]!;
      }
      y[i * s + r] = acc;
    }
  }
  return y;
}

describe('subPixelAxis', () => {
  it('reproduces the transposed convolution for every kernel/stride/padding with out % stride = 0', () => {
    let checked = 0;
    for (const padding of ['same', 'valid'] as const) {
      for (let k = 1; k <= 6; k++) {
        for (let s = 1; s <= 3; s++) {
          for (const n of [3, 4, 7]) {
            const axis = deconvAxis(padding, n, k, s);
            const x = Array.from({ length: n }, (_, i) => Math.sin(i + 1));
            const w = Array.from({ length: k }, (_, i) => Math.cos(i * 2 + 1));
            const expected = deconv1d(x, w, s, axis.begin, axis.outSize);
            const actual = subPixel1d(x, w, s, n, axis);
            if (axis.outSize % s !== 0) {
              expect(actual).toBeNull();
              continue;
            }
            expect(actual).not.toBeNull();
            expect(actual!.length).toBe(expected.length);
            actual!.forEach((v, i) => {
              expect(v).toBeCloseTo(expected[i]!, 12);
            });
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(60);
  });
});
