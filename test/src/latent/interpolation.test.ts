import { describe, expect, it } from 'vitest';
import { lerp, path, pathTimes, slerp } from '../../../src/latent/interpolation.ts';
import { latentForSeed } from '../../../src/latent/random-state.ts';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const row = (m: Float32Array, i: number, dim: number) => m.subarray(i * dim, (i + 1) * dim);
const cosine = (a: Float32Array, b: Float32Array) =>
  a.reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b));

describe('interpolation', () => {
  const dim = 128;
  const a = latentForSeed(1, dim);
  const b = latentForSeed(2, dim);

  it('gives the endpoints exactly, for both methods and any step count', () => {
    for (const method of ['slerp', 'lerp'] as const) {
      for (const steps of [2, 3, 8, 64]) {
        const p = path(a, b, steps, method);
        expect(p.length).toBe(steps * dim);
        expect(row(p, 0, dim)).toEqual(a);
        expect(row(p, steps - 1, dim)).toEqual(b);
      }
      expect((method === 'slerp' ? slerp : lerp)(a, b, 0)).toEqual(a);
      expect((method === 'slerp' ? slerp : lerp)(a, b, 1)).toEqual(b);
    }
  });

  it('lerp: the midpoint is the mean of the endpoints', () => {
    const mid = lerp(a, b, 0.5);
    mid.forEach((v, i) => {
      expect(v).toBeCloseTo((a[i]! + b[i]!) / 2, 6);
    });
    expect(Array.from(lerp(Float32Array.of(0, 2), Float32Array.of(4, -2), 0.25))).toEqual([1, 1]);
  });

  it('slerp keeps Gaussian latents near their sphere while lerp cuts through it', () => {
    // Two independent 128-d Gaussians are nearly orthogonal, both of norm ≈ √128.
    expect(Math.abs(cosine(a, b))).toBeLessThan(0.3);
    const lo = Math.min(norm(a), norm(b));
    const hi = Math.max(norm(a), norm(b));
    const p = path(a, b, 9, 'slerp');
    for (let i = 0; i < 9; i++) {
      const n = norm(row(p, i, dim));
      expect(n).toBeGreaterThan(lo * 0.98);
      expect(n).toBeLessThan(hi * 1.02);
    }
    // lerp's midpoint shrinks to about |a|/√2 for orthogonal endpoints.
    const lerpMid = norm(lerp(a, b, 0.5));
    expect(lerpMid).toBeLessThan(lo * 0.85);
    expect(norm(slerp(a, b, 0.5))).toBeGreaterThan(lerpMid * 1.2);
  });

  it('slerp moves along the great circle: equal angles per step, at a constant norm for equal-norm endpoints', () => {
    const x = Float32Array.of(1, 0, 0);
    const y = Float32Array.of(0, 1, 0);
    const p = path(x, y, 5, 'slerp');
    for (let i = 0; i < 5; i++) {
      const v = row(p, i, 3);
      expect(norm(v)).toBeCloseTo(1, 6);
      expect(Math.atan2(v[1]!, v[0]!)).toBeCloseTo((i / 4) * (Math.PI / 2), 6);
    }
  });

  it('slerp falls back to lerp for parallel, antiparallel and zero endpoints', () => {
    const x = Float32Array.of(1, 2, 3);
    const cases: Array<[Float32Array, Float32Array]> = [
      [x, x.map((v) => v * 3)],
      [x, x.map((v) => -v)],
      [new Float32Array(3), x],
      [x, x],
    ];
    for (const [p, q] of cases) {
      const s = slerp(p, q, 0.3);
      expect(s.every(Number.isFinite)).toBe(true);
      const l = lerp(p, q, 0.3);
      s.forEach((v, i) => {
        expect(v).toBeCloseTo(l[i]!, 6);
      });
    }
    // Antiparallel: the lerp passes through the origin at the midpoint.
    expect(
      Array.from(
        slerp(
          x,
          x.map((v) => -v),
          0.5,
        ),
      ),
    ).toEqual([0, 0, 0]);
  });

  it('spaces steps evenly from 0 to 1 and rejects bad input', () => {
    expect(pathTimes(5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(pathTimes(2)).toEqual([0, 1]);
    expect(() => pathTimes(1)).toThrow(/steps ≥ 2, got 1/);
    expect(() => path(a, Float32Array.of(1), 4, 'slerp')).toThrow(/same length, got 128 and 1/);
  });
});
