/**
 * From a request's seeds or latents to the generator's input: seed ranges, fresh seeds, truncation.
 */
import { randomInt } from 'node:crypto';
import { latentsForSeeds, MAX_SEED } from './random-state.ts';

/** `count` consecutive seeds from `seed`, wrapping at 2^32 (StyleGAN's `--seeds=a-b`). */
export function seedRange(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (seed + i) % (MAX_SEED + 1));
}

/** Fresh random seeds, reported back so every image can be reproduced. */
export function freshSeeds(count: number): number[] {
  // randomInt's upper bound is exclusive and at most 2^48.
  return Array.from({ length: count }, () => randomInt(0, MAX_SEED + 1));
}

/**
 * Truncation trick: z ← ψ·z, a lerp toward the prior's mean (0 for N(0, 1)). In place.
 * @param z float32 [N, latentDim]
 */
export function truncate(z: Float32Array, psi: number): Float32Array {
  if (psi !== 1) for (let i = 0; i < z.length; i++) z[i] = z[i]! * psi;
  return z;
}

/** Latents for seeds, truncated. @returns float32 [seeds.length, latentDim] */
export function seededLatents(seeds: readonly number[], latentDim: number, psi = 1): Float32Array {
  return truncate(latentsForSeeds(seeds, latentDim), psi);
}
