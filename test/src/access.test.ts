/**
 * Optional access controls: API keys on inference routes, CORS origins, rate limiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { json, type StartOptions, startTestApp, type TestApp } from '../helpers/app.ts';

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
async function start(config: StartOptions['config']) {
  const t = await startTestApp({ models: [{}], config });
  apps.push(t);
  return t;
}

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
