import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/errors.ts';
import { decodeToModel, encodePng, pngEncoderFor } from '../../../src/imaging/codec.ts';
import { PNG_SIGNATURE } from '../../helpers/app.ts';

const gradient = (w: number, h: number) => Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 256);
const target = { width: 28, height: 28, channels: 1 as const, maxPixels: 1_000_000, field: 'body' };

describe('encodePng', () => {
  it('writes a greyscale PNG that decodes to the same pixels', async () => {
    const data = gradient(28, 28);
    const png = await encodePng({ data, width: 28, height: 28, channels: 1 });
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([28, 28, 1]);
    const raw = await sharp(png).extractChannel(0).raw().toBuffer();
    expect(Buffer.from(data).equals(raw)).toBe(true);
  });

  it('upscales with nearest neighbour', async () => {
    const png = await encodePng(
      { data: Uint8Array.from([0, 255, 255, 0]), width: 2, height: 2, channels: 1 },
      3,
    );
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([6, 6]);
    expect(Array.from(data.subarray(0, 6))).toEqual([0, 0, 0, 255, 255, 255]);
  });

  it('is deterministic', async () => {
    const img = { data: gradient(28, 28), width: 28, height: 28, channels: 1 };
    expect((await encodePng(img, 4)).equals(await encodePng(img, 4))).toBe(true);
  });
});

describe('encodePng: inline, thread-pool and sharp encoders', () => {
  it.each([
    [1, 1, 'inline'],
    [1, 4, 'inline'],
    [3, 1, 'inline'],
    [3, 2, 'inline'],
    [1, 16, 'pool'],
    [3, 5, 'pool'],
    [2, 9, 'pool'],
    [4, 2, 'inline'],
    [3, 48, 'sharp'],
  ] as const)(
    '%i channel(s) at scale %i (%s) decode to the upscaled input',
    async (channels, scale, encoder) => {
      const w = 28;
      const h = 28;
      const data = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37 + 11) % 256);
      expect(pngEncoderFor((w * scale * channels + 1) * h * scale)).toBe(encoder);
      const png = await encodePng({ data, width: w, height: h, channels }, scale);
      const { data: out, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([w * scale, h * scale]);
      expect((await sharp(png).metadata()).channels).toBe(channels);
      // Every output pixel is its source pixel (nearest neighbour), in every channel: corners, an inner pixel and
      // the last output row of a scaled block.
      for (const [x, y] of [
        [0, 0],
        [w * scale - 1, h * scale - 1],
        [13 * scale + (scale - 1), 7 * scale],
        [5 * scale, 20 * scale + (scale - 1)],
      ] as const) {
        const src = (Math.floor(y / scale) * w + Math.floor(x / scale)) * channels;
        const dst = (y * w * scale + x) * info.channels;
        for (let c = 0; c < info.channels; c++) {
          // sharp may read greyscale (+ alpha) back as RGB(A): grey feeds the colour channels, alpha the last.
          const from = info.channels === channels ? c : c < 3 ? 0 : 1;
          expect(out[dst + c]).toBe(data[src + from]);
        }
      }
    },
  );

  it('rejects pixel data of the wrong length or channel count', async () => {
    await expect(encodePng({ data: new Uint8Array(10), width: 2, height: 2, channels: 1 })).rejects.toThrow(
      'expected 2x2x1 = 4 bytes, got 10',
    );
    await expect(encodePng({ data: new Uint8Array(20), width: 2, height: 2, channels: 5 })).rejects.toThrow(
      'expected 1 to 4 channels, got 5',
    );
  });
});

describe('decodeToModel', () => {
  it('converts colour, size and alpha to the model input', async () => {
    const rgba = await sharp({
      create: { width: 56, height: 40, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } },
    })
      .png()
      .toBuffer();
    const img = await decodeToModel(rgba, target);
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([28, 28, 1, 784]);
    expect(img.data[0]).toBe(255);
  });

  it('flattens transparency onto black', async () => {
    const clear = await sharp({
      create: { width: 28, height: 28, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect((await decodeToModel(clear, target)).data[0]).toBe(0);
  });

  it('decodes JPEG and WebP', async () => {
    const base = sharp({
      create: { width: 28, height: 28, channels: 3, background: { r: 128, g: 128, b: 128 } },
    });
    for (const buf of [await base.clone().jpeg().toBuffer(), await base.clone().webp().toBuffer()]) {
      const img = await decodeToModel(buf, target);
      expect(Math.abs(img.data[100]! - 128)).toBeLessThan(4);
    }
  });

  it.each([
    ['empty input', Buffer.alloc(0), 'GAN_ERR_UNDECODABLE_IMAGE'],
    ['random bytes', Buffer.from('not an image at all, just text'), 'GAN_ERR_UNDECODABLE_IMAGE'],
  ])('rejects %s', async (_name, buf, code) => {
    await expect(decodeToModel(buf, target)).rejects.toMatchObject({ code, field: 'body' });
  });

  it('rejects a truncated PNG', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const err = await decodeToModel(png.subarray(0, 60), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).statusCode).toBe(422);
  });

  it('refuses images over the pixel limit before decoding them', async () => {
    const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    await expect(decodeToModel(big, { ...target, maxPixels: 1_000_000 })).rejects.toMatchObject({
      code: 'GAN_ERR_PAYLOAD_TOO_LARGE',
      statusCode: 413,
    });
  });
});
