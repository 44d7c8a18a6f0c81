/**
 * Model control while serving (Triton's repository extension): load a model copied in at run time, reload it with
 * new weights under load, unload it with a long request in flight, keep the old version when a reload fails, and
 * pick up folders in poll mode. Real runtime, real workers, real routes.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { json, startPerTest, type TestApp } from '../../helpers/app.ts';

const start = startPerTest();

const generate = (t: TestApp, body: unknown) =>
  t.app.inject({ method: 'POST', url: '/generate', ...json(body) });
const control = (t: TestApp, url: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url, headers });
const index = async (t: TestApp) =>
  (await control(t, '/v2/repository/index')).json<
    Array<{ name: string; version: string; state: string; reason: string }>
  >();

describe('model control', () => {
  it('loads a model copied into the folder while serving, and lists every folder with its state', async () => {
    const t = await start({ models: [{}] });
    await writeFixtureModel(t.dir, { name: 'late' });
    expect((await generate(t, { model: 'late', seed: 1 })).statusCode).toBe(404);
    expect(await index(t)).toEqual([
      { name: 'late', version: '', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'tiny', version: '1', state: 'READY', reason: '' },
    ]);
    const res = await control(t, '/v2/repository/models/late/load');
    expect(res.statusCode).toBe(200);
    expect((await generate(t, { model: 'late', seed: 1 })).statusCode).toBe(200);
    expect((await index(t)).find((e) => e.name === 'late')).toEqual({
      name: 'late',
      version: '1',
      state: 'READY',
      reason: '',
    });
    const metrics = (await t.app.inject('/metrics')).body;
    expect(metrics).toMatch(/gan_model_loads_total\{model="late",outcome="success"\} 1/);
    expect(metrics).toMatch(/gan_model_state\{model="late",state="READY"\} 1/);
  });

  it('reloads with new weights under load: outputs change, no request fails during the swap', async () => {
    const t = await start({ models: [{ name: 'swap', seed: 1 }] });
    const before = (await generate(t, { model: 'swap', seed: 5 })).rawPayload;
    await writeFixtureModel(t.dir, { name: 'swap', seed: 2 });
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) statuses.push((await generate(t, { model: 'swap', seed: 5, count: 4 })).statusCode);
    })();
    const res = await control(t, '/v2/repository/models/swap/load');
    stop = true;
    await load;
    expect(res.statusCode).toBe(200);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const after = (await generate(t, { model: 'swap', seed: 5 })).rawPayload;
    expect(after.equals(before)).toBe(false);
    expect((await index(t)).find((e) => e.name === 'swap')?.version).toBe('2');
    // v2 names the version it serves.
    const meta = (await t.app.inject('/v2/models/swap-generator')).json<{ versions: string[] }>();
    expect(meta.versions).toEqual(['2']);
    expect((await t.app.inject('/v2/models/swap-generator/versions/1')).statusCode).toBe(404);
  });

  it('unloads with a long request in flight: that request completes 200, new ones get 503 then 404', async () => {
    const t = await start({ models: [{}, { name: 'slow', hidden: 4096, latentDim: 64 }] });
    // Four batches of 64 through a wide hidden layer: still running when the unload comes.
    const long = generate(t, { model: 'slow', seed: 0, count: 256, format: 'json' });
    const until = async (ok: () => boolean | Promise<boolean>) => {
      while (!(await ok())) await new Promise((r) => setTimeout(r, 2));
    };
    await until(() => t.app.runtime.busy); // the long request is in the scheduler
    const unload = control(t, '/v2/repository/models/slow/unload');
    await until(async () => (await index(t)).find((e) => e.name === 'slow')?.state === 'UNLOADING');
    const during = await generate(t, { model: 'slow', seed: 1 });
    expect(during.statusCode).toBe(503);
    expect(during.json<{ error: { message: string } }>().error.message).toBe("model 'slow' is unloading");
    expect((await long).statusCode).toBe(200);
    expect((await unload).statusCode).toBe(200);
    expect((await generate(t, { model: 'slow', seed: 1 })).statusCode).toBe(404);
    expect((await index(t)).find((e) => e.name === 'slow')).toEqual({
      name: 'slow',
      version: '1',
      state: 'UNAVAILABLE',
      reason: 'unloaded',
    });
    // Its sessions are gone from the worker, not only from the list.
    await expect(
      t.app.runtime.run({
        key: 'slow/generator',
        model: 'slow',
        network: 'generator',
        rows: 1,
        inputs: { z: { type: 'float32', data: new Float32Array(64), rowDims: [64] } },
        outputs: ['image'],
      }),
    ).rejects.toMatchObject({ code: 'GAN_ERR_INFERENCE_FAILED' });
    // The other model never noticed.
    expect((await generate(t, { model: 'tiny', seed: 1 })).statusCode).toBe(200);
  });

  it('keeps the old version serving when a reload fails, and says why in the index and the answer', async () => {
    const t = await start({ models: [{ name: 'keep' }] });
    const before = (await generate(t, { model: 'keep', seed: 3 })).rawPayload;
    await writeFile(join(t.dir, 'keep', 'generator.onnx'), 'not an onnx file');
    const res = await control(t, '/v2/repository/models/keep/load');
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/^failed to load 'keep': .*generator\.onnx/);
    const again = await generate(t, { model: 'keep', seed: 3 });
    expect(again.statusCode).toBe(200);
    expect(again.rawPayload.equals(before)).toBe(true);
    const entry = (await index(t)).find((e) => e.name === 'keep')!;
    expect(entry.state).toBe('READY');
    expect(entry.version).toBe('1');
    expect(entry.reason).toMatch(/^serving version 1; version 2 failed: /);
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
  });

  it('v1 routes: load and unload answer the model entry; unknown names are 404 or 400 with the reason', async () => {
    const t = await start({ models: [{}] });
    const gone = await control(t, '/v1/models/nothing/unload');
    expect(gone.statusCode).toBe(404);
    const missing = await control(t, '/v1/models/nothing/load');
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ error: { code: string; message: string } }>().error.code).toBe(
      'GAN_ERR_MODEL_LOAD_FAILED',
    );
    const unloaded = await control(t, '/v1/models/tiny/unload');
    expect(unloaded.json()).toEqual({ name: 'tiny', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    const loaded = await control(t, '/v1/models/tiny/load');
    expect(loaded.json()).toEqual({ name: 'tiny', version: '2', state: 'READY', reason: '' });
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200); // the default model again
  });

  it('explicit mode loads only GAN_LOAD_MODELS at start; the API loads the rest', async () => {
    const t = await start({
      models: [{}, { conditional: true }],
      config: { GAN_MODEL_CONTROL: 'explicit', GAN_LOAD_MODELS: 'tiny-conditional' },
    });
    expect([...t.app.runtime.models.keys()]).toEqual(['tiny-conditional']);
    expect(t.app.runtime.defaultModel).toBe('tiny-conditional');
    expect((await index(t)).find((e) => e.name === 'tiny')?.reason).toBe(
      'not loaded (GAN_MODEL_CONTROL=explicit)',
    );
    expect((await control(t, '/v2/repository/models/tiny/load')).statusCode).toBe(200);
    expect((await generate(t, { model: 'tiny', seed: 1 })).statusCode).toBe(200);
  });

  it('poll mode: a new folder loads, a removed one unloads', async () => {
    const t = await start({ models: [{}], config: { GAN_MODEL_CONTROL: 'poll', GAN_POLL_SECONDS: '1' } });
    await writeFixtureModel(t.dir, { name: 'dropped-in' });
    const deadline = Date.now() + 20_000;
    while (!t.app.runtime.models.has('dropped-in') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await generate(t, { model: 'dropped-in', seed: 1 })).statusCode).toBe(200);
    await rm(join(t.dir, 'dropped-in'), { recursive: true });
    while (t.app.runtime.models.has('dropped-in') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await generate(t, { model: 'dropped-in', seed: 1 })).statusCode).toBe(404);
  });

  it('needs an API key when keys are set', async () => {
    const t = await start({ models: [{}], config: { GAN_API_KEYS: 'k1' } });
    expect((await control(t, '/v2/repository/index')).statusCode).toBe(401);
    expect((await control(t, '/v2/repository/index', { authorization: 'Bearer k1' })).statusCode).toBe(200);
  });
});
