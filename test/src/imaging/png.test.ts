/** The pure-Node PNG reader and writer against sharp (libpng): same pixels, and null wherever it must not decide. */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import sharp, { type PngOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeToModel, decodeWithSharp } from '../../../src/imaging/codec.ts';
import { decodePlainPng, encodePngSync } from '../../../src/imaging/png.ts';

const W = 28;
const H = 28;
/** Edges, flat areas and noise, so every PNG filter type is worth choosing somewhere. */
const pattern = (channels: number) =>
  Uint8Array.from({ length: W * H * channels }, (_, i) => {
    const p = Math.floor(i / channels);
    const x = p % W;
    const y = Math.floor(p / W);
    return x < 9 ? 0 : x < 18 ? (x * 13 + y * 7 + (i % channels) * 50) % 256 : (i * 2654435761) >>> 24;
  });

const opts = (channels: 1 | 3) => ({ width: W, height: H, channels, maxPixels: 1_000_000, field: 'body' });

async function sharpPng(channels: 1 | 3, png: PngOptions): Promise<Buffer> {
  const data = pattern(channels);
  let s = sharp(data, { raw: { width: W, height: H, channels } });
  if (channels === 1) s = s.toColourspace('b-w');
  return s.png(png).toBuffer();
}

/** Rebuilds a PNG with its chunks transformed (to split IDAT, add chunks, or break a CRC). */
function rechunk(
  png: Buffer,
  f: (type: string, body: Buffer) => Array<[string, Buffer]>,
  badCrc = false,
): Buffer {
  const parts: Buffer[] = [png.subarray(0, 8)];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    for (const [t, body] of f(type, png.subarray(at + 8, at + 8 + length))) {
      const out = Buffer.alloc(12 + body.length);
      out.writeUInt32BE(body.length, 0);
      out.write(t, 4, 'latin1');
      body.copy(out, 8);
      out.writeUInt32BE(
        (crc32(out.subarray(4, 8 + body.length)) ^ (badCrc && t === 'IDAT' ? 1 : 0)) >>> 0,
        8 + body.length,
      );
      parts.push(out);
    }
    at += 12 + length;
  }
  return Buffer.concat(parts);
}

describe('decodePlainPng', () => {
  it.each([
    ['greyscale, every filter (adaptive)', 1, { adaptiveFiltering: true, compressionLevel: 9 }],
    ['greyscale, stored (level 0)', 1, { adaptiveFiltering: false, compressionLevel: 0 }],
    ['RGB, every filter (adaptive)', 3, { adaptiveFiltering: true, compressionLevel: 6 }],
    ['RGB, no filters', 3, { adaptiveFiltering: false, compressionLevel: 1 }],
  ] as const)('reads %s exactly as sharp does', async (_name, channels, png) => {
    const file = await sharpPng(channels, png);
    const plain = decodePlainPng(file, { width: W, height: H, channels });
    expect(plain).not.toBeNull();
    expect(Buffer.from(plain!.data).equals(Buffer.from(pattern(channels)))).toBe(true);
    const full = await decodeWithSharp(file, opts(channels));
    expect(Buffer.from(plain!.data).equals(Buffer.from(full.data))).toBe(true);
  });

  it('reads its own writer, split IDAT chunks and text chunks', () => {
    const data = pattern(1);
    const own = encodePngSync({ data, width: W, height: H, channels: 1 });
    const split = rechunk(own, (type, body) =>
      type === 'IDAT'
        ? [
            ['tEXt', Buffer.from('Comment\0made by a test')],
            ['IDAT', body.subarray(0, 10)],
            ['IDAT', body.subarray(10)],
          ]
        : [[type, body]],
    );
    for (const file of [own, split]) {
      expect(
        Buffer.from(decodePlainPng(file, { width: W, height: H, channels: 1 })!.data).equals(
          Buffer.from(data),
        ),
      ).toBe(true);
    }
  });

  it('declines what it must leave to sharp, before inflating anything', async () => {
    const grey = encodePngSync({ data: pattern(1), width: W, height: H, channels: 1 });
    const want = { width: W, height: H, channels: 1 };
    const declined: Array<[string, Buffer, typeof want]> = [
      ['another size', grey, { ...want, width: 27 }],
      ['another channel count', grey, { ...want, channels: 3 }],
      ['interlaced', await sharpPng(1, { progressive: true }), want],
      ['a palette', await sharpPng(1, { palette: true }), want],
      [
        '16-bit',
        await sharp(pattern(1), { raw: { width: W, height: H, channels: 1 } })
          .toColourspace('grey16')
          .png()
          .toBuffer(),
        want,
      ],
      [
        'greyscale + alpha',
        await sharp(pattern(1), { raw: { width: W, height: H, channels: 1 } })
          .ensureAlpha()
          .png()
          .toBuffer(),
        { ...want },
      ],
      [
        'a gamma chunk',
        rechunk(grey, (t, b) =>
          t === 'IDAT'
            ? [
                ['gAMA', Buffer.from([0, 0, 0xb1, 0x8f])],
                [t, b],
              ]
            : [[t, b]],
        ),
        want,
      ],
      ['a broken CRC', rechunk(grey, (t, b) => [[t, b]], true), want],
      ['no IEND (truncated)', grey.subarray(0, grey.length - 12), want],
      ['random bytes', Buffer.from('not a png at all, not even close'), want],
      [
        'IDAT chunks that are not consecutive',
        rechunk(grey, (t, b) =>
          t === 'IDAT'
            ? [
                ['IDAT', b.subarray(0, 10)],
                ['tEXt', Buffer.from('Comment\0between')],
                ['IDAT', b.subarray(10)],
              ]
            : [[t, b]],
        ),
        want,
      ],
      [
        'an IDAT that inflates past the image (a bomb)',
        rechunk(grey, (t, b) => (t === 'IDAT' ? [[t, deflateSync(Buffer.alloc(50_000_000))]] : [[t, b]])),
        want,
      ],
      [
        'an unknown filter type (5)',
        rechunk(grey, (t, b) => {
          if (t !== 'IDAT') return [[t, b]];
          const raw = inflateSync(b);
          raw[0] = 5;
          return [[t, deflateSync(raw)]];
        }),
        want,
      ],
    ];
    for (const [name, file, expected] of declined) {
      expect(decodePlainPng(file, expected), name).toBeNull();
    }
  });

  it('leaves a damaged plain PNG to sharp, which refuses it as undecodable', async () => {
    const grey = encodePngSync({ data: pattern(1), width: W, height: H, channels: 1 });
    const damaged = rechunk(grey, (t, b) => [[t, b]], true);
    await expect(decodeToModel(damaged, opts(1))).rejects.toMatchObject({
      code: 'GAN_ERR_UNDECODABLE_IMAGE',
      statusCode: 422,
    });
  });

  it('decodeToModel answers the same with or without the plain path', async () => {
    for (const channels of [1, 3] as const) {
      const file = await sharpPng(channels, { adaptiveFiltering: true });
      const fast = await decodeToModel(file, opts(channels));
      const full = await decodeWithSharp(file, opts(channels));
      expect([fast.width, fast.height, fast.channels]).toEqual([full.width, full.height, full.channels]);
      expect(Buffer.from(fast.data).equals(Buffer.from(full.data))).toBe(true);
    }
  });
});
