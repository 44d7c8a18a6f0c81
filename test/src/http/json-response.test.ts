/**
 * The yielding JSON serialiser: the same text as JSON.stringify (typed arrays as arrays), the event loop kept free
 * while a 10 MB answer is written, and a byte limit that stops it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/errors.ts';
import { serializeJson } from '../../../src/http/json-response.ts';

const BIG = 1024 * 1024 * 1024;

describe('serializeJson', () => {
  it('writes what JSON.stringify writes, for any JSON value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const text = (await serializeJson(value, { maxBytes: BIG })).toString('utf8');
        expect(text).toBe(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it('follows JSON.stringify on undefined, functions, non-finite numbers, toJSON and long arrays', async () => {
    const long = Array.from({ length: 10_000 }, (_, i) => (i % 997 === 0 ? Number.NaN : i / 7));
    const value = {
      a: undefined,
      f: () => 1,
      n: [1, undefined, Number.POSITIVE_INFINITY, -0, 1e21, 5e-324],
      d: new Date(0),
      nested: { long, mixed: [...long.slice(0, 5000), 'x', { y: null }] },
      s: 'quote " backslash \\ newline \n ünïcødé \u2028',
    };
    const text = (await serializeJson(value, { maxBytes: BIG })).toString('utf8');
    expect(text).toBe(JSON.stringify(value));
  });

  it('writes typed arrays as arrays of numbers, as Array.from would', async () => {
    const f32 = Float32Array.from({ length: 9000 }, (_, i) => Math.sin(i) * 1e3);
    f32[17] = Number.NaN;
    const value = {
      f32,
      i32: Int32Array.of(-1, 2, 3),
      u8: Uint8Array.of(0, 255),
      big: BigInt64Array.of(-5n, 9n),
    };
    const parsed = JSON.parse((await serializeJson(value, { maxBytes: BIG })).toString('utf8'));
    const expected = Array.from(f32, (v) => (Number.isFinite(v) ? v : null));
    expect(parsed).toEqual({ f32: expected, i32: [-1, 2, 3], u8: [0, 255], big: [-5, 9] });
  });

  it('keeps the event loop free while writing 800,000 numbers (a v2 answer of 1,024 rows)', async () => {
    const rows = Array.from({ length: 1024 }, (_, r) =>
      Float32Array.from({ length: 784 }, (_, i) => Math.cos(r * 784 + i)),
    );
    const value = { outputs: [{ name: 'image', shape: [1024, 28, 28, 1], data: rows }] };
    let longest = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 1);
    const body = await serializeJson(value, { maxBytes: BIG });
    clearInterval(timer);
    expect(body.length).toBeGreaterThan(8_000_000);
    // Other callbacks ran all along: JSON.stringify of it lets none run for its whole 100–400 ms. (Slices are ~5 ms;
    // the longest gap is not asserted, since a loaded 2-core machine can pause any process that long.)
    expect(ticks, `longest gap ${longest.toFixed(0)} ms`).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(body.toString('utf8')).outputs[0].data[1023][783]).toBeCloseTo(
      Math.fround(Math.cos(1023 * 784 + 783)),
      6,
    );
  });

  it('refuses a body past maxBytes with GAN_ERR_RESPONSE_TOO_LARGE naming the field', async () => {
    const value = { images: Array.from({ length: 100 }, () => 'x'.repeat(10_000)) };
    const err = await serializeJson(value, {
      maxBytes: 500_000,
      field: 'count',
      hint: 'ask for fewer',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'GAN_ERR_RESPONSE_TOO_LARGE', statusCode: 400, field: 'count' });
    expect((err as Error).message).toMatch(
      /larger than 500000 bytes \(GAN_MAX_RESPONSE_BYTES\); ask for fewer/,
    );
    // Exactly at the limit is fine.
    const exact = JSON.stringify(value).length;
    expect((await serializeJson(value, { maxBytes: exact })).length).toBe(exact);
  });
});
