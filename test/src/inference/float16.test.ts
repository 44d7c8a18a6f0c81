import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder, onnxDataType } from '../../../scripts/onnx/builder.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/inference/float16.ts';

const toHalf = (...values: number[]): number[] => Array.from(float32ToFloat16Bits(Float32Array.from(values)));
const fromHalf = (...bits: number[]): number[] => Array.from(float16BitsToFloat32(Uint16Array.from(bits)));
const isHalfNaN = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const ALL_HALVES = Uint16Array.from({ length: 0x10000 }, (_, i) => i);

describe('float32ToFloat16Bits', () => {
  it('converts exactly representable values', () => {
    expect(toHalf(0, -0, 1, -2, 0.5, 65504, -65504, 2 ** -14)).toEqual([
      0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0xfbff, 0x0400,
    ]);
  });

  it('rounds to nearest: 0.1 → 0x2E66, 1/3 → 0x3555', () => {
    expect(toHalf(0.1, 1 / 3, -0.1)).toEqual([0x2e66, 0x3555, 0xae66]);
  });

  it('makes subnormals below 2^-14 and flushes below 2^-25 to signed zero', () => {
    // 6.1e-5 is just below the smallest normal 2^-14 ≈ 6.1035e-5: 6.1e-5 / 2^-24 = 1023.4 → 0x03FF.
    expect(toHalf(6.1e-5, 6.0e-5, 2 ** -24, -(2 ** -24), 3 * 2 ** -24)).toEqual([
      0x03ff, 0x03ef, 0x0001, 0x8001, 0x0003,
    ]);
    expect(toHalf(2 ** -26, -(2 ** -30), 1e-40)).toEqual([0x0000, 0x8000, 0x0000]);
  });

  it('breaks ties to even, in normals and subnormals', () => {
    // 1 + 2^-11 lies halfway between 0x3C00 and 0x3C01: even wins; 1 + 3·2^-11 between 0x3C01 and 0x3C02.
    expect(toHalf(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20)).toEqual([0x3c00, 0x3c02, 0x3c01]);
    // 2049 and 2051 are halfway (the half spacing is 2 there).
    expect(toHalf(2049, 2051)).toEqual([0x6800, 0x6802]);
    // 2^-25 is halfway between 0 and the smallest subnormal; 3·2^-25 between 0x0001 and 0x0002.
    expect(toHalf(2 ** -25, 3 * 2 ** -25, 2 ** -25 * 1.0001)).toEqual([0x0000, 0x0002, 0x0001]);
    // Rounding up out of the largest subnormal gives the smallest normal.
    expect(toHalf(2 ** -14 - 2 ** -26)).toEqual([0x0400]);
  });

  it('overflows to Inf from 65520 up and keeps Inf and NaN', () => {
    expect(toHalf(65519.99, 65520, -65520, 1e10, Infinity, -Infinity)).toEqual([
      0x7bff, 0x7c00, 0xfc00, 0x7c00, 0x7c00, 0xfc00,
    ]);
    const [nan] = toHalf(Number.NaN);
    expect(isHalfNaN(nan!)).toBe(true);
    // A NaN whose payload is only in the low 13 bits still converts to a NaN, not to Inf.
    const lowPayloadNaN = new Float32Array(new Uint32Array([0x7f800001]).buffer);
    expect(isHalfNaN(float32ToFloat16Bits(lowPayloadNaN)[0]!)).toBe(true);
  });

  it('returns the nearest half for any float32 (ties to even)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        const h = toHalf(x)[0]!;
        const v = fromHalf(h)[0]!;
        if (!Number.isFinite(v)) return Math.abs(x) >= 65520;
        // Neighbours of the same sign (for ±0 and the top finite value, one side only).
        const err = Math.abs(x - v);
        for (const n of [h - 1, h + 1]) {
          if ((n & 0x8000) !== (h & 0x8000) || (n & 0x7fff) > 0x7bff) continue;
          const other = Math.abs(x - fromHalf(n)[0]!);
          if (other < err || (other === err && (h & 1) === 1)) return false;
        }
        return true;
      }),
      { numRuns: 20_000 },
    );
  });

  it('matches onnxruntime Cast(float → float16) bit for bit, ties included', async () => {
    const g = new GraphBuilder('cast');
    g.input('x', 'float32', ['N']);
    g.op('Cast', ['x'], { to: attr.int(onnxDataType('float16')) }, 'y');
    g.output('y', 'float16', ['N']);
    const session = await ort.InferenceSession.create(g.serialize());
    // Every half, the midpoint above each finite half (a tie) and a spread of values across every exponent.
    const halves = float16BitsToFloat32(ALL_HALVES);
    const midpoints = Float32Array.from({ length: 0x7bff }, (_, i) => (halves[i]! + halves[i + 1]!) / 2);
    const spread = Float32Array.from({ length: 20_000 }, (_, i) => Math.sin(i) * 2 ** ((i % 60) - 30));
    const x = new Float32Array([...halves, ...midpoints, ...midpoints.map((m) => -m), ...spread]);
    const out = await session.run({ x: new ort.Tensor('float32', x, [x.length]) });
    const expected = out.y!.data as Uint16Array;
    const actual = float32ToFloat16Bits(x);
    let mismatches = 0;
    for (let i = 0; i < x.length; i++) {
      const same = actual[i] === expected[i] || (isHalfNaN(actual[i]!) && isHalfNaN(expected[i]!));
      if (!same) mismatches++;
    }
    expect(mismatches).toBe(0);
    await session.release();
  });
});

describe('float16BitsToFloat32', () => {
  it('decodes normals, subnormals, zeros, Inf and NaN exactly', () => {
    expect(fromHalf(0x3c00, 0xc000, 0x7bff, 0x0400, 0x3555, 0x2e66)).toEqual([
      1,
      -2,
      65504,
      2 ** -14,
      0.333251953125,
      0.0999755859375,
    ]);
    expect(fromHalf(0x0001, 0x03ff, 0x8001)).toEqual([2 ** -24, 1023 * 2 ** -24, -(2 ** -24)]);
    expect(Object.is(fromHalf(0x8000)[0], -0)).toBe(true);
    expect(fromHalf(0x7c00, 0xfc00)).toEqual([Infinity, -Infinity]);
    expect(fromHalf(0x7e00, 0xfc01).every(Number.isNaN)).toBe(true);
  });

  it('round-trips every non-NaN half through float32 unchanged (all 65,536 patterns)', () => {
    const back = float32ToFloat16Bits(float16BitsToFloat32(ALL_HALVES));
    const wrong = ALL_HALVES.filter((h) => !isHalfNaN(h) && back[h] !== h);
    expect(Array.from(wrong)).toEqual([]);
    // NaN stays NaN (quieted).
    expect(ALL_HALVES.filter(isHalfNaN).every((h) => isHalfNaN(back[h]!))).toBe(true);
  });

  it('round-trips any half as a property (f16 → f32 → f16 is the identity)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }).filter((h) => !isHalfNaN(h)),
        (h) => toHalf(fromHalf(h)[0]!)[0] === h,
      ),
      { numRuns: 5_000 },
    );
  });

  it('is monotonic across the finite positive halves', () => {
    const v = float16BitsToFloat32(ALL_HALVES.subarray(0, 0x7c01));
    for (let i = 1; i < v.length; i++) if (!(v[i]! > v[i - 1]!)) throw new Error(`not increasing at ${i}`);
    expect(v[0x7c00]).toBe(Infinity);
  });
});
