import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ config: { GAN_EXECUTION_PROVIDERS: 'cuda,cpu' } });
});
afterAll(async () => {
  await t.close();
});

describe('model and health routes', () => {
  it('lists models with the provider actually used and why others were skipped', async () => {
    const res = await t.app.inject('/v1/models');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ default: string; models: Array<Record<string, unknown>> }>();
    expect(body.default).toBe('tiny');
    expect(body.models.map((m) => m.name)).toEqual(['tiny', 'tiny-conditional']);
    const tiny = body.models[0] as {
      ready: boolean;
      latentDim: number;
      conditional: boolean;
      executionProvider: { generator: string; skipped: Array<{ provider: string }> };
    };
    expect(tiny.ready).toBe(true);
    expect(tiny.latentDim).toBe(16);
    expect(tiny.conditional).toBe(false);
    expect(tiny.executionProvider.generator).toBe('cpu');
    expect(tiny.executionProvider.skipped.map((s) => s.provider)).toContain('cuda');
  });

  it('describes one model, 404 for an unknown one', async () => {
    const one = await t.app.inject('/v1/models/tiny-conditional');
    expect(one.json<{ numClasses: number }>().numClasses).toBe(10);
    const missing = await t.app.inject('/v1/models/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: 'GAN_ERR_MODEL_NOT_FOUND', field: 'name' });
  });

  it('answers liveness and readiness', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', workers: { ready: 1, total: 1 } });
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const spec = (await t.app.inject('/openapi.json')).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/generate', '/discriminate', '/v1/models']),
    );
    expect((await t.app.inject('/docs/')).statusCode).toBe(200);
  });

  it('answers unknown routes with the error shape', async () => {
    const res = await t.app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('GAN_ERR_NOT_FOUND');
  });
});
