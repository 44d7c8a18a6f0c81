/**
 * The categorical code an InfoGAN-style generator reads from z itself (Chen et al. 2016): the index of the largest
 * of z's first K entries, uniform over the K categories for z ~ N(0, I). The trainer's LatentCode layer computes it
 * inside the generator (trainer/models/latent-code.ts); these are the same rule on plain arrays, for the trainer's
 * sample grids and for /generate's `code`.
 */

/** The code of one latent held in `values` from `offset`: the index of the largest of its first `categories`. */
export function codeOfRow(values: Float32Array, offset: number, categories: number): number {
  let best = 0;
  for (let j = 1; j < categories; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}

/** The code of every row of `latents` (float32 [rows, latentDim]). */
export function codesOf(
  latents: Float32Array,
  rows: number,
  latentDim: number,
  categories: number,
): Int32Array {
  return Int32Array.from({ length: rows }, (_, i) => codeOfRow(latents, i * latentDim, categories));
}

const bits = new DataView(new ArrayBuffer(4));

/** The next float32 above `x` (x finite). */
function nextFloat32Up(x: number): number {
  if (x === 0) return 1.401298464324817e-45; // the smallest subnormal
  bits.setFloat32(0, x);
  bits.setInt32(0, bits.getInt32(0) + (x > 0 ? 1 : -1));
  return bits.getFloat32(0);
}

/**
 * Gives row `row` of `latents` (float32 [rows, latentDim]) the code `code % categories` by swapping its largest code
 * entry into that position: a permutation of z's entries, so the row stays a draw from N(0, I). Where the largest
 * value is shared (a hand-made latent such as all zeros), the target is raised to the next float32 above it, since
 * the code is the first of tied entries.
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
  if (codeOfRow(latents, base, categories) !== code % categories) {
    latents[target] = nextFloat32Up(latents[target]!);
  }
}
