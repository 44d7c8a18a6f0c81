/**
 * NumPy's legacy `RandomState` (MT19937 + polar Box-Muller), bit-for-bit, so a seed here gives the same latent
 * as `numpy.random.RandomState(seed).randn(n, latentDim)` in Python.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
export const MAX_SEED = 0xffffffff;

export class RandomState {
  private readonly mt = new Uint32Array(N);
  /** Next word of the current round to hand out. */
  private index = N;
  /** Words of the current round already twisted: the twist runs only as far as draws reach (a latent of 100 needs ~255). */
  private ready = N;
  private hasGauss = false;
  private gauss = 0;

  /** @param seed uint32, as NumPy's `RandomState(seed)` with an int seed (init_genrand). */
  constructor(seed: number) {
    this.reseed(seed);
  }

  /** Start over from `seed`, as a new `RandomState(seed)` would, without allocating its state again. */
  reseed(seed: number): this {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i in uint32 arithmetic.
      mt[i] = Math.imul(1812433253, prev) + i;
    }
    this.index = N;
    this.ready = N;
    this.hasGauss = false;
    this.gauss = 0;
    return this;
  }

  /**
   * Twists words `ready` … `end − 1` of the round, in the same order as genrand_int32's whole-array loop: word k reads
   * the old words k and k + 1 and word k + M (old below N − M, already new above), so stopping early changes nothing.
   */
  private twistTo(end: number): void {
    const mt = this.mt;
    for (let kk = this.ready; kk < end; kk++) {
      const next = kk + 1 === N ? 0 : kk + 1;
      const y = (mt[kk]! & UPPER_MASK) | (mt[next]! & LOWER_MASK);
      const far = kk < N - M ? kk + M : kk + (M - N);
      mt[kk] = mt[far]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.ready = end;
  }

  /** One uint32 from MT19937 (genrand_int32). */
  nextUint32(): number {
    if (this.index >= N) {
      this.index = 0;
      this.ready = 0;
    }
    if (this.index >= this.ready) this.twistTo(Math.min(N, this.ready + 64));
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits, as NumPy's `random_sample`. */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A standard normal draw, as NumPy's `legacy_gauss` (polar method, second value cached). */
  standardNormal(): number {
    if (this.hasGauss) {
      this.hasGauss = false;
      return this.gauss;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.random() - 1;
      x2 = 2 * this.random() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.gauss = f * x1;
    this.hasGauss = true;
    return f * x2;
  }

  /** `randn(count)` as float64, row-major. */
  randn(count: number): Float64Array {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.standardNormal();
    return out;
  }

  /** `randn(count)` written as float32 into `out` from `offset`. */
  fillNormal(out: Float32Array, offset: number, count: number): void {
    for (let i = 0; i < count; i++) out[offset + i] = this.standardNormal();
  }
}

/**
 * The latent for one seed: `RandomState(seed).randn(latentDim)` as float32.
 * @returns float32 [latentDim], standard normal
 */
export function latentForSeed(seed: number, latentDim: number): Float32Array {
  return latentsForSeeds([seed], latentDim);
}

/** Reseeded for each row below and used up before returning, so calls never see each other's state. */
const shared = new RandomState(0);

/**
 * Latents for many seeds, one row per seed (each row from its own `RandomState(seed)`).
 * @returns float32 [seeds.length, latentDim]
 */
export function latentsForSeeds(seeds: readonly number[], latentDim: number): Float32Array {
  const out = new Float32Array(seeds.length * latentDim);
  for (let i = 0; i < seeds.length; i++) shared.reseed(seeds[i]!).fillNormal(out, i * latentDim, latentDim);
  return out;
}
