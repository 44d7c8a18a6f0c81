/**
 * Optional access controls: API keys on inference routes (or on everything but probes), CORS origins, rate
 * limiting per client address (behind a trusted proxy, per forwarded address), counting refused requests too.
 */
import { describe, expect, it } from 'vitest';
import { json, type StartOptions, startPerTest, type TestApp } from '../helpers/app.ts';

const startApp = startPerTest({ models: [{}] });
const start = (config: StartOptions['config']) => startApp(config ? { config } : {});

describe('GAN_API_KEYS', () => {
  it('requires a bearer key on inference routes and exempts health, readiness, metrics and listings', async () => {
    const t = await start({ GAN_API_KEYS: 'k1,k2' });
    const none = await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1 }) });
    expect(none.statusCode).toBe(401);
    expect(none.json().error).toMatchObject({ code: 'GAN_ERR_UNAUTHORIZED', field: 'authorization' });
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      payload: '{"seed":1}',
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k2' },
      payload: '{"seed":1}',
    });
    expect(ok.statusCode).toBe(200);
    const v2 = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer',
      ...json({ inputs: [] }),
    });
    expect(v2.statusCode).toBe(401);
    for (const url of ['/healthz', '/readyz', '/metrics', '/v1/models', '/v2/health/ready']) {
      expect((await t.app.inject(url)).statusCode).toBe(200);
    }
  });
});

describe('GAN_CORS_ORIGINS', () => {
  it('allows the configured origin and exposes the seed headers', async () => {
    const t = await start({ GAN_CORS_ORIGINS: 'https://example.org' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json', origin: 'https://example.org' },
      payload: '{"seed":1}',
    });
    expect(res.headers['access-control-allow-origin']).toBe('https://example.org');
    expect(String(res.headers['access-control-expose-headers'])).toContain('x-seeds');
    const other = await t.app.inject({ url: '/healthz', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no CORS headers when unset', async () => {
    const t = await start({});
    const res = await t.app.inject({ url: '/healthz', headers: { origin: 'https://example.org' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('GAN_RATE_LIMIT_PER_MINUTE', () => {
  it('answers 429 with Retry-After past the limit on inference routes only', async () => {
    const t = await start({ GAN_RATE_LIMIT_PER_MINUTE: '2' });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push((await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: i }) })).statusCode);
    }
    expect(codes).toEqual([200, 200, 429]);
    const limited = await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 9 }) });
    expect(limited.json().error.code).toBe('GAN_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) expect((await t.app.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('GAN_API_KEYS_SCOPE', () => {
  it('all: metrics, OpenAPI, docs and model listings need the key too; probes and the playground stay open', async () => {
    const t = await start({ GAN_API_KEYS: 'k1', GAN_API_KEYS_SCOPE: 'all' });
    const auth = { authorization: 'Bearer k1' };
    for (const url of [
      '/metrics',
      '/openapi.json',
      '/docs',
      '/docs/json',
      '/v1/models',
      '/v1/models/tiny',
      '/v2/models/tiny-generator',
    ]) {
      const none = await t.app.inject(url);
      expect(none.statusCode, url).toBe(401);
      // /v2 answers in the protocol's own shape, {"error": "<message>"}.
      const error = none.json().error;
      expect(url.startsWith('/v2') ? error : error.code, url).toMatch(/GAN_ERR_UNAUTHORIZED|API key/);
      expect((await t.app.inject({ url, headers: auth })).statusCode, url).toBe(200);
    }
    for (const url of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/', '/js/api.js']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
    }
    const generate = await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1 }) });
    expect(generate.statusCode).toBe(401);
  });

  it('all: a CORS preflight, which never carries credentials, is still answered', async () => {
    const t = await start({
      GAN_API_KEYS: 'k1',
      GAN_API_KEYS_SCOPE: 'all',
      GAN_CORS_ORIGINS: 'https://example.org',
    });
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/models',
      headers: { origin: 'https://example.org', 'access-control-request-method': 'GET' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://example.org');
  });

  it('inference (the default): only routes that run models need it', async () => {
    const t = await start({ GAN_API_KEYS: 'k1' });
    for (const url of ['/metrics', '/openapi.json', '/docs', '/v1/models']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
    }
  });
});

describe('rate limits and refused requests', () => {
  it('counts requests refused for a missing or wrong key: an unauthenticated flood is limited too', async () => {
    const t = await start({ GAN_API_KEYS: 'k1', GAN_RATE_LIMIT_PER_MINUTE: '2' });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: i }) })).statusCode);
    }
    expect(codes).toEqual([401, 401, 429, 429]);
    // The bucket is the client's, key or no key.
    const withKey = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k1' },
      payload: '{"seed":1}',
    });
    expect(withKey.statusCode).toBe(429);
  });

  it('GAN_TRUST_PROXY: behind a trusted proxy each forwarded client has its own bucket', async () => {
    const post = (t: TestApp, client: string) =>
      t.app.inject({
        method: 'POST',
        url: '/generate',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
        payload: '{"seed":1}',
      });
    const trusting = await start({ GAN_RATE_LIMIT_PER_MINUTE: '1', GAN_TRUST_PROXY: '127.0.0.1/8' });
    expect((await post(trusting, '203.0.113.1')).statusCode).toBe(200);
    expect((await post(trusting, '203.0.113.2')).statusCode).toBe(200);
    expect((await post(trusting, '203.0.113.1')).statusCode).toBe(429);
    // Without it the header is not believed: every request comes from the proxy, one bucket.
    const plain = await start({ GAN_RATE_LIMIT_PER_MINUTE: '1' });
    expect((await post(plain, '203.0.113.1')).statusCode).toBe(200);
    expect((await post(plain, '203.0.113.2')).statusCode).toBe(429);
  });
});
