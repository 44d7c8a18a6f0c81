/**
 * The inference path under concurrency, through the real app: batching gives the same bytes, the event loop stays
 * free while a long run computes, overload and timeouts answer fast, a killed worker is replaced.
 */
import { describe, expect, it } from 'vitest';
import { json, startPerTest, type TestApp } from '../../helpers/app.ts';

const start = startPerTest();

const generate = (t: TestApp, body: unknown) =>
  t.app.inject({ method: 'POST', url: '/generate', ...json(body) });

async function counter(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.app.inject('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('dynamic batching', () => {
  it('coalesces concurrent requests into one run with byte-identical results', async () => {
    const t = await start({ models: [{}], config: { GAN_MAX_BATCH: '16', GAN_BATCH_DELAY_MS: '2000' } });
    const labels = 'model="tiny",network="generator"';
    const before = await counter(t, 'gan_inference_exec_count_total', labels);
    const seeds = Array.from({ length: 16 }, (_, i) => 100 + i);
    const concurrent = await Promise.all(seeds.map((seed) => generate(t, { seed })));
    const execs = (await counter(t, 'gan_inference_exec_count_total', labels)) - before;
    expect(execs).toBeLessThan(16);
    const rows = await counter(t, 'gan_inference_count_total', labels);
    expect(rows).toBeGreaterThanOrEqual(16);

    const alone = await start({ models: [{}], config: { GAN_MAX_BATCH: '1' } });
    for (const [i, seed] of seeds.entries()) {
      const single = await generate(alone, { seed });
      expect(single.rawPayload.equals(concurrent[i]!.rawPayload)).toBe(true);
    }
  });

  it.each([
    ['2 worker threads', { GAN_WORKERS: '2' }],
    ['2 worker processes', { GAN_WORKERS: '2', GAN_WORKER_ISOLATION: 'process' }],
  ] as const)(
    'with %s, concurrent PNG and JSON requests give the bytes of one worker thread',
    async (_name, config) => {
      const reference = await start({ models: [{}], config: { GAN_MAX_BATCH: '1' } });
      const t = await start({ models: [{}], config: { ...config, GAN_MAX_BATCH: '8' } });
      const seeds = Array.from({ length: 24 }, (_, i) => 300 + i);
      const [pngs, jsons] = await Promise.all([
        Promise.all(seeds.map((seed) => generate(t, { seed }))),
        Promise.all([0, 8, 16].map((i) => generate(t, { seeds: seeds.slice(i, i + 8), format: 'json' }))),
      ]);
      const fromJson = jsons.flatMap((r) => (r.json().images as Array<{ png: string }>).map((im) => im.png));
      for (const [i, seed] of seeds.entries()) {
        const expected = (await generate(reference, { seed })).rawPayload;
        expect(pngs[i]!.rawPayload.equals(expected)).toBe(true);
        expect(Buffer.from(fromJson[i]!, 'base64').equals(expected)).toBe(true);
      }
    },
  );

  it('splits a JSON request larger than the batch into worker-encoded PNGs, in seed order', async () => {
    const t = await start({ models: [{}], config: { GAN_MAX_BATCH: '4' } });
    const res = await generate(t, { seed: 20, count: 10, format: 'json' });
    expect(res.statusCode).toBe(200);
    const images = res.json().images as Array<{ seed: number; png: string }>;
    expect(images.map((im) => im.seed)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
    for (const [i, im] of images.entries()) {
      const single = await generate(t, { seed: 20 + i });
      expect(Buffer.from(im.png, 'base64').equals(single.rawPayload)).toBe(true);
    }
  });

  it('never mixes requests that need different outputs into one batch (PNG pixels vs raw v2 tensors)', async () => {
    const t = await start({ models: [{}], config: { GAN_MAX_BATCH: '16', GAN_BATCH_DELAY_MS: '500' } });
    const z = Array.from({ length: 16 }, (_, i) => i / 16);
    const v2 = () =>
      t.app.inject({
        method: 'POST',
        url: '/v2/models/tiny-generator/infer',
        ...json({ inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: z }] }),
      });
    const mixed = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? v2() : generate(t, { latents: [z] }))),
    );
    const png = mixed[0]!.rawPayload;
    for (const [i, res] of mixed.entries()) {
      expect(res.statusCode).toBe(200);
      if (i % 2) expect(res.json().outputs[0].data).toHaveLength(784);
      else expect(res.rawPayload.equals(png)).toBe(true);
    }
  });

  it('answers /healthz while a long generation is still computing', async () => {
    const t = await start({ models: [{ hidden: 16384 }], config: { GAN_MAX_BATCH: '256' } });
    const order: string[] = [];
    const long = generate(t, { seed: 1, count: 256, format: 'json' }).then((r) => {
      order.push('generate');
      return r;
    });
    // Let the request reach the worker, then ask for health.
    await new Promise((resolve) => setImmediate(resolve));
    const health = await t.app.inject('/healthz').then((r) => {
      order.push('healthz');
      return r;
    });
    expect(health.statusCode).toBe(200);
    expect((await long).statusCode).toBe(200);
    expect(order).toEqual(['healthz', 'generate']);
  });
});

describe('overload, timeouts and worker faults', () => {
  it('refuses work beyond the queue limit with 503 and Retry-After, and serves the rest', async () => {
    const t = await start({
      models: [{ hidden: 16384 }],
      config: { GAN_MAX_BATCH: '64', GAN_MAX_QUEUE: '64' },
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => generate(t, { seed: i, count: 64 })),
    );
    const codes = results.map((r) => r.statusCode);
    expect(codes).toContain(200);
    expect(codes).toContain(503);
    const refused = results.find((r) => r.statusCode === 503)!;
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error.code).toBe('GAN_ERR_OVERLOADED');
    // Recovers once the load is gone.
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200);
  });

  it('answers 504 to a request that waited too long in the queue', async () => {
    const t = await start({
      models: [{ hidden: 16384 }],
      config: { GAN_MAX_BATCH: '256', GAN_REQUEST_TIMEOUT_MS: '50' },
    });
    const long = generate(t, { seed: 1, count: 256 });
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = await generate(t, { seed: 2 });
    expect(waiting.statusCode).toBe(504);
    expect(waiting.json().error.code).toBe('GAN_ERR_TIMEOUT');
    expect((await long).statusCode).toBe(200);
  });

  it('with process isolation, fails in-flight work with a coded 5xx when a worker is killed, restarts it, serves again', async () => {
    const t = await start({
      models: [{ hidden: 16384 }],
      config: { GAN_MAX_BATCH: '256', GAN_WORKER_ISOLATION: 'process' },
    });
    const pool = t.app.runtime.workerPool!;
    const restarted = new Promise<void>((resolve) => pool.once('restarted', () => resolve()));
    const killed = new Promise<void>((resolve) => pool.once('crash', () => resolve()));
    const inFlight = generate(t, { seed: 1, count: 256 });
    // Wait for the job to reach a worker (a fixed 50 ms was too short on a loaded machine), then kill that one.
    let busy = pool.workers.find((w) => w.busy);
    for (let i = 0; i < 500 && !busy; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      busy = pool.workers.find((w) => w.busy);
    }
    expect(busy).toBeDefined();
    process.kill(busy!.handle.pid!, 'SIGKILL');
    const res = await inFlight;
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('GAN_ERR_WORKER_CRASHED');
    expect(res.body).not.toMatch(/\/work|node_modules|at .*\.ts/);
    await killed;
    if (pool.readyCount === 0) expect((await t.app.inject('/readyz')).statusCode).toBe(503);
    await restarted;
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200);
  });

  it('with thread isolation, replaces a worker thread that stopped and reports the gap in /readyz', async () => {
    const t = await start({ models: [{}] });
    const pool = t.app.runtime.workerPool!;
    const restarted = new Promise<void>((resolve) => pool.once('restarted', () => resolve()));
    await pool.workers[0]!.handle.stop();
    const during = await t.app.inject('/readyz');
    expect(during.statusCode).toBe(503);
    expect(during.json()).toMatchObject({ status: 'degraded', workers: { ready: 0, total: 1 } });
    await restarted;
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200);
  });
});
