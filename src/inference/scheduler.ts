/**
 * Dynamic batching. Concurrent requests for the same network are queued and run together in one onnxruntime
 * call, up to the batch limit, waiting at most `batchDelayMs` for more (0 = opportunistic: batches form from what
 * queued while every worker was busy, like Triton's default). Requests larger than the limit are split. The
 * queue is bounded per model (503 + Retry-After when full) and a request queued too long gets 504. A request whose
 * `signal` aborts (its client went away) leaves the queue at once, or has its rows dropped from the batch running it.
 */
import { ServiceError } from '../errors.ts';
import type { Metrics } from '../prometheus.ts';
import type { NetworkKey, RowPostprocess, TensorData, TensorType, WireTensor } from './protocol.ts';
import { unpackRows } from './protocol.ts';
import type { RunJob, RunResult } from './worker-pool.ts';

/** What the scheduler needs of a worker pool (a fake one in unit tests). */
export interface SchedulerPool<W = unknown> {
  /** An idle, ready worker, if any. */
  acquire(): W | undefined;
  run(worker: W, job: RunJob): Promise<RunResult>;
  on(event: 'idle', listener: () => void): unknown;
}

export interface RowInput {
  type: TensorType;
  /** rows × product(rowDims) values, row-major. */
  data: TensorData;
  /** The dimensions after the batch axis. */
  rowDims: number[];
}

export interface NetworkRequest {
  key: NetworkKey;
  model: string;
  network: string;
  rows: number;
  inputs: Record<string, RowInput>;
  /**
   * Inputs without a batch axis (a truncation scalar, a constant, a noise tensor): fed whole, once per batch, so
   * requests batch together only when their `fixedKey`s match. Copied per batch (the model keeps its own).
   */
  fixed?: Record<string, WireTensor>;
  /** Identifies the values of `fixed` (e.g. `ψ=0.7`); requests with different keys never share a batch. */
  fixedKey?: string;
  outputs: string[];
  postprocess?: RowPostprocess;
  /**
   * Aborts when nobody waits for the answer any more (the client closed its connection): queued rows leave the
   * queue at once and stop counting toward its limit, rows of a running batch are dropped when it finishes, and the
   * promise rejects with GAN_ERR_CLIENT_CLOSED.
   */
  signal?: AbortSignal;
}

export interface OutputTensor {
  type: TensorType;
  data: TensorData;
  dims: number[];
}

export interface NetworkResult {
  outputs: Record<string, OutputTensor>;
  /** The post-processed output, one opaque buffer per row, when `postprocess` was asked for. */
  rows?: Uint8Array[];
}

export interface SchedulerOptions {
  maxBatch: number;
  batchDelayMs: number;
  maxQueue: number;
  requestTimeoutMs: number;
}

interface Item {
  request: NetworkRequest;
  arrival: number;
  resolve: (r: NetworkResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

/** The callbacks waiting on each signal: one 'abort' listener per signal, however many requests share it. */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` once `signal` aborts; returns what stops it. A connection's signal (src/http/client-gone.ts)
 * serves every request on that connection, so the EventTarget listener is added once per signal, not per request.
 */
function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = abortCallbacks.get(signal);
  if (!callbacks) {
    const waiting = new Set<() => void>();
    callbacks = waiting;
    abortCallbacks.set(signal, waiting);
    signal.addEventListener(
      'abort',
      () => {
        for (const waiter of [...waiting]) waiter();
        waiting.clear();
      },
      { once: true },
    );
  }
  const own = callbacks;
  own.add(callback);
  return () => own.delete(callback);
}

const cancelled = (r: NetworkRequest) =>
  new ServiceError(
    'GAN_ERR_CLIENT_CLOSED',
    `request for model '${r.model}' cancelled: nobody waits for its answer any more`,
  );

const rowSize = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * Requests batch together only when one run can answer all of them: the same network, the same outputs, the same
 * unbatched inputs and the same post-processing (a /generate asking for pixels and a v2 request asking for raw
 * tensors do not mix; nor do requests for PNGs at different scales, or for PNGs and for pixels).
 */
type QueueKey = string;
const queueKey = (r: NetworkRequest): QueueKey =>
  `${r.key}|${r.outputs.join(',')}|${r.fixedKey ?? ''}|${r.postprocess ? r.postprocess.key : 'raw'}`;

function sliceRows(data: TensorData, from: number, to: number, size: number): TensorData {
  return data.slice(from * size, to * size);
}

function allocate(type: TensorType, size: number): TensorData {
  if (type === 'float32') return new Float32Array(size);
  if (type === 'int32') return new Int32Array(size);
  if (type === 'int64') return new BigInt64Array(size);
  return new Uint8Array(size);
}

function concat(type: TensorType, parts: TensorData[], total: number): TensorData {
  const out = allocate(type, total);
  let offset = 0;
  for (const p of parts) {
    (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p, offset);
    offset += p.length;
  }
  return out;
}

export class Scheduler<W = unknown> {
  private readonly queues = new Map<QueueKey, Item[]>();
  private readonly queuedPerModel = new Map<string, number>();
  private readonly keyLimits = new Map<NetworkKey, number>();
  private delayTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private inFlight = 0;

  constructor(
    private readonly pool: SchedulerPool<W>,
    private readonly options: SchedulerOptions,
    private readonly metrics: Metrics,
  ) {
    // A worker that frees up takes what is queued at once: that queue formed while it was busy.
    pool.on('idle', () => this.pump());
  }

  /**
   * A new request is dispatched once the current turn of the event loop has read every request that arrived with it
   * (setImmediate runs right after the poll phase): requests parsed together leave together, instead of the first
   * of them taking an idle worker alone. Costs no timer delay.
   */
  private schedulePump() {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Cap a network's batch below the global limit (a model whose batch axis is fixed). */
  limitBatch(key: NetworkKey, max: number) {
    this.keyLimits.set(key, Math.max(1, Math.min(max, this.options.maxBatch)));
  }

  batchLimit(key: NetworkKey): number {
    return this.keyLimits.get(key) ?? this.options.maxBatch;
  }

  queuedImages(model: string): number {
    return this.queuedPerModel.get(model) ?? 0;
  }

  /** Requests queued or running. */
  get busy(): boolean {
    return this.inFlight > 0 || [...this.queues.values()].some((q) => q.length > 0);
  }

  /** Queue a request (split into batch-sized chunks) and resolve with its outputs, rows in order. */
  async submit(request: NetworkRequest): Promise<NetworkResult> {
    const signal = request.signal;
    if (signal?.aborted) {
      this.metrics.requestsCancelled.inc({ model: request.model });
      throw cancelled(request);
    }
    for (const [name, input] of Object.entries(request.inputs)) {
      // A short buffer (one already transferred to a worker is detached, length 0) would never come back.
      const expected = request.rows * rowSize(input.rowDims);
      if (input.data.length !== expected) {
        throw new Error(
          `input '${name}' of ${request.key}: expected ${request.rows} × [${input.rowDims}] = ${expected} values, got ${input.data.length}`,
        );
      }
    }
    const queued = this.queuedImages(request.model);
    if (queued + request.rows > this.options.maxQueue) {
      throw new ServiceError(
        'GAN_ERR_OVERLOADED',
        `model '${request.model}' has ${queued} images queued; the limit is ${this.options.maxQueue}`,
        undefined,
        { retryAfter: 1 },
      );
    }
    const limit = this.batchLimit(request.key);
    const chunks: NetworkRequest[] = [];
    for (let from = 0; from < request.rows; from += limit) {
      const to = Math.min(request.rows, from + limit);
      if (from === 0 && to === request.rows) {
        chunks.push(request);
        break;
      }
      const inputs: Record<string, RowInput> = {};
      for (const [name, input] of Object.entries(request.inputs)) {
        inputs[name] = { ...input, data: sliceRows(input.data, from, to, rowSize(input.rowDims)) };
      }
      chunks.push({ ...request, rows: to - from, inputs });
    }
    this.inFlight++;
    const items: Item[] = [];
    const pending = chunks.map((c) => this.enqueue(c, items));
    const stopListening = signal ? whenAborted(signal, () => this.cancel(request, items)) : undefined;
    try {
      const results = await Promise.all(pending);
      return results.length === 1 ? results[0]! : this.join(results, request);
    } finally {
      stopListening?.();
      this.inFlight--;
    }
  }

  /**
   * Nobody waits for `request` any more: its queued chunks leave the queue (freeing their rows of the queue limit),
   * its running ones are settled now and their rows dropped when their batch finishes.
   */
  private cancel(request: NetworkRequest, items: Item[]) {
    const open = items.filter((it) => !it.settled);
    if (open.length === 0) return;
    const error = cancelled(request);
    for (const item of open) {
      this.dequeue(item);
      item.settled = true;
      item.reject(error);
    }
    this.metrics.requestsCancelled.inc({ model: request.model });
  }

  /** Takes a still-queued item out of its queue; false when it is not queued (running, or already gone). */
  private dequeue(item: Item): boolean {
    const queue = this.queues.get(queueKey(item.request));
    const at = queue?.indexOf(item) ?? -1;
    if (at < 0) return false;
    queue!.splice(at, 1);
    clearTimeout(item.timer);
    this.addQueued(item.request.model, -item.request.rows);
    return true;
  }

  private join(results: NetworkResult[], request: NetworkRequest): NetworkResult {
    const outputs: Record<string, OutputTensor> = {};
    for (const name of request.outputs) {
      const parts = results.map((r) => r.outputs[name]!);
      const first = parts[0]!;
      const total = parts.reduce((n, p) => n + p.data.length, 0);
      outputs[name] = {
        type: first.type,
        data: concat(
          first.type,
          parts.map((p) => p.data),
          total,
        ),
        dims: [request.rows, ...first.dims.slice(1)],
      };
    }
    const rows = results.every((r) => r.rows) ? results.flatMap((r) => r.rows!) : undefined;
    return { outputs, ...(rows ? { rows } : {}) };
  }

  private enqueue(request: NetworkRequest, items: Item[]): Promise<NetworkResult> {
    return new Promise<NetworkResult>((resolve, reject) => {
      const item: Item = {
        request,
        arrival: performance.now(),
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.expire(item), this.options.requestTimeoutMs),
      };
      item.timer.unref();
      items.push(item);
      const key = queueKey(request);
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push(item);
      this.addQueued(request.model, request.rows);
      this.schedulePump();
    });
  }

  private addQueued(model: string, delta: number) {
    const n = (this.queuedPerModel.get(model) ?? 0) + delta;
    this.queuedPerModel.set(model, n);
    this.metrics.queueDepth.set({ model }, n);
  }

  private expire(item: Item) {
    if (item.settled || !this.dequeue(item)) return;
    item.settled = true;
    item.reject(
      new ServiceError(
        'GAN_ERR_TIMEOUT',
        `request waited ${this.options.requestTimeoutMs} ms in the queue for model '${item.request.model}'`,
      ),
    );
  }

  /** The network whose oldest request has waited longest, or none. */
  private oldestKey(now: number): { key: QueueKey; wait?: number } | undefined {
    let best: { key: QueueKey; arrival: number } | undefined;
    let earliestDue: number | undefined;
    for (const [key, queue] of this.queues) {
      const head = queue[0];
      if (!head) continue;
      if (this.options.batchDelayMs > 0) {
        const rows = queue.reduce((n, it) => n + it.request.rows, 0);
        const due = head.arrival + this.options.batchDelayMs;
        if (rows < this.batchLimit(head.request.key) && due > now) {
          earliestDue = earliestDue === undefined ? due : Math.min(earliestDue, due);
          continue;
        }
      }
      if (!best || head.arrival < best.arrival) best = { key, arrival: head.arrival };
    }
    if (best) return { key: best.key };
    if (earliestDue !== undefined) return { key: '', wait: earliestDue - now };
    return undefined;
  }

  private pump() {
    for (;;) {
      const worker = this.pool.acquire();
      if (worker === undefined) return;
      const next = this.oldestKey(performance.now());
      if (!next) return;
      if (next.wait !== undefined) {
        if (!this.delayTimer) {
          this.delayTimer = setTimeout(
            () => {
              this.delayTimer = undefined;
              this.pump();
            },
            Math.max(0, Math.ceil(next.wait)),
          );
        }
        return;
      }
      this.runBatch(worker, next.key);
    }
  }

  private runBatch(worker: W, qkey: QueueKey) {
    const queue = this.queues.get(qkey)!;
    const key = queue[0]!.request.key;
    const limit = this.batchLimit(key);
    const items: Item[] = [];
    let rows = 0;
    while (queue.length > 0 && rows + queue[0]!.request.rows <= limit) {
      const item = queue.shift()!;
      clearTimeout(item.timer);
      items.push(item);
      rows += item.request.rows;
    }
    const first = items[0]!.request;
    this.addQueued(first.model, -rows);
    const started = performance.now();
    const labels = { model: first.model, network: first.network };
    for (const it of items) this.metrics.queueWait.observe(labels, (started - it.arrival) / 1000);

    const feeds: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(first.fixed ?? {})) feeds[name] = { ...t, data: t.data.slice() };
    for (const [name, input] of Object.entries(first.inputs)) {
      const parts = items.map((it) => it.request.inputs[name]!.data);
      feeds[name] = {
        type: input.type,
        data: items.length === 1 ? parts[0]! : concat(input.type, parts, rows * rowSize(input.rowDims)),
        dims: [rows, ...input.rowDims],
      };
    }
    const job = {
      key,
      feeds,
      outputs: first.outputs,
      ...(first.postprocess ? { postprocess: first.postprocess } : {}),
    };
    this.pool.run(worker, job).then(
      (result) => {
        this.metrics.execCount.inc(labels);
        this.metrics.inferenceCount.inc(labels, rows);
        this.metrics.compute.observe(labels, result.computeMs / 1000);
        let offset = 0;
        for (const it of items) {
          const n = it.request.rows;
          if (it.settled) {
            // Cancelled while the batch ran: its rows are dropped.
            offset += n;
            continue;
          }
          const outputs: Record<string, OutputTensor> = {};
          for (const [name, t] of Object.entries(result.outputs)) {
            const size = rowSize(t.dims.slice(1));
            outputs[name] = {
              type: t.type,
              data: items.length === 1 ? t.data : sliceRows(t.data, offset, offset + n, size),
              dims: [n, ...t.dims.slice(1)],
            };
          }
          const rows = result.rows ? unpackRows(result.rows, offset, offset + n) : undefined;
          offset += n;
          it.settled = true;
          it.resolve({ outputs, ...(rows ? { rows } : {}) });
        }
      },
      (err: unknown) => {
        const error =
          err instanceof ServiceError
            ? err
            : new ServiceError(
                'GAN_ERR_INFERENCE_FAILED',
                `inference failed for model '${first.model}'`,
                undefined,
                {
                  cause: err,
                },
              );
        for (const it of items.filter((i) => !i.settled)) {
          it.settled = true;
          it.reject(error);
        }
      },
    );
  }
}
