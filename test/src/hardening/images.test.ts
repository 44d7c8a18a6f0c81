/**
 * Broken, hostile and unusual image files on /discriminate: each gets a fast 4xx (or a correct 200 for odd but
 * valid images), never a 5xx.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackPng } from '../../../scripts/images/crafted-png.ts';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
let png: Buffer;
beforeAll(async () => {
  t = await startTestApp({
    models: [{}],
    config: { GAN_BODY_LIMIT_BYTES: String(2 * 1024 * 1024), GAN_MAX_IMAGES_PER_REQUEST: '8' },
  });
  png = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
});
afterAll(async () => {
  await t.close();
});

const raw = (type: string, payload: Buffer) =>
  t.app.inject({ method: 'POST', url: '/discriminate', headers: { 'content-type': type }, payload });

/** A valid PNG of width × height greyscale pixels, all zero, that compresses to a few kilobytes at most. */
const bombPng = (width: number, height: number, rows: number) => blackPng(width, height, rows);

function multipart(files: Buffer[]) {
  const b = 'bnd42';
  const parts = files.map((f, i) =>
    Buffer.concat([
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="f"; filename="${i}.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      f,
      Buffer.from('\r\n'),
    ]),
  );
  return t.app.inject({
    method: 'POST',
    url: '/discriminate',
    headers: { 'content-type': `multipart/form-data; boundary=${b}` },
    payload: Buffer.concat([...parts, Buffer.from(`--${b}--\r\n`)]),
  });
}

async function expectStatus(res: Awaited<ReturnType<typeof raw>>, status: number, code?: string) {
  expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
  if (code) expect(res.json().error.code).toBe(code);
}

describe('hostile and broken images', () => {
  it('zero bytes, truncated PNG and JPEG, random bytes labelled PNG → 422', async () => {
    const jpeg = await sharp(png).jpeg().toBuffer();
    await expectStatus(await raw('image/png', Buffer.alloc(0)), 422, 'GAN_ERR_UNDECODABLE_IMAGE');
    await expectStatus(
      await raw('image/png', png.subarray(0, png.length - 30)),
      422,
      'GAN_ERR_UNDECODABLE_IMAGE',
    );
    await expectStatus(await raw('image/jpeg', jpeg.subarray(0, 200)), 422, 'GAN_ERR_UNDECODABLE_IMAGE');
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) % 251));
    await expectStatus(await raw('image/png', random), 422, 'GAN_ERR_UNDECODABLE_IMAGE');
  });

  it('a decompression bomb (tiny file, 100000×100000 pixels) → 413 from the header alone', async () => {
    const bomb = bombPng(100_000, 100_000, 4);
    expect(bomb.length).toBeLessThan(4096);
    await expectStatus(await raw('image/png', bomb), 413, 'GAN_ERR_PAYLOAD_TOO_LARGE');
  });

  it('a format sharp reads but the route does not take → 415', async () => {
    const tiff = await sharp(png).tiff().toBuffer();
    await expectStatus(await raw('image/png', tiff), 415, 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('odd but valid images are scored: animated GIF, 16-bit PNG, CMYK JPEG, alpha, 4×32', async () => {
    // Three different frames (identical ones would be merged by the encoder).
    const frames = Buffer.from(
      Array.from({ length: 28 * 28 * 3 * 3 }, (_, i) => Math.floor(i / (28 * 28 * 3)) * 80),
    );
    const gif = await sharp(frames, { raw: { width: 28, height: 84, channels: 3, pageHeight: 28 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const png16 = await sharp(png).toColourspace('grey16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const cmyk = await sharp(png).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const alpha = await sharp({
      create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } },
    })
      .png()
      .toBuffer();
    // As thin as GAN_MAX_IMAGE_ASPECT_RATIO (8 by default) lets an image be for a square model.
    const thin = await sharp({ create: { width: 4, height: 32, channels: 3, background: '#fff' } })
      .png()
      .toBuffer();
    for (const [type, buf] of [
      ['image/gif', gif],
      ['image/png', png16],
      ['image/jpeg', cmyk],
      ['image/png', alpha],
      ['image/png', thin],
    ] as const) {
      const res = await raw(type, buf);
      expect(res.statusCode, `${type}: ${res.body}`).toBe(200);
      expect(res.json().results[0].probabilityReal).toBeGreaterThan(0);
    }
  });

  it('multipart with too many files or one huge file → 413', async () => {
    await expectStatus(await multipart(new Array(9).fill(png)), 413, 'GAN_ERR_PAYLOAD_TOO_LARGE');
    await expectStatus(await multipart([Buffer.alloc(3 * 1024 * 1024, 1)]), 413, 'GAN_ERR_PAYLOAD_TOO_LARGE');
    await expectStatus(
      await raw('image/png', Buffer.alloc(3 * 1024 * 1024, 1)),
      413,
      'GAN_ERR_PAYLOAD_TOO_LARGE',
    );
  });

  it('still scores a good image afterwards', async () => {
    await expectStatus(await raw('image/png', png), 200);
  });
});
