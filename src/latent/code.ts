/**
 * The categorical code an InfoGAN-style generator reads from z itself (Chen et al. 2016): the index of the largest
 * of z's first K entries, uniform over the K categories for z ~ N(0, I). The trainer's LatentCode layer computes it
 * inside the generator (scripts/train/latent-code.ts); these are the same rule on plain arrays, for the trainer's
 * sample grids and for /generate's `code`.
 */

/** The code of one latent held in `values` from `offset`: the index of the largest of its first `categories`. */
export function codeOfRow(values: Float32Array, offset: number, categories: number): number {
  let best = 0;
  for (let j = 1; j < categories; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}

/**
 * Gives row `row` of `latents` (float32 [rows, latentDim]) the code `code % categories` by swapping its largest code
 * entry into that position: a permutation of z's entries, so the row stays a draw from N(0, I).
 */
export function setCode(
  latents: Float32Array,
  row: number,
  latentDim: number,
  categories: number,
  code: number,
): void {
  const base = row * latentDim;
  const best = codeOfRow(latents, base, categories);
  const target = base + (code % categories);
  const t = latents[target]!;
  latents[target] = latents[base + best]!;
  latents[base + best] = t;
}
