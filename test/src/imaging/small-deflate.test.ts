import { deflateSync, inflateSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { floatToPixels } from '../../../src/imaging/pixels.ts';
import { encodePngSync, scanlines } from '../../../src/imaging/png.ts';
import { adler32, SMALL_DEFLATE_MAX_BYTES, smallDeflate } from '../../../src/imaging/small-deflate.ts';
import { latentsForSeeds, RandomState } from '../../../src/latent/random-state.ts';

/** uint8 noise from a seeded RandomState. */
function noise(length: number, seed: number, max = 256): Uint8Array {
  const rng = new RandomState(seed);
  return Uint8Array.from({ length }, () => Math.floor(rng.random() * max));
}

/** PNG scanlines of a digit-like 28×28 image: a dark background and a bright, uneven stroke. */
function digitScanlines(seed: number): Uint8Array {
  const rng = new RandomState(seed);
  const out = new Uint8Array(29 * 28);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const onStroke = Math.abs(x - 14 - 6 * Math.sin(y / 5 + seed)) < 2 && y > 4 && y < 24;
      out[y * 29 + 1 + x] = onStroke ? 200 + Math.floor(rng.random() * 56) : 0;
    }
  }
  return out;
}

/** The scanlines of the shipped default generator's samples for seeds 0…count − 1, as the service makes them. */
async function generatedScanlines(count: number): Promise<Uint8Array[]> {
  const session = await ort.InferenceSession.create('models/mnist-dcgan/generator.onnx');
  const seeds = Array.from({ length: count }, (_, i) => i);
  const z = new ort.Tensor('float32', latentsForSeeds(seeds, 100), [count, 100]);
  const result = await session.run({ z });
  await session.release();
  const pixels = floatToPixels(result.image!.data as Float32Array, [-1, 1], 'NHWC', 28, 28, 1);
  return seeds.map((i) =>
    scanlines({ data: pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 }, 1),
  );
}

describe('smallDeflate', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(7)],
    ['two bytes', Uint8Array.of(7, 7)],
    ['three equal bytes', Uint8Array.of(9, 9, 9)],
    ['a run longer than the longest match (258)', new Uint8Array(1000)],
    [
      'a digit upscaled twice (long matches, rows repeated)',
      Uint8Array.from({ length: 57 * 56 }, (_, i) => (i % 57 > 20 && i % 57 < 30 ? 255 : 0)),
    ],
    ['a digit-like image', digitScanlines(1)],
    ['noise (stored blocks)', noise(812, 2)],
    ['noise of the largest size', noise(SMALL_DEFLATE_MAX_BYTES, 3)],
    ['few values, every length and distance', noise(SMALL_DEFLATE_MAX_BYTES, 4, 3)],
    [
      'a block repeated 3,000 bytes later',
      (() => {
        const d = noise(SMALL_DEFLATE_MAX_BYTES, 5);
        d.copyWithin(3000, 0, 1000);
        return d;
      })(),
    ],
  ];

  it.each(cases)('round-trips %s through zlib', (_name, data) => {
    const z = smallDeflate(data);
    expect(inflateSync(z).equals(Buffer.from(data))).toBe(true);
    // A valid zlib header (FCHECK) and zlib's own Adler-32 in the trailer.
    expect((z[0]! * 256 + z[1]!) % 31).toBe(0);
    const zlib = deflateSync(data);
    expect(z.readUInt32BE(z.length - 4)).toBe(zlib.readUInt32BE(zlib.length - 4));
    expect(adler32(data)).toBe(zlib.readUInt32BE(zlib.length - 4));
  });

  it('gives the same bytes for the same input', () => {
    const d = digitScanlines(7);
    smallDeflate(noise(4000, 8)); // state left by another call must not leak into the next
    expect(smallDeflate(d).equals(smallDeflate(d))).toBe(true);
  });

  it('compresses generated samples about as well as zlib level 3, and noise by nothing', async () => {
    const samples = await generatedScanlines(32);
    const total = (deflate: (d: Uint8Array) => Uint8Array) =>
      samples.reduce((n, d) => n + deflate(d).length, 0);
    for (const d of samples) expect(inflateSync(smallDeflate(d)).equals(Buffer.from(d))).toBe(true);
    const ours = total(smallDeflate);
    expect(ours).toBeLessThan(1.1 * total((d) => deflateSync(d, { level: 3 })));
    expect(ours).toBeLessThan(0.6 * samples.length * 812);
    const n = noise(812, 9);
    // Stored: 2 header bytes, one 5-byte block header, the data, 4 trailer bytes.
    expect(smallDeflate(n).length).toBe(812 + 11);
  });

  it('refuses inputs past its size', () => {
    expect(() => smallDeflate(new Uint8Array(SMALL_DEFLATE_MAX_BYTES + 1))).toThrow(RangeError);
  });

  it('makes PNGs that sharp decodes to the same pixels', async () => {
    const pixels = noise(28 * 28, 10, 4).map((v, i) => (i % 28 > 10 && i % 28 < 16 ? 250 : v));
    const png = encodePngSync({ data: pixels, width: 28, height: 28, channels: 1 }, 2);
    const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([56, 56, 1]);
    for (let y = 0; y < 56; y++)
      for (let x = 0; x < 56; x++) expect(data[y * 56 + x]).toBe(pixels[(y >> 1) * 28 + (x >> 1)]);
  });
});
