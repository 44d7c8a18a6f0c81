/**
 * Diagnostics runs as a service: identical requests (model version, samples, seed, ψ, rejection) share one run — the
 * last few results are kept and a run in progress is awaited rather than repeated, so the figures and both pictures
 * cost one job — and runs are bounded like inference: GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT samples at once (503
 * past it), GAN_REQUEST_TIMEOUT_MS each (504, and the run stops). Pictures drawn from a run are kept too.
 */
import type { Config } from '../config.ts';
import { classGridPng, histogramPng } from '../diagnostics/pictures.ts';
import { type DiagnosticsResult, runDiagnostics } from '../diagnostics/run.ts';
import { ServiceError } from '../errors.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import type { Metrics } from '../prometheus.ts';
import type { RejectionOptions } from '../schemas/rejection.ts';
import { LruPromiseCache } from './lru-promise-cache.ts';

/** Results kept for repeat requests (a report plus at most 32 images per class: ~250 KB each for MNIST). */
const CACHE_SIZE = 8;
/** Pictures kept for repeat requests (a grid at the largest size is a few hundred KB). */
const PICTURE_CACHE_SIZE = 16;
/** Retry-After for a diagnostics run refused while others use the budget, seconds. */
const BUSY_RETRY_AFTER_S = 5;

export interface DiagnosticsRequest {
  samples: number;
  seed: number;
  truncation: number;
  rejection?: RejectionOptions | undefined;
}

/** `job`, or a rejection with the signal's reason as soon as it fires (the job itself stops at its next step). */
function until<T>(job: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([
    job,
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    }),
  ]);
}

/** The cache key of a run: a reloaded model (a new version) never reuses the old version's figures. */
const runKey = (model: ServedModel, r: DiagnosticsRequest) =>
  [
    model.name,
    model.version,
    r.samples,
    r.seed,
    r.truncation,
    r.rejection ? JSON.stringify(r.rejection) : '',
  ].join('\n');

export class DiagnosticsService {
  private readonly runs = new LruPromiseCache<DiagnosticsResult>(CACHE_SIZE);
  private readonly pictures = new LruPromiseCache<Buffer>(PICTURE_CACHE_SIZE);
  private inFlight = 0;

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly config: Pick<
      Config,
      'GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT' | 'GAN_REQUEST_TIMEOUT_MS' | 'GAN_MAX_BATCH'
    >,
    private readonly metrics: Metrics,
  ) {}

  /** The diagnostics of a model: a kept result, the run in progress, or a new run within the budget. */
  diagnose(model: ServedModel, request: DiagnosticsRequest): Promise<DiagnosticsResult> {
    return this.runs.get(runKey(model, request), () => this.start(model, request));
  }

  /** The class grid of a run (one row per predicted class). */
  grid(model: ServedModel, request: DiagnosticsRequest, perClass: number, scale: number): Promise<Buffer> {
    const key = `grid\n${runKey(model, request)}\n${perClass}\n${scale}`;
    return this.pictures.get(key, async () => {
      const result = await this.diagnose(model, request);
      const perImage = result.image.width * result.image.height * result.image.channels;
      return classGridPng({
        examples: result.examples.map((e) => e.subarray(0, Math.min(e.length, perClass * perImage))),
        counts: result.report.histogram.counts,
        classNames: result.report.classNames,
        ...result.image,
        perClass,
        scale,
      });
    });
  }

  /** The class histogram of a run as a bar chart. */
  histogram(model: ServedModel, request: DiagnosticsRequest): Promise<Buffer> {
    return this.pictures.get(`histogram\n${runKey(model, request)}`, async () => {
      const { report } = await this.diagnose(model, request);
      return histogramPng({
        counts: report.histogram.counts,
        classNames: report.classNames,
        title: `${report.model}: ${report.samples} samples from seed ${report.seed}${report.truncation === 1 ? '' : ` at ψ ${report.truncation}`}, judged by ${report.classifier}`,
        subtitle: report.verdict.summary,
        collapsed: report.verdict.collapsed,
      });
    });
  }

  /** Start a run within the budget and the deadline; its samples count until it has stopped. */
  private start(model: ServedModel, { samples, seed, truncation, rejection }: DiagnosticsRequest) {
    const budget = this.config.GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT;
    const timeoutMs = this.config.GAN_REQUEST_TIMEOUT_MS;
    // Rejection generates and scores up to oversample candidates per sample: they count too.
    const cost = samples * (rejection?.oversample ?? 1);
    if (cost > budget) {
      throw new ServiceError(
        'GAN_ERR_VALIDATION',
        `at most ${budget} samples per run here (GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT), got ${rejection ? `${samples} × oversample ${rejection.oversample} = ${cost}` : samples}`,
        'samples',
      );
    }
    if (this.inFlight + cost > budget) {
      throw new ServiceError(
        'GAN_ERR_OVERLOADED',
        `diagnostics of ${this.inFlight} samples are running; the limit is ${budget} (GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT)`,
        undefined,
        { retryAfter: BUSY_RETRY_AFTER_S },
      );
    }
    this.inFlight += cost;
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(
          new ServiceError(
            'GAN_ERR_TIMEOUT',
            `diagnostics of ${samples} samples did not finish within ${timeoutMs} ms (GAN_REQUEST_TIMEOUT_MS); ask for fewer samples`,
          ),
        ),
      timeoutMs,
    );
    const run = runDiagnostics(this.runtime, model, {
      samples,
      seed,
      truncation,
      chunk: this.config.GAN_MAX_BATCH,
      signal: deadline.signal,
      ...(rejection ? { rejection, metrics: this.metrics } : {}),
    });
    const settle = () => {
      clearTimeout(timer);
      this.inFlight -= cost;
    };
    run.then(settle, settle);
    return until(run, deadline.signal);
  }
}
