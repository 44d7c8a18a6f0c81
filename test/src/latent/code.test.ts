import { describe, expect, it } from 'vitest';
import { codeOfRow, codesOf, setCode } from '../../../src/latent/code.ts';
import { latentsForSeeds } from '../../../src/latent/random-state.ts';

describe('codeOfRow', () => {
  it('is the index of the largest of the first K entries, from the offset', () => {
    const v = Float32Array.from([9, 0.5, 2, -1, 0.1, /* row 2 */ 0, 3, 1, 5, 99]);
    expect(codeOfRow(v, 0, 4)).toBe(0);
    expect(codeOfRow(v, 1, 3)).toBe(1); // 0.5, 2, -1
    expect(codeOfRow(v, 5, 4)).toBe(3); // 0, 3, 1, 5; the 99 is past K
  });
});

describe('setCode', () => {
  it('moves the largest code entry to the wanted position and keeps the row a permutation of itself', () => {
    const dim = 10;
    const latents = latentsForSeeds([11, 12, 13], dim);
    const before = Array.from(latents);
    setCode(latents, 0, dim, 4, 2);
    setCode(latents, 1, dim, 4, 7); // 7 mod 4 = 3
    expect([codeOfRow(latents, 0, 4), codeOfRow(latents, dim, 4)]).toEqual([2, 3]);
    for (const row of [0, 1, 2]) {
      const a = before.slice(row * dim, (row + 1) * dim).sort();
      const b = Array.from(latents.subarray(row * dim, (row + 1) * dim)).sort();
      expect(b).toEqual(a);
    }
    expect(Array.from(latents.subarray(2 * dim))).toEqual(before.slice(2 * dim)); // other rows untouched
  });
});

describe('setCode with tied code entries (hand-made latents)', () => {
  it('still sets the code, raising the target just above the tie', () => {
    const zeros = new Float32Array(8);
    setCode(zeros, 0, 8, 4, 3);
    expect(codeOfRow(zeros, 0, 4)).toBe(3);
    expect(zeros[3]).toBeGreaterThan(0);
    expect(zeros[3]).toBeLessThan(1e-44); // the smallest step a float32 can take
    const tied = Float32Array.from([1, 1, 0, -2, 5]);
    setCode(tied, 0, 5, 4, 1);
    expect(codeOfRow(tied, 0, 4)).toBe(1);
    expect(Array.from(tied.subarray(2))).toEqual([0, -2, 5]);
    const negative = Float32Array.from([-1, -1, -1, -3]);
    setCode(negative, 0, 4, 3, 2);
    expect(codeOfRow(negative, 0, 3)).toBe(2);
    expect(negative[2]).toBeGreaterThan(-1);
    expect(negative[2]).toBeLessThan(-0.9999999);
  });
});

describe('codesOf', () => {
  it('reads every row', () => {
    const latents = latentsForSeeds([1, 2, 3, 4], 12);
    expect(Array.from(codesOf(latents, 4, 12, 5))).toEqual(
      [0, 1, 2, 3].map((r) => codeOfRow(latents, r * 12, 5)),
    );
  });
});
