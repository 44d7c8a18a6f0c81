/**
 * The scheduler alone, over a pool whose workers the test answers by hand: which requests share a batch, how
 * rows are split back, queue limits and timeouts. No onnxruntime and no clock races: each run is resolved when the
 * test says so.
 */
import { EventEmitter, getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/errors.ts';
import type { RowPostprocess } from '../../../src/inference/protocol.ts';
import { packRows } from '../../../src/inference/protocol.ts';
import { type NetworkRequest, Scheduler, type SchedulerPool } from '../../../src/inference/scheduler.ts';
import type { RunJob, RunResult } from '../../../src/inference/worker-pool.ts';
import { Metrics } from '../../../src/prometheus.ts';

interface Job {
  worker: number;
  job: RunJob;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

/** Workers that take a job and hold it until the test answers it. */
class HandPool extends EventEmitter implements SchedulerPool<number> {
  readonly jobs: Job[] = [];
  private readonly busy: boolean[];
  constructor(size: number) {
    super();
    this.busy = new Array<boolean>(size).fill(false);
  }
  acquire(): number | undefined {
    const i = this.busy.indexOf(false);
    return i < 0 ? undefined : i;
  }
  run(worker: number, job: RunJob): Promise<RunResult> {
    this.busy[worker] = true;
    return new Promise<RunResult>((resolve, reject) => {
      const done = (fn: () => void) => {
        this.busy[worker] = false;
        fn();
        this.emit('idle');
      };
      this.jobs.push({
        worker,
        job,
        resolve: (r) => done(() => resolve(r)),
        reject: (e) => done(() => reject(e)),
      });
    });
  }
  /** Answer job `i`: each output doubles its input `x`; a post-processed output gives one row of bytes per row. */
  answer(i: number) {
    const { job, resolve } = this.jobs[i]!;
    const x = job.feeds.x!;
    const rows = x.dims[0]!;
    const out = Float32Array.from(x.data as Float32Array, (v) => v * 2);
    const pp = job.postprocess;
    resolve({
      outputs: {
        y: { type: 'float32', data: pp ? new Float32Array(0) : out, dims: [rows, ...x.dims.slice(1)] },
      },
      ...(pp
        ? { rows: packRows(Array.from({ length: rows }, (_, r) => Uint8Array.of(out[r * 2]!, r))) }
        : {}),
      computeMs: 1,
    });
  }
}

const tick = () => new Promise((r) => setImmediate(r));

function request(rows: number, first: number, extra: Partial<NetworkRequest> = {}): NetworkRequest {
  return {
    key: 'm/generator',
    model: 'm',
    network: 'generator',
    rows,
    inputs: {
      x: {
        type: 'float32',
        data: Float32Array.from({ length: rows * 2 }, (_, i) => first + i),
        rowDims: [2],
      },
    },
    outputs: ['y'],
    ...extra,
  };
}

function scheduler(pool: HandPool, options: Partial<ConstructorParameters<typeof Scheduler>[1]> = {}) {
  return new Scheduler<number>(
    pool,
    { maxBatch: 8, batchDelayMs: 0, maxQueue: 64, requestTimeoutMs: 60_000, ...options },
    new Metrics(),
  );
}

const pixels: RowPostprocess = { step: 'pixels', output: 'y', options: {}, key: 'pixels:y' };

describe('Scheduler over a hand-driven pool', () => {
  it('batches what queued while every worker was busy, and splits the rows back in order', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const first = s.submit(request(1, 0));
    await tick();
    expect(pool.jobs).toHaveLength(1); // the first request took the idle worker alone
    const queued = [s.submit(request(2, 100)), s.submit(request(1, 200))] as const;
    await tick();
    expect(pool.jobs).toHaveLength(1); // the others wait for the worker
    pool.answer(0);
    await first;
    await tick();
    expect(pool.jobs).toHaveLength(2);
    expect(pool.jobs[1]!.job.feeds.x!.dims).toEqual([3, 2]); // both queued requests in one run
    pool.answer(1);
    const [a, b] = await Promise.all(queued);
    expect(Array.from(a.outputs.y!.data as Float32Array)).toEqual([200, 202, 204, 206]);
    expect(a.outputs.y!.dims).toEqual([2, 2]);
    expect(Array.from(b.outputs.y!.data as Float32Array)).toEqual([400, 402]);
  });

  it('splits opaque post-processed rows between the requests of a batch without reading them', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const blocker = s.submit(request(1, 0));
    await tick();
    const both = [
      s.submit(request(2, 10, { postprocess: pixels })),
      s.submit(request(1, 50, { postprocess: pixels })),
    ] as const;
    pool.answer(0);
    await blocker;
    await tick();
    pool.answer(1);
    const [a, b] = await Promise.all(both);
    expect(a.rows!.map((r) => Array.from(r))).toEqual([
      [20, 0],
      [24, 1],
    ]);
    expect(b.rows!.map((r) => Array.from(r))).toEqual([[100, 2]]);
  });

  it('never batches requests that differ in outputs, post-processing or unbatched inputs', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const blocker = s.submit(request(1, 0));
    await tick();
    const psi = (v: number): Partial<NetworkRequest> => ({
      fixed: { t: { type: 'float32', data: Float32Array.of(v), dims: [] } },
      fixedKey: `t=${v}`,
    });
    const all = [
      s.submit(request(1, 1, psi(0.5))),
      s.submit(request(1, 2, psi(0.7))),
      s.submit(request(1, 3, { postprocess: pixels })),
      s.submit(request(1, 4, psi(0.5))),
    ];
    pool.answer(0);
    await blocker;
    for (let i = 1; i <= 3; i++) {
      await tick();
      expect(pool.jobs).toHaveLength(i + 1);
      pool.answer(i);
    }
    await Promise.all(all);
    const sizes = pool.jobs.slice(1).map((j) => [j.job.feeds.x!.dims[0], j.job.feeds.t?.data[0]]);
    expect(sizes).toEqual([
      [2, 0.5],
      [1, Math.fround(0.7)],
      [1, undefined],
    ]);
  });

  it('feeds unbatched inputs whole, a copy per batch (the model keeps its own)', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const constant = Float32Array.of(1, 2, 3);
    const run = s.submit(request(1, 0, { fixed: { c: { type: 'float32', data: constant, dims: [3] } } }));
    await tick();
    const fed = pool.jobs[0]!.job.feeds.c!;
    expect(fed.dims).toEqual([3]);
    expect(fed.data).not.toBe(constant);
    expect(Array.from(fed.data as Float32Array)).toEqual([1, 2, 3]);
    pool.answer(0);
    await run;
  });

  it('splits a request larger than the batch limit and joins the parts in row order', async () => {
    const pool = new HandPool(2);
    const s = scheduler(pool, { maxBatch: 4 });
    const big = s.submit(request(6, 0));
    await tick();
    expect(pool.jobs.map((j) => j.job.feeds.x!.dims[0])).toEqual([4, 2]);
    pool.answer(1);
    pool.answer(0);
    const out = await big;
    expect(out.outputs.y!.dims).toEqual([6, 2]);
    expect(Array.from(out.outputs.y!.data as Float32Array)).toEqual(
      Array.from({ length: 12 }, (_, i) => i * 2),
    );
  });

  it('caps one network below the global limit (a large-image model)', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool, { maxBatch: 8 });
    s.limitBatch('m/generator', 3);
    const run = s.submit(request(5, 0));
    await tick();
    expect(pool.jobs[0]!.job.feeds.x!.dims[0]).toBe(3);
    pool.answer(0);
    await tick();
    pool.answer(1);
    expect((await run).outputs.y!.dims).toEqual([5, 2]);
  });

  it('refuses work past the queue limit with a 503 naming the model', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool, { maxQueue: 4 });
    const running = s.submit(request(1, 0));
    await tick();
    const queued = s.submit(request(4, 0));
    await expect(s.submit(request(1, 0))).rejects.toMatchObject({
      code: 'GAN_ERR_OVERLOADED',
      statusCode: 503,
    });
    pool.answer(0);
    await running;
    await tick();
    pool.answer(1);
    await queued;
  });

  it('fails every request of a batch whose run failed, with a coded error', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const run = s.submit(request(1, 0));
    await tick();
    pool.jobs[0]!.reject(new Error('onnxruntime said no'));
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('GAN_ERR_INFERENCE_FAILED');
  });
});

describe('Scheduler cancellation (a request whose signal aborts)', () => {
  const cancelledCount = async (metrics: Metrics) =>
    (await metrics.requestsCancelled.get()).values.find((v) => v.labels.model === 'm')?.value ?? 0;

  function withMetrics(pool: HandPool, options: Partial<ConstructorParameters<typeof Scheduler>[1]> = {}) {
    const metrics = new Metrics();
    const s = new Scheduler<number>(
      pool,
      { maxBatch: 8, batchDelayMs: 0, maxQueue: 64, requestTimeoutMs: 60_000, ...options },
      metrics,
    );
    return { s, metrics };
  }

  it('takes a queued request out of the queue at once: 499 GAN_ERR_CLIENT_CLOSED, its rows free the queue limit', async () => {
    const pool = new HandPool(1);
    const { s, metrics } = withMetrics(pool, { maxQueue: 4 });
    const blocker = s.submit(request(1, 0));
    await tick();
    const client = new AbortController();
    const gone = s.submit(request(4, 100, { signal: client.signal })).catch((e: unknown) => e);
    expect(s.queuedImages('m')).toBe(4);
    await expect(s.submit(request(1, 0))).rejects.toMatchObject({ code: 'GAN_ERR_OVERLOADED' });
    client.abort();
    expect(s.queuedImages('m')).toBe(0);
    const err = await gone;
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'GAN_ERR_CLIENT_CLOSED', statusCode: 499 });
    expect(await cancelledCount(metrics)).toBe(1);
    // The freed rows take new work, and the next batch holds only the rows somebody waits for.
    const kept = s.submit(request(4, 200));
    pool.answer(0);
    await blocker;
    await tick();
    expect(pool.jobs).toHaveLength(2);
    expect(Array.from(pool.jobs[1]!.job.feeds.x!.data as Float32Array).slice(0, 2)).toEqual([200, 201]);
    expect(pool.jobs[1]!.job.feeds.x!.dims).toEqual([4, 2]);
    pool.answer(1);
    expect((await kept).outputs.y!.dims).toEqual([4, 2]);
  });

  it('drops a cancelled request from a batch that has not been dispatched, keeping the others', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const blocker = s.submit(request(1, 0));
    await tick();
    const client = new AbortController();
    const a = s.submit(request(2, 10));
    const gone = s.submit(request(3, 50, { signal: client.signal })).catch((e: unknown) => e);
    const b = s.submit(request(1, 90));
    client.abort();
    pool.answer(0);
    await blocker;
    await tick();
    expect(pool.jobs[1]!.job.feeds.x!.dims).toEqual([3, 2]); // 2 + 1 rows: the cancelled 3 are not run
    pool.answer(1);
    expect(Array.from((await a).outputs.y!.data as Float32Array)).toEqual([20, 22, 24, 26]);
    expect(Array.from((await b).outputs.y!.data as Float32Array)).toEqual([180, 182]);
    expect(await gone).toMatchObject({ code: 'GAN_ERR_CLIENT_CLOSED' });
  });

  it('rejects a request cancelled while its batch runs at once; the batch finishes and the others get their rows', async () => {
    const pool = new HandPool(1);
    const s = scheduler(pool);
    const blocker = s.submit(request(1, 0));
    await tick();
    const client = new AbortController();
    const gone = s.submit(request(2, 10, { signal: client.signal, postprocess: pixels }));
    const kept = s.submit(request(1, 50, { postprocess: pixels }));
    pool.answer(0);
    await blocker;
    await tick();
    expect(pool.jobs[1]!.job.feeds.x!.dims).toEqual([3, 2]); // both in the running batch
    client.abort();
    await expect(gone).rejects.toMatchObject({ code: 'GAN_ERR_CLIENT_CLOSED' });
    expect(s.busy).toBe(true); // the batch still runs for the other request
    pool.answer(1);
    // The kept request's rows are its own, not the cancelled request's (rows 0 and 1 of the batch).
    expect((await kept).rows!.map((r) => Array.from(r))).toEqual([[100, 2]]);
    expect(s.busy).toBe(false);
  });

  it('cancels every chunk of a split request: queued chunks never run, running ones are dropped', async () => {
    const pool = new HandPool(1);
    const { s, metrics } = withMetrics(pool, { maxBatch: 4 });
    const client = new AbortController();
    const big = s.submit(request(12, 0, { signal: client.signal })).catch((e: unknown) => e);
    await tick();
    expect(pool.jobs).toHaveLength(1);
    expect(s.queuedImages('m')).toBe(8);
    client.abort();
    expect(s.queuedImages('m')).toBe(0);
    expect(await big).toMatchObject({ code: 'GAN_ERR_CLIENT_CLOSED' });
    expect(await cancelledCount(metrics)).toBe(1); // one request, however many chunks
    pool.answer(0);
    await tick();
    expect(pool.jobs).toHaveLength(1); // nothing else was dispatched
  });

  it('refuses a request whose signal has already aborted without queueing it', async () => {
    const pool = new HandPool(1);
    const { s, metrics } = withMetrics(pool);
    await expect(s.submit(request(2, 0, { signal: AbortSignal.abort() }))).rejects.toMatchObject({
      code: 'GAN_ERR_CLIENT_CLOSED',
    });
    await tick();
    expect(pool.jobs).toHaveLength(0);
    expect(s.queuedImages('m')).toBe(0);
    expect(await cancelledCount(metrics)).toBe(1);
  });

  it('leaves a completed request alone when its signal aborts later, and holds one listener on the signal however many requests used it', async () => {
    const pool = new HandPool(1);
    const { s, metrics } = withMetrics(pool);
    const client = new AbortController();
    // One signal across many requests, as a stream uses one per connection.
    for (let i = 0; i < 20; i++) {
      const run = s.submit(request(1, i, { signal: client.signal }));
      await tick();
      pool.answer(i);
      expect(Array.from((await run).outputs.y!.data as Float32Array)).toEqual([2 * i, 2 * i + 2]);
    }
    expect(getEventListeners(client.signal, 'abort')).toHaveLength(1);
    client.abort();
    expect(await cancelledCount(metrics)).toBe(0);
  });

  it('does not cancel a request that timed out, nor time out a cancelled one', async () => {
    const pool = new HandPool(1);
    const { s, metrics } = withMetrics(pool, { requestTimeoutMs: 20 });
    const blocker = s.submit(request(1, 0));
    await tick();
    const client = new AbortController();
    const late = s.submit(request(1, 1, { signal: client.signal })).catch((e: unknown) => e);
    expect(await late).toMatchObject({ code: 'GAN_ERR_TIMEOUT' });
    client.abort();
    expect(await cancelledCount(metrics)).toBe(0);
    const other = new AbortController();
    const gone = s.submit(request(1, 2, { signal: other.signal })).catch((e: unknown) => e);
    other.abort();
    expect(await gone).toMatchObject({ code: 'GAN_ERR_CLIENT_CLOSED' });
    await new Promise((r) => setTimeout(r, 40)); // past the timeout: nothing fires for the cancelled request
    expect(s.queuedImages('m')).toBe(0);
    pool.answer(0);
    await blocker;
  });
});
