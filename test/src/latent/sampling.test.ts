import { describe, expect, it } from 'vitest';
import { MAX_SEED } from '../../../src/latent/random-state.ts';
import { freshSeeds, seededLatents, seedRange, truncate } from '../../../src/latent/sampling.ts';

describe('sampling', () => {
  it('seed ranges wrap at 2^32', () => {
    expect(seedRange(5, 3)).toEqual([5, 6, 7]);
    expect(seedRange(MAX_SEED, 2)).toEqual([MAX_SEED, 0]);
  });

  it('fresh seeds are uint32 and vary', () => {
    const seeds = freshSeeds(64);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s <= MAX_SEED).toBe(true);
    expect(new Set(seeds).size).toBeGreaterThan(60);
  });

  it('truncation scales toward the mean', () => {
    const z = seededLatents([1], 8);
    const t = seededLatents([1], 8, 0.5);
    z.forEach((v, i) => {
      expect(t[i]).toBeCloseTo(v * 0.5, 6);
    });
    expect(Array.from(truncate(Float32Array.from([2, -4]), 1))).toEqual([2, -4]);
  });
});
