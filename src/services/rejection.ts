/**
 * Rejection sampling with the model's own discriminator: each image draws up to `oversample` candidates from a
 * seed stream derived from its seed, D scores them, and one is kept.
 *
 * - top-k: the best-scored of the image's candidates (per image, not over the request's pool: a pool would let a
 *   few favoured shapes take every place, and image i would depend on its neighbours).
 * - drs (Azadi et al. 2019, eq. 8): candidate x is accepted with probability sigmoid(F̂(x) − γ),
 *   F̂(x) = D̃(x) − log(1 − exp(D̃(x) − D̃*max − ε)), D̃ the discriminator's logit. An image takes the first candidate
 *   accepted (later ones are never drawn), or its best-scored one when none is. D̃*max and the default γ (the 80th
 *   percentile of F̂) come from a fixed calibration set of the model's samples, computed once per model, ψ and code,
 *   rather than from each request's pool, so an image never depends on the other images of its request.
 *
 * Everything is a function of the seeds: candidate j of seed s is `candidateSeed(s, j)` (candidate 0 is s itself)
 * and its accept draw is `acceptanceDraw(s, j)`, so the same request keeps the same candidates, and the kept
 * candidate's seed regenerates the image without rejection.
 */
import { invalid } from '../errors.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import { seedRange } from '../latent/sampling.ts';
import type { Metrics } from '../prometheus.ts';
import type { RejectionMethod, RejectionOptions } from '../schemas/rejection.ts';
import { discriminatePixels, generatePixels, requireDiscriminator } from './images.ts';
import { prepareGeneration } from './latents.ts';

/** The ε of eq. 8: keeps log(1 − exp(·)) finite for the calibration set's own maximum. */
export const DRS_EPSILON = 1e-6;
/** γ's default percentile of F̂ over the calibration set: about a fifth of candidates get p ≥ ½. */
export const DRS_GAMMA_PERCENTILE = 80;
/** Calibration samples per model and setting: enough for a stable 80th percentile and a high D̃*max. */
export const CALIBRATION_SAMPLES = 1000;
/** …fewer for large images: at most this many pixels, so a 1024×1024 model calibrates on 16 samples. */
const CALIBRATION_PIXELS = 1 << 24;
/** Rows per calibration call: a few batches, so other requests run between them. */
const CALIBRATION_CHUNK = 128;
/** First seed of the calibration samples, apart from the low seeds clients and the diagnostics use. */
export const CALIBRATION_SEED = 3_000_000_000;
/** Calibrations kept per model (one per ψ and code asked for). */
const CALIBRATIONS_PER_MODEL = 8;
/**
 * Logits are clamped to ±this: a probability-output discriminator that saturates at 0 or 1 gives ±Infinity, and
 * float32 sigmoid outputs saturate near ±17 anyway. NaN counts as the lowest score.
 */
export const LOGIT_LIMIT = 50;

const GOLDEN = 0x9e3779b9;
const DRAW_SALT = 0x5bd1e995;

/** MurmurHash3's 32-bit finaliser: a bijection on uint32 that mixes every bit. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed of candidate j of the image with seed s: s itself for j = 0, else a uint32 hash of (s, j). */
export function candidateSeed(seed: number, j: number): number {
  return j === 0 ? seed : mix32(mix32(seed) + Math.imul(j, GOLDEN));
}

/** The uniform in [0, 1) that decides whether drs accepts candidate j of seed s. */
export function acceptanceDraw(seed: number, j: number): number {
  return mix32((candidateSeed(seed, j) ^ DRAW_SALT) + j) / 2 ** 32;
}

/** A discriminator logit, finite: clamped to ±LOGIT_LIMIT, NaN as −LOGIT_LIMIT. */
export function clampLogit(logit: number): number {
  if (Number.isNaN(logit)) return -LOGIT_LIMIT;
  return Math.max(-LOGIT_LIMIT, Math.min(LOGIT_LIMIT, logit));
}

/**
 * F̂ of eq. 8 without γ: logit − log(1 − exp(logit − maxLogit − ε)). Infinity for a logit at or past
 * maxLogit + ε (more real than anything calibrated: always accepted, as the paper's running maximum would make it).
 */
export function drsScore(logit: number, maxLogit: number): number {
  const t = logit - maxLogit - DRS_EPSILON;
  if (t >= 0) return Number.POSITIVE_INFINITY;
  return logit - Math.log(-Math.expm1(t));
}

/** sigmoid(F̂ − γ): the probability drs accepts a candidate of this logit. */
export function drsAcceptance(logit: number, maxLogit: number, gamma: number): number {
  const f = drsScore(logit, maxLogit) - gamma;
  if (f === Number.POSITIVE_INFINITY) return 1;
  return 1 / (1 + Math.exp(-f));
}

/** The p-th percentile (0..100) with linear interpolation between order statistics (NumPy's default). */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  const sorted = Float64Array.from(values).sort();
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (rank - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface Calibration {
  /** D̃*max: the largest logit over the calibration samples. */
  maxLogit: number;
  /** The default γ: the DRS_GAMMA_PERCENTILE-th percentile of F̂ over the same samples. */
  gamma: number;
  samples: number;
}

/** D̃*max and the default γ from the calibration samples' logits. */
export function calibrationFromLogits(logits: ArrayLike<number>): Calibration {
  const clamped = Array.from(logits, clampLogit);
  const maxLogit = Math.max(...clamped);
  const scores = clamped.map((l) => drsScore(l, maxLogit));
  return { maxLogit, gamma: percentile(scores, DRS_GAMMA_PERCENTILE), samples: clamped.length };
}

/** What the candidates are drawn from: the images' seeds and what /generate takes beside them. */
export interface RejectionRequest {
  seeds: readonly number[];
  /** One class per image (conditional models), else null. */
  labels: readonly number[] | null;
  truncation?: number | undefined;
  code?: number | undefined;
}

export interface RejectionContext {
  /** GAN_MAX_OVERSAMPLE. */
  maxOversample: number;
  metrics?: Metrics | undefined;
  /** Drops the candidates' queued rows and stops between rounds once it fires (the client left, a deadline). */
  signal?: AbortSignal | undefined;
}

export interface Choice {
  /** The kept candidate's seed: it regenerates this image without rejection. */
  seed: number;
  requestedSeed: number;
  candidate: number;
  logit: number;
  /** D(x), the probability of real. */
  score: number;
  /** drs: sigmoid(F̂ − γ) of the kept candidate; null for top-k. */
  acceptance: number | null;
  chosenBy: 'acceptance' | 'best';
}

export interface RejectionSummary {
  method: RejectionMethod;
  oversample: number;
  /** Candidates generated and scored. */
  candidates: number;
  gamma: number | null;
  maxLogit: number | null;
  calibrationSamples: number | null;
  acceptedByDraw: number | null;
}

export interface RejectionResult {
  choices: Choice[];
  /** The kept images, uint8 [count, H, W, C], in request order. */
  pixels: Uint8Array;
  summary: RejectionSummary;
}

/** 400 naming `rejection.oversample` past GAN_MAX_OVERSAMPLE. */
export function checkOversample(oversample: number, max: number, field = 'rejection.oversample'): void {
  if (oversample > max) {
    throw invalid(field, `oversample must be at most ${max} here (GAN_MAX_OVERSAMPLE), got ${oversample}`);
  }
}

const calibrations = new WeakMap<ServedModel, Map<string, Promise<Calibration>>>();

/** Calibration samples for a model: CALIBRATION_SAMPLES, fewer for large images. */
export function calibrationSize(model: ServedModel): number {
  const { width, height } = model.manifest.image;
  return Math.max(16, Math.min(CALIBRATION_SAMPLES, Math.floor(CALIBRATION_PIXELS / (width * height))));
}

/**
 * D̃*max and the default γ of a model at a ψ and code, from CALIBRATION_SEED on (conditional models: label i mod
 * classes), computed once and shared by every request that asks while it runs; a failed one is forgotten.
 */
export function calibrationFor(
  runtime: ModelRuntime,
  model: ServedModel,
  setting: { truncation?: number | undefined; code?: number | undefined },
  metrics?: Metrics,
): Promise<Calibration> {
  let perModel = calibrations.get(model);
  if (!perModel) {
    perModel = new Map();
    calibrations.set(model, perModel);
  }
  const key = `${setting.truncation ?? '-'} ${setting.code ?? '-'}`;
  const hit = perModel.get(key);
  if (hit) return hit;
  const made = (async () => {
    const n = calibrationSize(model);
    const classes = model.manifest.numClasses;
    const logits: number[] = [];
    for (let from = 0; from < n; from += CALIBRATION_CHUNK) {
      const to = Math.min(n, from + CALIBRATION_CHUNK);
      const seeds = seedRange(CALIBRATION_SEED + from, to - from);
      const labels = classes === null ? undefined : seeds.map((_, i) => (from + i) % classes);
      const verdicts = await scoreSeeds(runtime, model, seeds, labels, setting);
      for (const v of verdicts.scores) logits.push(v.logit);
    }
    metrics?.rejectionCalibration.inc({ model: model.name }, n);
    return calibrationFromLogits(logits);
  })();
  perModel.set(key, made);
  made.catch(() => perModel.delete(key));
  while (perModel.size > CALIBRATIONS_PER_MODEL) perModel.delete(perModel.keys().next().value!);
  return made;
}

/** Generate and score the images of these seeds. */
async function scoreSeeds(
  runtime: ModelRuntime,
  model: ServedModel,
  seeds: number[],
  labels: number[] | undefined,
  setting: { truncation?: number | undefined; code?: number | undefined },
  signal?: AbortSignal,
) {
  const prepared = prepareGeneration(model, {
    seeds,
    labels,
    truncation: setting.truncation,
    code: setting.code,
  });
  if (signal) prepared.input.signal = signal;
  const pixels = await generatePixels(runtime, model, prepared.input);
  const scores = await discriminatePixels(runtime, model, pixels, prepared.labels);
  return { pixels, scores };
}

/**
 * Rejection sampling for one batch of images: candidate j of every still-undecided image is generated and scored
 * in round j (at most `count` rows at once, like a plain request), so drs stops for an image once it accepts one.
 * 409 (field `rejection`) for a model without a discriminator; 400 past GAN_MAX_OVERSAMPLE.
 */
export async function sampleWithRejection(
  runtime: ModelRuntime,
  model: ServedModel,
  request: RejectionRequest,
  options: RejectionOptions,
  context: RejectionContext,
): Promise<RejectionResult> {
  requireDiscriminator(model, 'rejection');
  checkOversample(options.oversample, context.maxOversample);
  const { seeds } = request;
  const count = seeds.length;
  const k = options.oversample;
  const drs = options.method === 'drs';
  const setting = { truncation: request.truncation, code: request.code };
  const calibration = drs ? await calibrationFor(runtime, model, setting, context.metrics) : null;
  const gamma = calibration ? (options.gamma ?? calibration.gamma) : null;
  const { width, height, channels } = model.manifest.image;
  const perImage = width * height * channels;
  const pixels = new Uint8Array(count * perImage);
  const best: Array<Choice | null> = new Array(count).fill(null);
  const done = new Array<boolean>(count).fill(false);
  let generated = 0;
  for (let j = 0; j < k; j++) {
    context.signal?.throwIfAborted();
    const pending: number[] = [];
    for (let i = 0; i < count; i++) if (!done[i]) pending.push(i);
    if (pending.length === 0) break;
    const candidates = pending.map((i) => candidateSeed(seeds[i]!, j));
    const labels = request.labels ? pending.map((i) => request.labels![i]!) : undefined;
    const scored = await scoreSeeds(runtime, model, candidates, labels, setting, context.signal);
    generated += pending.length;
    pending.forEach((i, p) => {
      const verdict = scored.scores[p]!;
      const logit = clampLogit(verdict.logit);
      const acceptance = calibration ? drsAcceptance(logit, calibration.maxLogit, gamma!) : null;
      const choice: Choice = {
        seed: candidates[p]!,
        requestedSeed: seeds[i]!,
        candidate: j,
        logit,
        score: verdict.probabilityReal,
        acceptance,
        chosenBy: 'best',
      };
      const accepted = acceptance !== null && acceptanceDraw(seeds[i]!, j) < acceptance;
      // Strictly better only: on a tie the earlier candidate stays.
      if (accepted || best[i] === null || logit > best[i]!.logit) {
        best[i] = accepted ? { ...choice, chosenBy: 'acceptance' } : choice;
        pixels.set(scored.pixels.subarray(p * perImage, (p + 1) * perImage), i * perImage);
      }
      if (accepted) done[i] = true;
    });
  }
  context.metrics?.rejectionCandidates.inc({ model: model.name, outcome: 'accepted' }, count);
  if (generated > count) {
    context.metrics?.rejectionCandidates.inc({ model: model.name, outcome: 'rejected' }, generated - count);
  }
  const choices = best as Choice[];
  return {
    choices,
    pixels,
    summary: {
      method: options.method,
      oversample: k,
      candidates: generated,
      gamma,
      maxLogit: calibration?.maxLogit ?? null,
      calibrationSamples: calibration?.samples ?? null,
      acceptedByDraw: drs ? choices.filter((c) => c.chosenBy === 'acceptance').length : null,
    },
  };
}
