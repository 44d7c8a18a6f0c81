/**
 * IEEE 754 binary16 ↔ binary32 conversion over raw bits. onnxruntime-node represents a float16 tensor as a
 * Uint16Array of half-precision bit patterns, so feeds are converted with `float32ToFloat16Bits` and outputs read
 * back with `float16BitsToFloat32`. Bit twiddling through one shared Float32Array/Uint32Array view, no tables.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** 2^-24, the smallest float16 subnormal: a subnormal half with mantissa m is m · 2^-24. */
const HALF_SUBNORMAL_UNIT = 2 ** -24;

/** One float32 bit pattern → the nearest float16 bit pattern (round to nearest, ties to even). */
function halfBitsOf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp32 = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp32 === 0xff) {
    // Inf stays Inf; NaN keeps its top payload bits and is made quiet (so a payload only in the low bits stays NaN).
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const exp = exp32 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00; // too large for a half: ±Inf
  if (exp <= 0) {
    // Subnormal half (or zero): below 2^-25 everything rounds to ±0.
    if (exp < -10) return sign;
    const full = mant | 0x800000; // restore the implicit leading 1
    const shift = 14 - exp; // 14…24
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++; // may carry into the smallest normal
    return sign | half;
  }
  let half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and out of the largest finite value gives Inf: both correct.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/**
 * float32 values → IEEE 754 binary16 bit patterns, rounded to nearest (ties to even); values beyond ±65504 round
 * to ±Inf (from 65520 up), tiny values to subnormals or ±0, NaN stays NaN.
 * @param src float32 [n]
 * @returns uint16 [n] of half-precision bits, the form onnxruntime takes for a 'float16' tensor
 */
export function float32ToFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    out[i] = halfBitsOf(u32[0]!);
  }
  return out;
}

/**
 * IEEE 754 binary16 bit patterns → float32 values (exact: every half is a float32).
 * @param src uint16 [n] of half-precision bits, e.g. the data of an onnxruntime 'float16' tensor
 * @returns float32 [n]
 */
export function float16BitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      const magnitude = mant * HALF_SUBNORMAL_UNIT; // exact in float32 (zero included)
      out[i] = h & 0x8000 ? -magnitude : magnitude;
      continue;
    }
    const sign = (h & 0x8000) << 16;
    u32[0] = exp === 0x1f ? sign | 0x7f800000 | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
    out[i] = f32[0]!;
  }
  return out;
}
