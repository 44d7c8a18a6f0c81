/**
 * Diagnostics are bounded like inference: samples running at once (GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT, 503 past
 * it, repeats shared for free), a deadline per run (GAN_REQUEST_TIMEOUT_MS, 504, and the run stops), and the size
 * of the class grid (refused before any work).
 */
import { describe, expect, it } from 'vitest';
import { MAX_GRID_PIXELS } from '../../../src/routes/diagnostics.ts';
import { json, type StartOptions, startPerTest, type TestApp } from '../../helpers/app.ts';

const startApp = startPerTest({ models: [{}], classifier: true });
const start = (config: StartOptions['config']) => startApp(config ? { config } : {});
const diagnose = (t: TestApp, body: unknown) =>
  t.app.inject({ method: 'POST', url: '/v1/models/tiny/diagnostics', ...json(body) });
/** Generator runs so far, from /metrics. */
async function generatorRuns(t: TestApp): Promise<number> {
  const text = (await t.app.inject('/metrics')).body;
  return Number(
    /gan_inference_exec_count_total\{model="tiny",network="generator"\} (\d+)/.exec(text)?.[1] ?? 0,
  );
}

describe('diagnostics cost', () => {
  it('runs at most GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT samples at once: the next run gets 503 with Retry-After', async () => {
    const t = await start({ GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT: '1500' });
    const [a, b, same] = await Promise.all([
      diagnose(t, { samples: 1000, seed: 1 }),
      diagnose(t, { samples: 1000, seed: 2 }),
      // The same run as the first: shared, so it costs nothing more.
      diagnose(t, { samples: 1000, seed: 1 }),
    ]);
    expect(a.statusCode, a.body).toBe(200);
    expect(same.statusCode, same.body).toBe(200);
    expect(same.json().histogram).toEqual(a.json().histogram);
    expect(b.statusCode, b.body).toBe(503);
    expect(b.json().error.code).toBe('GAN_ERR_OVERLOADED');
    expect(b.json().error.message).toMatch(/1000 samples are running; the limit is 1500/);
    expect(Number(b.headers['retry-after'])).toBeGreaterThan(0);
    // Once the first has finished, the second runs.
    expect((await diagnose(t, { samples: 1000, seed: 2 })).statusCode).toBe(200);
    // A run larger than the whole budget can never start: 400 naming samples.
    const huge = await diagnose(t, { samples: 2000 });
    expect(huge.statusCode).toBe(400);
    expect(huge.json().error).toMatchObject({ code: 'GAN_ERR_VALIDATION', field: 'samples' });
  });

  it('gives a run GAN_REQUEST_TIMEOUT_MS: 504 at the deadline, and the run stops', async () => {
    const t = await start({ GAN_REQUEST_TIMEOUT_MS: '150', GAN_MAX_BATCH: '16', GAN_MAX_QUEUE: '64' });
    const res = await diagnose(t, { samples: 10_000 });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(504);
    expect(res.json().error.code).toBe('GAN_ERR_TIMEOUT');
    expect(res.json().error.message).toMatch(/did not finish within 150 ms \(GAN_REQUEST_TIMEOUT_MS\)/);
    // It stopped: the generator is not asked for more after a moment.
    await new Promise((r) => setTimeout(r, 300));
    const runs = await generatorRuns(t);
    await new Promise((r) => setTimeout(r, 300));
    expect(await generatorRuns(t)).toBe(runs);
    expect(runs).toBeLessThan(10_000 / 16);
    // A timed-out run is not cached: a small one afterwards runs and answers.
    expect((await diagnose(t, { samples: 100 })).statusCode).toBe(200);
  });

  it('refuses a class grid too large to draw before running anything; one within the limit is drawn', async () => {
    const t = await start({});
    const before = await generatorRuns(t);
    const huge = await t.app.inject('/v1/models/tiny/diagnostics/grid.png?samples=100&perClass=32&scale=16');
    expect(huge.statusCode, huge.body).toBe(400);
    expect(huge.json().error).toMatchObject({ code: 'GAN_ERR_VALIDATION', field: 'scale' });
    expect(huge.json().error.message).toMatch(
      new RegExp(`the grid would be 15542x4832 = \\d+ pixels; the limit is ${MAX_GRID_PIXELS}`),
    );
    expect(await generatorRuns(t)).toBe(before);
    const url = '/v1/models/tiny/diagnostics/grid.png?samples=100&perClass=32&scale=5';
    const first = await t.app.inject(url);
    expect(first.statusCode, first.body.slice(0, 200)).toBe(200);
    expect(first.headers['content-type']).toBe('image/png');
    // Asked again, the same picture (kept, not drawn again).
    const again = await t.app.inject(url);
    expect(again.rawPayload.equals(first.rawPayload)).toBe(true);
  });
});
