/**
 * A diagnostics job for a served model: N samples from seeds seed, seed+1, … through the same batched generator
 * path as /generate, judged by the dataset classifier (class histogram, confidence, features) and the model's own
 * discriminator (real held-out vs generated), measured against the classifier's reference statistics.
 * Chunks of one batch are awaited one after another, so a job never holds more than one batch of the queue and
 * other requests run between its chunks.
 */
import { ServiceError } from '../errors.ts';
import { pixelsToFloat } from '../imaging/pixels.ts';
import type { ModelRuntime, ServedClassifier, ServedModel } from '../inference/runtime.ts';
import { networkKey } from '../inference/runtime.ts';
import { codesOf } from '../latent/code.ts';
import { seededLatents, seedRange } from '../latent/sampling.ts';
import { imageRowDims } from '../models/manifest.ts';
import type { Metrics } from '../prometheus.ts';
import { OVERSAMPLE_LIMIT, type RejectionOptions } from '../schemas/rejection.ts';
import { discriminatePixels, generatePixels } from '../services/images.ts';
import { zTruncation } from '../services/latents.ts';
import { type RejectionSummary, sampleWithRejection } from '../services/rejection.ts';
import {
  type FloorFigures,
  floorFor,
  loadReferenceStats,
  PR_POINTS,
  probeMatches,
  type ReferenceStats,
} from './reference.ts';
import {
  type CollapseVerdict,
  classHistogram,
  codePurity,
  collapseVerdict,
  fitGaussian,
  frechetDistance,
  klToUniform,
  labelAgreement,
  mean,
  meanConfidence,
  modesCovered,
  perLabelAgreement,
  precisionRecallYielding,
  predictedClasses,
  rocAuc,
  softmaxRows,
  type UnclearSamples,
  unclearSamples,
} from './statistics.ts';

export const MIN_SAMPLES = 100;
export const MAX_SAMPLES = 10_000;
export const DEFAULT_SAMPLES = 2000;
/** Samples kept per predicted class for the class-sorted grid. */
export const MAX_PER_CLASS = 32;

export interface DiagnosticsOptions {
  samples: number;
  seed: number;
  /** Truncation ψ applied to every latent (1 = none, the samples /generate gives by default). */
  truncation?: number;
  /** Rows per inference call: the service's batch limit. */
  chunk: number;
  /** Stops the run between steps, with the signal's reason, once it fires (a deadline passed). */
  signal?: AbortSignal;
  /**
   * Judge the samples /generate gives with this `rejection`: sample i is the kept candidate of seed seed + i.
   * Its oversample is checked against GAN_MAX_OVERSAMPLE by the caller.
   */
  rejection?: RejectionOptions;
  /** Counts rejection's candidates (gan_rejection_candidates_total). */
  metrics?: Metrics;
}

export interface DiscriminatorBalance {
  /** Mean D(x) (probability of "real") on the shipped real held-out images. */
  meanRealScore: number;
  /** Mean D(G(z)) on the samples. */
  meanFakeScore: number;
  /** Real-vs-generated ROC AUC of the discriminator's logits: 0.5 = cannot tell, 1 = separates perfectly. */
  auc: number;
  realImages: number;
}

export interface DiagnosticsReport {
  model: string;
  dataset: string;
  classifier: string;
  samples: number;
  seed: number;
  /** Truncation ψ of the latents (1 = none). */
  truncation: number;
  /** Conditional models are asked for label i mod numClasses for sample i. */
  conditional: boolean;
  classNames: string[];
  histogram: { counts: number[]; shares: number[] };
  modesCovered: number;
  klToUniform: number;
  meanConfidence: number;
  /** Samples the classifier is unsure of (top probability below 0.9): how many, and which classes they blend. */
  unclear: UnclearSamples;
  labelAgreement: {
    overall: number;
    perLabel: Array<{ label: number; samples: number; agreement: number }>;
  } | null;
  /**
   * Models that read a code from z (InfoGAN): `purity`, the share of samples in their code's commonest class; for a
   * code trained with labels, `agreement`, the share classified as their code (null for an unsupervised code).
   */
  code: { categories: number; supervised: boolean; purity: number; agreement: number | null } | null;
  /** Fréchet classifier distance (d², FID's formula on classifier features) to the reference; null without stats. */
  frechetDistance: number | null;
  /** Precision/recall (k = 3) of up to PR_POINTS samples against as many reference features. */
  precision: number | null;
  recall: number | null;
  /** Real held-out data against the same reference, at the nearest sample size: the best reachable figures. */
  floor: FloorFigures | null;
  discriminator: DiscriminatorBalance | null;
  /** Why reference-based figures are missing, when they are. */
  referenceProblem: string | null;
  /** With rejection sampling: how it went over all samples (candidates and acceptedByDraw summed). */
  rejection: RejectionSummary | null;
  verdict: CollapseVerdict;
  seconds: number;
}

export interface DiagnosticsResult {
  report: DiagnosticsReport;
  /** Up to MAX_PER_CLASS samples per predicted class, uint8 [n, H, W, C] each, in seed order. */
  examples: Uint8Array[];
  /** Images per class in `examples`. */
  exampleCounts: number[];
  image: { width: number; height: number; channels: number };
}

interface Classified {
  probs: Float32Array;
  features: Float32Array;
}

/** The model's classifier, or 409 when it has none that fits its images. */
export function classifierOf(model: ServedModel): ServedClassifier {
  const c = model.classifier;
  if (!c) {
    throw new ServiceError(
      'GAN_ERR_NO_CLASSIFIER',
      `model '${model.name}' has no classifier for dataset '${model.manifest.dataset}': add one (classifier.json, dataset '${model.manifest.dataset}') to the models folder`,
    );
  }
  const a = c.manifest.image;
  const b = model.manifest.image;
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new ServiceError(
      'GAN_ERR_NO_CLASSIFIER',
      `classifier '${c.name}' takes ${a.width}x${a.height}x${a.channels} images, model '${model.name}' makes ${b.width}x${b.height}x${b.channels}`,
    );
  }
  return c;
}

/**
 * Class probabilities and penultimate features of images.
 * @param pixels uint8 [n, H, W, C] at the classifier's size
 */
export async function classifyPixels(
  runtime: ModelRuntime,
  classifier: ServedClassifier,
  pixels: Uint8Array,
): Promise<Classified> {
  const m = classifier.manifest;
  const { width, height, channels } = m.image;
  const n = pixels.length / (width * height * channels);
  const result = await runtime.run({
    key: networkKey(classifier.name, 'classifier'),
    model: classifier.name,
    network: 'classifier',
    rows: n,
    inputs: {
      [m.input]: {
        type: 'float32',
        data: pixelsToFloat(pixels, m.inputRange, m.inputLayout, height, width, channels),
        rowDims: imageRowDims(m.inputLayout, m.image),
      },
    },
    outputs: [m.output, m.features],
  });
  const probs = result.outputs[m.output]!.data as Float32Array;
  if (m.outputKind === 'logits') softmaxRows(probs, n, m.classNames.length);
  return { probs, features: result.outputs[m.features]!.data as Float32Array };
}

const referenceCache = new WeakMap<ServedClassifier, Promise<ReferenceStats | string>>();

/**
 * The classifier's reference statistics, loaded once and checked against the classifier itself (probe images'
 * features must match); a string says why there are none.
 */
export function referenceOf(
  runtime: ModelRuntime,
  classifier: ServedClassifier,
): Promise<ReferenceStats | string> {
  let cached = referenceCache.get(classifier);
  if (!cached) {
    cached = (async () => {
      const file = classifier.entry.referenceStatsFile;
      if (!file) {
        return `classifier '${classifier.name}' has no reference statistics (npm run evaluate -- --reference --classifier <dir>)`;
      }
      let stats: ReferenceStats;
      try {
        stats = await loadReferenceStats(file);
      } catch (err) {
        return `reference statistics of '${classifier.name}' are unreadable: ${(err as Error).message}`;
      }
      const h = stats.json.heldOut;
      const img = classifier.manifest.image;
      if (
        stats.json.featureDim !== classifier.manifest.featureDim ||
        h.width !== img.width ||
        h.height !== img.height ||
        h.channels !== img.channels
      ) {
        return `reference statistics of '${classifier.name}' do not fit it (${stats.json.featureDim} features, ${h.width}x${h.height}x${h.channels} images)`;
      }
      const probeCount = stats.json.probe.length;
      const perImage = h.width * h.height * h.channels;
      const probe = await classifyPixels(
        runtime,
        classifier,
        stats.heldOutImages.slice(0, probeCount * perImage),
      );
      if (!probeMatches(stats.json, probe.features)) {
        return `reference statistics of '${classifier.name}' were computed with a different classifier (probe features differ): recompute them`;
      }
      return stats;
    })();
    referenceCache.set(classifier, cached);
  }
  return cached;
}

/** Rejection summaries of two runs over different seeds, their counts summed. */
function addRejection(total: RejectionSummary | null, part: RejectionSummary): RejectionSummary {
  if (!total) return part;
  return {
    ...part,
    candidates: total.candidates + part.candidates,
    acceptedByDraw: part.acceptedByDraw === null ? null : (total.acceptedByDraw ?? 0) + part.acceptedByDraw,
  };
}

/** Let other requests' callbacks run between CPU-heavy steps. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Run the generator, classifier and discriminator over `samples` seeded samples and compute every figure. */
export async function runDiagnostics(
  runtime: ModelRuntime,
  model: ServedModel,
  options: DiagnosticsOptions,
): Promise<DiagnosticsResult> {
  const t0 = performance.now();
  const classifier = classifierOf(model);
  const { samples, seed } = options;
  const truncation = options.truncation ?? 1;
  if (!Number.isInteger(samples) || samples < MIN_SAMPLES || samples > MAX_SAMPLES) {
    throw new RangeError(`samples must be an integer in ${MIN_SAMPLES}..${MAX_SAMPLES}, got ${samples}`);
  }
  if (!(truncation > 0 && truncation <= 1)) {
    throw new RangeError(`truncation must be in (0, 1], got ${truncation}`);
  }
  const chunk = Math.max(1, options.chunk);
  const m = model.manifest;
  const { width, height, channels } = m.image;
  const perImage = width * height * channels;
  const k = classifier.manifest.classNames.length;
  const d = classifier.manifest.featureDim;
  const numLabels = m.numClasses;
  const requested = numLabels === null ? null : Int32Array.from({ length: samples }, (_, i) => i % numLabels);
  // Between steps: let other requests run, and stop once the caller's signal fires.
  const pause = async () => {
    options.signal?.throwIfAborted();
    await yieldToLoop();
  };
  const reference = await referenceOf(runtime, classifier);
  const stats = typeof reference === 'string' ? null : reference;

  const probs = new Float32Array(samples * k);
  const features = new Float32Array(samples * d);
  const fakeLogits = new Float32Array(samples);
  const fakeScores = new Float32Array(samples);
  const examples = Array.from({ length: k }, () => new Uint8Array(MAX_PER_CLASS * perImage));
  const exampleCounts = new Array<number>(k).fill(0);
  const seeds = seedRange(seed, samples);
  const codes = m.latentCode ? new Int32Array(samples) : null;
  let rejection: RejectionSummary | null = null;
  for (let from = 0; from < samples; from += chunk) {
    options.signal?.throwIfAborted();
    const to = Math.min(samples, from + chunk);
    const labels = requested ? Array.from(requested.subarray(from, to)) : null;
    // With rejection, sample i is the candidate /generate would keep for seed i (and its D score is known).
    const kept = options.rejection
      ? await sampleWithRejection(
          runtime,
          model,
          { seeds: seeds.slice(from, to), labels, truncation },
          options.rejection,
          { maxOversample: OVERSAMPLE_LIMIT, metrics: options.metrics, signal: options.signal },
        )
      : null;
    if (kept) rejection = addRejection(rejection, kept.summary);
    const chunkSeeds = kept ? kept.choices.map((c) => c.seed) : seeds.slice(from, to);
    const latents = seededLatents(chunkSeeds, m.latentDim, zTruncation(model, truncation));
    if (codes && m.latentCode) {
      codes.set(codesOf(latents, to - from, m.latentDim, m.latentCode.categories), from);
    }
    const pixels = kept ? kept.pixels : await generatePixels(runtime, model, { latents, labels, truncation });
    const c = await classifyPixels(runtime, classifier, pixels);
    probs.set(c.probs, from * k);
    features.set(c.features, from * d);
    if (model.discriminator) {
      const verdicts = kept
        ? kept.choices.map((c) => ({ logit: c.logit, probabilityReal: c.score }))
        : await discriminatePixels(runtime, model, pixels, labels);
      verdicts.forEach((v, i) => {
        fakeLogits[from + i] = v.logit;
        fakeScores[from + i] = v.probabilityReal;
      });
    }
    const classes = predictedClasses(c.probs, to - from, k);
    classes.forEach((cls, i) => {
      if (exampleCounts[cls]! < MAX_PER_CLASS) {
        examples[cls]!.set(pixels.subarray(i * perImage, (i + 1) * perImage), exampleCounts[cls]! * perImage);
        exampleCounts[cls]!++;
      }
    });
  }

  const predicted = predictedClasses(probs, samples, k);
  const hist = classHistogram(predicted, k);
  const covered = modesCovered(hist);
  const kl = klToUniform(hist);
  const agreement = requested
    ? {
        overall: labelAgreement(requested, predicted),
        perLabel: perLabelAgreement(requested, predicted, numLabels!),
      }
    : null;

  let frechet: number | null = null;
  let pr: { precision: number; recall: number } | null = null;
  let floor: FloorFigures | null = null;
  let discriminator: DiscriminatorBalance | null = null;
  if (stats) {
    await pause();
    frechet = frechetDistance(fitGaussian(features, samples, d), stats.gaussian);
    await pause();
    const points = Math.min(samples, stats.json.features.count, PR_POINTS);
    pr = await precisionRecallYielding(
      stats.features,
      stats.json.features.count,
      features.subarray(0, points * d),
      points,
      d,
      pause,
    );
    floor = floorFor(stats.json, samples);
  }
  // A generator-only model has nothing to score real and generated images with.
  if (stats && model.discriminator) {
    const h = stats.json.heldOut;
    const realLogits: number[] = [];
    const realScores: number[] = [];
    for (let from = 0; from < h.count; from += chunk) {
      options.signal?.throwIfAborted();
      const to = Math.min(h.count, from + chunk);
      const labels = numLabels === null ? null : h.labels.slice(from, to).map((l) => l % numLabels);
      const real = stats.heldOutImages.slice(from * perImage, to * perImage);
      for (const v of await discriminatePixels(runtime, model, real, labels)) {
        realLogits.push(v.logit);
        realScores.push(v.probabilityReal);
      }
    }
    discriminator = {
      meanRealScore: mean(realScores),
      meanFakeScore: mean(fakeScores),
      auc: rocAuc(realLogits, fakeLogits),
      realImages: h.count,
    };
  }
  const classNames = classifier.manifest.classNames;
  const report: DiagnosticsReport = {
    model: model.name,
    dataset: classifier.manifest.dataset,
    classifier: classifier.name,
    samples,
    seed,
    truncation,
    conditional: numLabels !== null,
    classNames,
    histogram: { counts: hist.counts, shares: hist.shares },
    modesCovered: covered,
    klToUniform: kl,
    meanConfidence: meanConfidence(probs, samples, k),
    unclear: unclearSamples(probs, samples, k),
    labelAgreement: agreement,
    code:
      codes && m.latentCode
        ? {
            ...m.latentCode,
            purity: codePurity(codes, predicted, k, m.latentCode.categories),
            agreement: m.latentCode.supervised ? labelAgreement(codes, predicted) : null,
          }
        : null,
    frechetDistance: frechet,
    precision: pr?.precision ?? null,
    recall: pr?.recall ?? null,
    floor,
    discriminator,
    referenceProblem: typeof reference === 'string' ? reference : null,
    rejection,
    verdict: collapseVerdict({
      histogram: hist,
      modesCovered: covered,
      klToUniform: kl,
      classNames,
      precisionRecall: pr,
      floor,
      discriminatorAuc: discriminator?.auc ?? null,
    }),
    seconds: (performance.now() - t0) / 1000,
  };
  return {
    report,
    examples: examples.map((e, c) => e.slice(0, exampleCounts[c]! * perImage)),
    exampleCounts,
    image: { width, height, channels },
  };
}
