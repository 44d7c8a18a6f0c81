/**
 * Uploads that cost far more than their size: a multipart body past the total body limit (each part under the
 * per-file limit), a 32 KB PNG of 1 × 16,777,216 pixels that takes seconds to decode, and a JSON body of small files
 * that decode to tens of millions of pixels. Each is refused from headers alone, before it is buffered or decoded.
 */
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackPng } from '../../../scripts/images/crafted-png.ts';
import { json, startTestApp, type TestApp } from '../../helpers/app.ts';

const LIMIT = 1024 * 1024;

let t: TestApp;
let port: number;
beforeAll(async () => {
  t = await startTestApp({
    models: [{}],
    config: { GAN_BODY_LIMIT_BYTES: String(LIMIT), GAN_MAX_IMAGES_PER_REQUEST: '16' },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await t.close();
});

/** A PNG of random pixels: `side`² × 3 bytes that do not compress. */
async function noisePng(side: number, seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(side * side * 3);
  let x = seed;
  for (let i = 0; i < pixels.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pixels[i] = x >>> 24;
  }
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

const BOUNDARY = 'c0st';
function multipartBody(files: Buffer[]): Buffer {
  return Buffer.concat([
    ...files.map((f, i) =>
      Buffer.concat([
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="${i}.png"\r\nContent-Type: image/png\r\n\r\n`,
        ),
        f,
        Buffer.from('\r\n'),
      ]),
    ),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
}

/**
 * POST `body` to /discriminate chunked (no Content-Length), in 64 KiB writes that wait for the socket; stop writing
 * once the answer comes. Resolves with the status and how many bytes were written before it came.
 */
function postChunked(
  body: Buffer,
): Promise<{ status: number; json: { error?: { code: string; field?: string } }; written: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/discriminate',
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'transfer-encoding': 'chunked',
      },
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()), written }),
      );
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    void (async () => {
      for (let at = 0; at < body.length && !answered; at += 64 * 1024) {
        const piece = body.subarray(at, at + 64 * 1024);
        written += piece.length;
        if (!req.write(piece)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              req.off('drain', done).off('close', done);
              resolve();
            };
            req.on('drain', done).on('close', done);
          });
        }
      }
      if (!answered) req.end();
    })().catch(() => {});
  });
}

describe('multipart bodies count against GAN_BODY_LIMIT_BYTES as a whole', () => {
  it('refuses parts that are each under the file limit but together over the body limit, from content-length', async () => {
    const files = await Promise.all([1, 2, 3, 4, 5].map((s) => noisePng(330, s)));
    for (const f of files) expect(f.length).toBeLessThan(LIMIT);
    const payload = multipartBody(files);
    expect(payload.length).toBeGreaterThan(LIMIT);
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload,
    });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json().error).toMatchObject({ code: 'GAN_ERR_PAYLOAD_TOO_LARGE', field: 'body' });
    // Under the limit the same files are scored.
    const ok = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: multipartBody(files.slice(0, 2)),
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().results).toHaveLength(2);
  });

  it('counts a chunked body as it streams and stops reading it past the limit', async () => {
    // 12 parts of 0.9 MiB, 10.8 MiB in all: each part is under the per-file limit, the body ten times the total.
    const part = Buffer.alloc(Math.floor(LIMIT * 0.9), 7);
    const body = multipartBody(new Array(12).fill(part));
    const res = await postChunked(body);
    expect(res.status).toBe(413);
    expect(res.json.error).toMatchObject({ code: 'GAN_ERR_PAYLOAD_TOO_LARGE', field: 'body' });
    // The answer came long before the body was sent: reading stopped near the limit (plus socket buffers).
    expect(res.written).toBeLessThan(body.length / 2);
    // The service still serves.
    const ok = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'image/png' },
      payload: blackPng(28, 28),
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('image decode cost', () => {
  it('refuses a 32 KB PNG of 1 × 16,777,216 pixels from its header, before decoding it', async () => {
    const thin = blackPng(1, 16_777_216);
    expect(thin.length).toBeLessThan(40_000);
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'image/png' },
      payload: thin,
    });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json().error).toMatchObject({ code: 'GAN_ERR_PAYLOAD_TOO_LARGE', field: 'body' });
    expect(res.json().error.message).toMatch(/GAN_MAX_IMAGE_SIDE/);
  });

  it('refuses an image whose aspect ratio is far from the model’s, naming the limit', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...json({ images: [blackPng(28, 28).toString('base64'), blackPng(16, 4096).toString('base64')] }),
    });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'GAN_ERR_IMAGE_ASPECT_RATIO', field: 'images[1]' });
    expect(res.json().error.message).toMatch(/16x4096, 256 times taller than the model's 28x28.*limit is 8/);
    // 8:1 is still taken.
    const ok = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'image/png' },
      payload: blackPng(28, 224),
    });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses a request whose images together pass GAN_MAX_DECODE_PIXELS before decoding any', async () => {
    // Three 4096×4096 images of 16 KB each: 50,331,648 pixels, over the default 33,554,432.
    const big = blackPng(4096, 4096).toString('base64');
    expect(big.length).toBeLessThan(30_000);
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...json({ images: [big, big, big] }),
    });
    expect(res.statusCode, res.body).toBe(413);
    expect(res.json().error).toMatchObject({ code: 'GAN_ERR_PAYLOAD_TOO_LARGE', field: 'images' });
    expect(res.json().error.message).toMatch(/50331648 pixels together; the limit is 33554432/);
    // Two of them fit the budget and are scored.
    const two = await t.app.inject({ method: 'POST', url: '/discriminate', ...json({ images: [big, big] }) });
    expect(two.statusCode, two.body).toBe(200);
  });

  it('keeps libvips’ own words out of the answer for a corrupt image', async () => {
    // A valid header over pixel data cut short: sharp reads the size, then libpng fails mid-image.
    const png = await noisePng(64, 9);
    const corrupt = png.subarray(0, png.length / 2);
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'image/png' },
      payload: corrupt,
    });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error.code).toBe('GAN_ERR_UNDECODABLE_IMAGE');
    expect(res.json().error.message).not.toMatch(/vips|libpng|read error/i);
    expect(res.json().error.message).toMatch(/PNG image data is corrupt or truncated/);
  });
});
