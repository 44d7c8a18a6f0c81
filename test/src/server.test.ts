/**
 * The real process: start-up failures end with a clear message (no stack trace), SIGTERM drains in-flight work.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, waitFor, waitReady } from '../../scripts/service-process.ts';
import { writeFixtureModel } from '../fixtures/models.ts';
import { tempDir } from '../helpers/app.ts';

let empty: string;
let models: string;
beforeAll(async () => {
  empty = await tempDir();
  models = await tempDir();
  await writeFixtureModel(models, { hidden: 16384 });
});
afterAll(async () => {
  await rm(empty, { recursive: true, force: true });
  await rm(models, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('gan-serve process', () => {
  it('exits 1 with a clear message when the models folder is empty', async () => {
    const svc = await startService({ GAN_MODELS_DIR: empty });
    expect(await svc.exited).toBe(1);
    expect(svc.output()).toMatch(/cannot start:\n.*no models found/);
    noStack(svc.output());
  });

  it('exits 1 naming a bad setting', async () => {
    const svc = await startService({ GAN_MODELS_DIR: models, GAN_MAX_BATCH: 'lots' });
    expect(await svc.exited).toBe(1);
    expect(svc.output()).toMatch(/GAN_MAX_BATCH/);
    noStack(svc.output());
  });

  it('on SIGTERM turns unready, finishes every accepted request, releases workers and exits 0', async () => {
    const svc = await startService({
      GAN_MODELS_DIR: models,
      GAN_MAX_BATCH: '256',
      GAN_INTRA_OP_THREADS: '1',
    });
    await waitReady(svc);
    const requests = Array.from({ length: 3 }, (_, i) =>
      fetch(`${svc.url}/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ seed: i, count: 256 }),
      }).then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength })),
    );
    // Wait until work is queued behind the running batch: every request has been accepted.
    await waitFor(
      svc,
      async () =>
        /gan_queue_depth\{model="tiny"\} [1-9]/.test(await (await fetch(`${svc.url}/metrics`)).text()),
      'queued work',
    );
    svc.child.kill('SIGTERM');
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const r of results) expect(r.bytes).toBeGreaterThan(100);
    expect(await svc.exited).toBe(0);
    expect(svc.output()).toMatch(/shut down cleanly/);
    await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
  });
});
