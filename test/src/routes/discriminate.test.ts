import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
let digitA: Buffer;
let digitB: Buffer;
beforeAll(async () => {
  t = await startTestApp({ config: { GAN_MAX_IMAGES_PER_REQUEST: '4', GAN_MAX_IMAGE_PIXELS: '1000000' } });
  const gen = (seed: number) => t.app.inject({ method: 'POST', url: '/generate', ...json({ seed }) });
  digitA = (await gen(1)).rawPayload;
  digitB = (await gen(2)).rawPayload;
});
afterAll(async () => {
  await t.close();
});

interface Verdicts {
  model: string;
  results: Array<{ probabilityReal: number; logit: number }>;
}

function multipart(files: Buffer[], boundary = 'XyZ123') {
  const parts = files.map((f, i) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="d${i}.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      f,
      Buffer.from('\r\n'),
    ]),
  );
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
  };
}

const post = (opts: { headers: Record<string, string>; payload: string | Buffer }, query = '') =>
  t.app.inject({ method: 'POST', url: `/discriminate${query}`, ...opts });

describe('POST /discriminate', () => {
  it('scores a raw PNG: a probability and its logit', async () => {
    const res = await post({ headers: { 'content-type': 'image/png' }, payload: digitA });
    expect(res.statusCode).toBe(200);
    const body = res.json<Verdicts>();
    expect(body.model).toBe('tiny');
    expect(body.results).toHaveLength(1);
    const { probabilityReal, logit } = body.results[0]!;
    expect(probabilityReal).toBeGreaterThan(0);
    expect(probabilityReal).toBeLessThan(1);
    expect(probabilityReal).toBeCloseTo(1 / (1 + Math.exp(-logit)), 12);
  });

  it('gives the same verdicts, in input order, for raw, JSON base64 and multipart bodies', async () => {
    const a = (await post({ headers: { 'content-type': 'image/png' }, payload: digitA })).json<Verdicts>()
      .results[0]!;
    const b = (await post({ headers: { 'content-type': 'image/png' }, payload: digitB })).json<Verdicts>()
      .results[0]!;
    expect(a.logit).not.toBe(b.logit);
    const viaJson = await post(json({ images: [digitB.toString('base64'), digitA.toString('base64')] }));
    expect(viaJson.json<Verdicts>().results).toEqual([b, a]);
    const viaForm = await post(multipart([digitA, digitB]));
    expect(viaForm.statusCode).toBe(200);
    expect(viaForm.json<Verdicts>().results).toEqual([a, b]);
  });

  it('converts JPEG, WebP and large colour images to the model input', async () => {
    const colour = await sharp(digitA)
      .resize(280, 280)
      .toColourspace('srgb')
      .jpeg({ quality: 95 })
      .toBuffer();
    const webp = await sharp(digitA).webp({ lossless: true }).toBuffer();
    for (const [type, payload] of [
      ['image/jpeg', colour],
      ['image/webp', webp],
    ] as const) {
      const res = await post({ headers: { 'content-type': type }, payload });
      expect(res.statusCode).toBe(200);
    }
    const lossless = (
      await post({ headers: { 'content-type': 'image/webp' }, payload: webp })
    ).json<Verdicts>();
    const png = (await post({ headers: { 'content-type': 'image/png' }, payload: digitA })).json<Verdicts>();
    expect(lossless.results[0]!.logit).toBeCloseTo(png.results[0]!.logit, 6);
  });

  it('picks the model from ?model=', async () => {
    const res = await post(
      { headers: { 'content-type': 'image/png' }, payload: digitA },
      '?model=tiny-conditional',
    );
    expect(res.json<Verdicts>().model).toBe('tiny-conditional');
  });

  it.each([
    [
      'an empty body',
      { headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(0) },
      '',
      422,
      'body',
    ],
    [
      'random bytes labelled PNG',
      { headers: { 'content-type': 'image/png' }, payload: Buffer.from('hello world, not a png') },
      '',
      422,
      'body',
    ],
    [
      'an unsupported content type',
      { headers: { 'content-type': 'text/csv' }, payload: 'a,b' },
      '',
      415,
      'content-type',
    ],
    ['JSON without images', json({ images: [] }), '', 400, 'images'],
    ['JSON with a non-base64 image', json({ images: ['***'] }), '', 400, 'images[0]'],
    ['JSON with an unknown field', json({ images: ['AAAA'], extra: 1 }), '', 400, ''],
    [
      'an unknown model',
      { headers: { 'content-type': 'image/png' }, payload: Buffer.from('x') },
      '?model=nope',
      404,
      'model',
    ],
    [
      'a path as model',
      { headers: { 'content-type': 'image/png' }, payload: Buffer.from('x') },
      '?model=../../etc/passwd',
      400,
      'model',
    ],
    [
      'a label for a discriminator without one',
      { headers: { 'content-type': 'image/png' }, payload: Buffer.from('x') },
      '?label=3',
      400,
      'label',
    ],
  ])('rejects %s', async (_name, req, query, status, field) => {
    const res = await post(req as { headers: Record<string, string>; payload: Buffer }, query);
    expect(res.statusCode).toBe(status);
    const err = res.json<{ error: { code: string; field?: string } }>().error;
    expect(err.code).toMatch(/^GAN_ERR_/);
    if (field) expect(err.field).toBe(field);
  });

  it('rejects more files than allowed and images over the pixel limit with 413', async () => {
    const tooMany = await post(multipart([digitA, digitA, digitA, digitA, digitA]));
    expect(tooMany.statusCode).toBe(413);
    const bomb = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const big = await post({ headers: { 'content-type': 'image/png' }, payload: bomb });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('GAN_ERR_PAYLOAD_TOO_LARGE');
  });
});
