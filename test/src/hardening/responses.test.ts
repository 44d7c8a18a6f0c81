/**
 * What every response carries and how large a JSON answer may grow: a cap (GAN_MAX_RESPONSE_BYTES) on /generate's
 * JSON and the diagnostics report, and the same security headers on API answers, errors, the playground and /docs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    models: [{}],
    classifier: true,
    config: { GAN_MAX_RESPONSE_BYTES: '4096' },
  });
});
afterAll(async () => {
  await t.close();
});

describe('GAN_MAX_RESPONSE_BYTES', () => {
  it('refuses a /generate JSON answer past it with 400 naming count, and serves one under it', async () => {
    const big = await t.app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ seed: 1, count: 64, format: 'json', returnLatents: true }),
    });
    expect(big.statusCode, big.body).toBe(400);
    expect(big.json().error).toMatchObject({ code: 'GAN_ERR_RESPONSE_TOO_LARGE', field: 'count' });
    expect(big.json().error.message).toMatch(
      /larger than 4096 bytes \(GAN_MAX_RESPONSE_BYTES\); ask for fewer images/,
    );
    const small = await t.app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ seed: 1, format: 'json' }),
    });
    expect(small.statusCode, small.body).toBe(200);
    expect(small.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(small.headers['content-length'])).toBe(small.rawPayload.length);
    const answer = small.json();
    expect(answer).toMatchObject({ model: 'tiny', images: [{ seed: 1, png: expect.any(String) }] });
    // The same bytes as the PNG answer for that seed.
    const png = await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1 }) });
    expect(Buffer.from(answer.images[0].png, 'base64').equals(png.rawPayload)).toBe(true);
  });

  it('applies to the diagnostics report', async () => {
    const tight = await startTestApp({
      models: [{}],
      classifier: true,
      config: { GAN_MAX_RESPONSE_BYTES: '1024' },
    });
    try {
      const res = await tight.app.inject({
        method: 'POST',
        url: '/v1/models/tiny/diagnostics',
        ...json({ samples: 100 }),
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'GAN_ERR_RESPONSE_TOO_LARGE', field: 'samples' });
      // Under a larger limit the same report is served.
      const ok = await t.app.inject({
        method: 'POST',
        url: '/v1/models/tiny/diagnostics',
        ...json({ samples: 100 }),
      });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ model: 'tiny', samples: 100 });
    } finally {
      await tight.close();
    }
  });
});

describe('security headers', () => {
  const expectApiHeaders = (headers: Record<string, unknown>) => {
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(headers['referrer-policy']).toBe('no-referrer');
  };

  it('on API answers, images and errors: nosniff, no framing, no caching, nothing loaded', async () => {
    expectApiHeaders((await t.app.inject('/v1/models')).headers);
    expectApiHeaders(
      (await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 2 }) })).headers,
    );
    expectApiHeaders(
      (await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: -1 }) })).headers,
    );
    expectApiHeaders((await t.app.inject('/nope')).headers);
    expectApiHeaders((await t.app.inject('/openapi.json')).headers);
  });

  it('on /docs: Swagger UI’s own policy, with nosniff and no framing by other sites', async () => {
    for (const url of ['/docs', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css']) {
      const res = await t.app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      const csp = String(res.headers['content-security-policy']);
      expect(csp, url).toMatch(/default-src 'self'/);
      expect(csp, url).toMatch(/script-src 'self'/);
      expect(csp, url).toMatch(/object-src 'none'/);
    }
  });

  it('on the playground: its own policy kept, nosniff added', async () => {
    const page = await t.app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'self'; img-src 'self' data: blob:/,
    );
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
  });
});
