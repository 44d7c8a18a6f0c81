/**
 * Bulk generation: `count` images from consecutive seeds, made one batch at a time through the same scheduler as
 * every request and encoded as a tar of `<seed>.<ext>` files or as NDJSON lines. At most `depth` batches are in
 * flight ahead of the consumer, so the consumer's pace sets the pace: one that stops pulling stops generation, and
 * aborting the signal drops the batches in flight and submits no more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import { ServiceError } from '../errors.ts';
import type { ImageFormat } from '../imaging/codec.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import { MAX_SEED } from '../latent/random-state.ts';
import { encodeEach, generatePixels, generatePngs } from './images.ts';
import { prepareGeneration } from './latents.ts';
import { TAR_END, tarEntries } from './tar.ts';

export type BulkFormat = 'tar' | 'ndjson';

/** File extensions inside a tar, by image format. */
export const FILE_EXTENSIONS: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/**
 * Batches to keep in flight ahead of the consumer: one running on each inference worker and two more, so a worker
 * that finishes finds the next batch already queued (with two ahead and two workers, each worker idled while the
 * event loop seeded the next batch's latents; docs/benchmarks.md, "Bulk generation").
 */
export function streamDepth(workers: number): number {
  return workers + 2;
}
/** Longest pause between retries of a batch refused because the model's queue is full. */
const MAX_RETRY_DELAY_MS = 1000;

export interface BulkRequest {
  seed: number;
  count: number;
  format: BulkFormat;
  imageFormat: ImageFormat;
  quality?: number | undefined;
  scale: number;
  truncation?: number | undefined;
  label?: number | undefined;
  /** Images per batch (see `bulkBatchSize`). */
  batch: number;
  /** Batches in flight ahead of the consumer (see `streamDepth`). */
  depth: number;
  /** Modification time of the tar entries, seconds since the epoch. */
  mtime: number;
  /**
   * How long a batch after the first keeps retrying while the model's queue is full (503 GAN_ERR_OVERLOADED),
   * instead of cutting the stream short; the first batch's refusal is the response's status.
   */
  retryOverloadedMs: number;
  /** Aborts when nobody reads the output any more. */
  signal?: AbortSignal;
}

/** Seed `index` of a run starting at `seed` (mod 2^32, as /generate's `seed` + `count`). */
export const seedAt = (seed: number, index: number) => (seed + index) % (MAX_SEED + 1);

/**
 * Images per batch: the scheduler's batch for this model (GAN_MAX_BATCH, capped by GAN_MAX_BATCH_PIXELS), and never
 * more pixels than one /generate request may ask for.
 */
export function bulkBatchSize(
  model: ServedModel,
  config: Pick<Config, 'GAN_MAX_BATCH' | 'GAN_MAX_BATCH_PIXELS' | 'GAN_MAX_REQUEST_PIXELS'>,
): number {
  const { width, height } = model.manifest.image;
  const pixels = Math.min(config.GAN_MAX_BATCH_PIXELS, config.GAN_MAX_REQUEST_PIXELS);
  return Math.max(1, Math.min(config.GAN_MAX_BATCH, Math.floor(pixels / (width * height))));
}

const cancelled = () =>
  new ServiceError('GAN_ERR_CLIENT_CLOSED', 'the stream was cancelled: nobody reads it any more');

/** The images of seeds `seedAt(seed, from)` … `seedAt(seed, from + n − 1)`, encoded, in seed order. */
async function images(
  runtime: ModelRuntime,
  model: ServedModel,
  r: BulkRequest,
  from: number,
  n: number,
  signal: AbortSignal,
): Promise<{ seeds: number[]; files: Uint8Array[] }> {
  const prepared = prepareGeneration(model, {
    seed: seedAt(r.seed, from),
    count: n,
    truncation: r.truncation,
    label: r.label,
  });
  prepared.input.signal = signal;
  const seeds = prepared.seeds as number[];
  if (r.imageFormat === 'png')
    return { seeds, files: await generatePngs(runtime, model, prepared.input, r.scale) };
  const pixels = await generatePixels(runtime, model, prepared.input);
  const files = await encodeEach(pixels, model, r.imageFormat, { scale: r.scale, quality: r.quality });
  return { seeds, files };
}

/** One batch as a piece of the output: tar entries, or NDJSON lines `{"seed":…,"<imageFormat>":"<base64>"}`. */
function encodeBatch(r: BulkRequest, seeds: number[], files: Uint8Array[]): Buffer {
  if (r.format === 'tar') {
    const ext = FILE_EXTENSIONS[r.imageFormat];
    return tarEntries(
      seeds.map((seed, i) => ({ name: `${seed}.${ext}`, data: files[i]! })),
      r.mtime,
    );
  }
  const key = JSON.stringify(r.imageFormat);
  const lines = seeds.map((seed, i) => {
    const file = files[i]!;
    const base64 = Buffer.from(file.buffer, file.byteOffset, file.length).toString('base64');
    return `{"seed":${seed},${key}:"${base64}"}\n`;
  });
  return Buffer.from(lines.join(''), 'utf8');
}

/** A batch, retried with backoff while the model's queue is full, for up to `r.retryOverloadedMs`. */
async function batchWithRetry(
  runtime: ModelRuntime,
  model: ServedModel,
  r: BulkRequest,
  from: number,
  n: number,
  signal: AbortSignal,
  retry: boolean,
): Promise<Buffer> {
  const deadline = performance.now() + r.retryOverloadedMs;
  for (let delay = 10; ; delay = Math.min(2 * delay, MAX_RETRY_DELAY_MS)) {
    try {
      const { seeds, files } = await images(runtime, model, r, from, n, signal);
      return encodeBatch(r, seeds, files);
    } catch (err) {
      const overloaded = err instanceof ServiceError && err.code === 'GAN_ERR_OVERLOADED';
      if (!retry || !overloaded || signal.aborted || performance.now() + delay > deadline) throw err;
      await sleep(delay, undefined, { signal }).catch(() => {
        throw cancelled();
      });
    }
  }
}

/**
 * The output, a piece per batch (and the tar's end blocks), generated at most `depth` batches ahead of whoever
 * iterates it. Ending the iteration early (`return()`, or the signal) cancels the batches in flight.
 */
export async function* bulkStream(
  runtime: ModelRuntime,
  model: ServedModel,
  r: BulkRequest,
): AsyncGenerator<Buffer, void, undefined> {
  const depth = Math.max(1, r.depth);
  const inner = new AbortController();
  const stop = () => inner.abort();
  r.signal?.addEventListener('abort', stop, { once: true });
  if (r.signal?.aborted) stop();
  const pending: Array<Promise<Buffer>> = [];
  let next = 0;
  try {
    while (next < r.count || pending.length > 0) {
      while (pending.length < depth && next < r.count && !inner.signal.aborted) {
        const n = Math.min(r.batch, r.count - next);
        const batch = batchWithRetry(runtime, model, r, next, n, inner.signal, next > 0);
        // Awaited in order below; one whose reader left first is nobody's to report.
        batch.catch(() => {});
        pending.push(batch);
        next += n;
      }
      if (pending.length === 0) throw cancelled();
      yield await pending.shift()!;
    }
    if (r.format === 'tar') yield TAR_END;
  } finally {
    r.signal?.removeEventListener('abort', stop);
    // Cancels whatever is still queued or running when the iteration ends early; nothing is left otherwise.
    inner.abort();
  }
}
