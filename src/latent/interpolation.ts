/**
 * Paths between two latents: linear, and spherical (slerp) for Gaussian latents, whose mass lies near a sphere
 * of radius √latentDim. A lerp between two such latents cuts through the sphere (its midpoint has norm ≈ r/√2
 * for near-orthogonal endpoints, a region the generator rarely saw); slerp follows the great circle and keeps the
 * norm between the endpoints' (White 2016, "Sampling Generative Networks"). Pure: no I/O.
 */

export const INTERPOLATION_METHODS = ['slerp', 'lerp'] as const;
export type InterpolationMethod = (typeof INTERPOLATION_METHODS)[number];

/**
 * Below this sin(angle) the endpoints are treated as (anti)parallel: slerp's 1/sin(Ω) weights blow up and the
 * great circle is undefined (antiparallel), so slerp falls back to lerp.
 */
const PARALLEL_SIN = 1e-6;

/** Writes the point at t of one path into `out` at `offset`; t = 0 and t = 1 give the endpoints exactly. */
type Interpolant = (t: number, out: Float32Array, offset: number) => void;

function checkPair(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) {
    throw new RangeError(`expected latents of the same length, got ${a.length} and ${b.length}`);
  }
}

function linear(a: Float32Array, b: Float32Array): Interpolant {
  return (t, out, offset) => {
    for (let i = 0; i < a.length; i++) out[offset + i] = a[i]! + (b[i]! - a[i]!) * t;
  };
}

/**
 * Spherical interpolation over the angle between a and b (as directions); the weights apply to the vectors as
 * given, so the norm moves smoothly from |a| to |b|. Falls back to lerp for (anti)parallel or zero vectors.
 */
function spherical(a: Float32Array, b: Float32Array): Interpolant {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  const denom = Math.sqrt(na * nb);
  const cos = denom > 0 ? Math.min(1, Math.max(-1, dot / denom)) : 1;
  const omega = Math.acos(cos);
  const sin = Math.sin(omega);
  if (!(sin > PARALLEL_SIN)) return linear(a, b);
  return (t, out, offset) => {
    const wa = Math.sin((1 - t) * omega) / sin;
    const wb = Math.sin(t * omega) / sin;
    for (let i = 0; i < a.length; i++) out[offset + i] = wa * a[i]! + wb * b[i]!;
  };
}

function interpolant(a: Float32Array, b: Float32Array, method: InterpolationMethod): Interpolant {
  checkPair(a, b);
  const inner = method === 'slerp' ? spherical(a, b) : linear(a, b);
  // Exact endpoints, so a path's ends reproduce the latents (and images) they came from bit for bit.
  return (t, out, offset) => {
    if (t === 0) out.set(a, offset);
    else if (t === 1) out.set(b, offset);
    else inner(t, out, offset);
  };
}

/**
 * Linear interpolation a + t(b − a).
 * @param a float32 [latentDim]
 * @param b float32 [latentDim]
 * @param t position along the path, 0 → a, 1 → b
 * @returns float32 [latentDim]
 */
export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const out = new Float32Array(a.length);
  interpolant(a, b, 'lerp')(t, out, 0);
  return out;
}

/**
 * Spherical interpolation: sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, Ω the angle between a and b; lerp when
 * they are (anti)parallel.
 * @param a float32 [latentDim]
 * @param b float32 [latentDim]
 * @param t position along the path, 0 → a, 1 → b
 * @returns float32 [latentDim]
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const out = new Float32Array(a.length);
  interpolant(a, b, 'slerp')(t, out, 0);
  return out;
}

/** The positions of `steps` evenly spaced points from 0 to 1 inclusive. */
export function pathTimes(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new RangeError(`expected steps ≥ 2, got ${steps}`);
  return Array.from({ length: steps }, (_, i) => (i === steps - 1 ? 1 : i / (steps - 1)));
}

/**
 * `steps` evenly spaced latents from `from` to `to`, both included exactly.
 * @param from float32 [latentDim]
 * @param to float32 [latentDim]
 * @returns float32 [steps, latentDim]
 */
export function path(
  from: Float32Array,
  to: Float32Array,
  steps: number,
  method: InterpolationMethod,
): Float32Array {
  const at = interpolant(from, to, method);
  const times = pathTimes(steps);
  const out = new Float32Array(steps * from.length);
  times.forEach((t, i) => {
    at(t, out, i * from.length);
  });
  return out;
}
