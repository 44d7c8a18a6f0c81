/**
 * Reference statistics of a dataset's real test set in its classifier's feature space, shipped beside the
 * classifier (`referenceStats` in classifier.json) so diagnostics need no dataset at serving time:
 * - `reference-stats.json`: Gaussian (mean, covariance) of the reference half of the test set, the real floor
 *   (held-out half against the reference, by sample size), probe features that identify the classifier;
 * - `reference-features.bin`: float32 [count, featureDim] reference features for precision/recall;
 * - `reference-heldout.bin`: uint8 [count, H, W, C] held-out real images, for the discriminator's D(x).
 * Built by `npm run evaluate -- --reference` (scripts/evaluate/reference.ts) with `buildReferenceStats` below.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Matrix } from 'ml-matrix';
import { z } from 'zod';
import {
  classHistogram,
  fitGaussian,
  frechetDistance,
  type Gaussian,
  klToUniform,
  meanConfidence,
  modesCovered,
  precisionRecall,
  predictedClasses,
} from './statistics.ts';

export const REFERENCE_FILES = {
  stats: 'reference-stats.json',
  features: 'reference-features.bin',
  heldOut: 'reference-heldout.bin',
} as const;

/** Reference feature vectors kept for precision/recall; generated sets are cut to the same size. */
export const PR_POINTS = 1000;
/** Real held-out images shipped for D(x): 500 MNIST images are 392 KB. */
export const SHIPPED_IMAGES = 500;
/** Sample sizes the real floor is measured at: the Fréchet distance is biased by sample size, so a generator's
 * figure is compared with the floor at the same size. */
export const FLOOR_SIZES = [100, 500, 1000, 2000, 5000, 10000] as const;
/** Images whose features identify the classifier the statistics were computed with. */
const PROBE_IMAGES = 4;
/** Probe features must agree to this (absolute + relative) to accept the statistics for a classifier. */
export const PROBE_TOLERANCE = 1e-3;

const floorSchema = z.strictObject({
  samples: z.number().int().min(2),
  frechetDistance: z.number().min(0),
  precision: z.number().min(0).max(1),
  recall: z.number().min(0).max(1),
  klToUniform: z.number().min(0),
  modesCovered: z.number().int().min(0),
  meanConfidence: z.number().min(0).max(1),
});

export type FloorFigures = z.infer<typeof floorSchema>;

export const referenceStatsSchema = z.strictObject({
  version: z.literal(1),
  dataset: z.string(),
  classifier: z.string(),
  featureDim: z.number().int().min(1),
  /** Which real images each part came from, e.g. "mnist test[0, 5000)". */
  split: z.strictObject({ reference: z.string(), heldOut: z.string() }),
  reference: z.strictObject({
    count: z.number().int().min(2),
    mean: z.array(z.number()),
    /** Row-major [featureDim, featureDim]. */
    covariance: z.array(z.number()),
  }),
  features: z.strictObject({ file: z.string(), count: z.number().int().min(1) }),
  heldOut: z.strictObject({
    file: z.string(),
    count: z.number().int().min(1),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    channels: z.union([z.literal(1), z.literal(3)]),
    labels: z.array(z.number().int().min(0)),
  }),
  /** Features of the first held-out images, to check the served classifier is the one these came from. */
  probe: z.array(z.array(z.number())),
  /** Real held-out data against the reference: the figures a perfect generator would reach. */
  floor: z.array(floorSchema).min(1),
  provenance: z.strictObject({ command: z.string(), createdAt: z.string() }),
});

export type ReferenceStatsJson = z.infer<typeof referenceStatsSchema>;

export interface ReferenceStats {
  json: ReferenceStatsJson;
  gaussian: Gaussian;
  /** float32 [features.count, featureDim] */
  features: Float32Array;
  /** uint8 [heldOut.count, H, W, C] */
  heldOutImages: Uint8Array;
}

export interface ClassifiedSet {
  count: number;
  /** float32 [count, featureDim] */
  features: Float32Array;
  /** float32 [count, numClasses], probabilities */
  probs: Float32Array;
}

export interface ReferenceInput {
  dataset: string;
  classifier: string;
  featureDim: number;
  numClasses: number;
  /** The reference part of the real test set, classified. */
  reference: ClassifiedSet;
  /** The held-out part, classified, with its images (uint8 [count, H, W, C]) and labels. */
  heldOut: ClassifiedSet & {
    images: Uint8Array;
    labels: ArrayLike<number>;
    width: number;
    height: number;
    channels: 1 | 3;
  };
  split: { reference: string; heldOut: string };
  command: string;
  prPoints?: number;
  shippedImages?: number;
}

const round = (v: number) => Number(v.toPrecision(8));

/** The real floor at sample size n: the first n held-out images against the reference. */
export function floorFigures(
  reference: Gaussian,
  referenceFeatures: Float32Array,
  referenceCount: number,
  heldOut: ClassifiedSet,
  n: number,
  featureDim: number,
  numClasses: number,
): FloorFigures {
  const features = heldOut.features.subarray(0, n * featureDim);
  const probs = heldOut.probs.subarray(0, n * numClasses);
  const hist = classHistogram(predictedClasses(probs, n, numClasses), numClasses);
  const m = Math.min(n, referenceCount);
  const pr = precisionRecall(
    referenceFeatures.subarray(0, referenceCount * featureDim),
    referenceCount,
    features.subarray(0, m * featureDim),
    m,
    featureDim,
  );
  return {
    samples: n,
    frechetDistance: frechetDistance(fitGaussian(features, n, featureDim), reference),
    precision: pr.precision,
    recall: pr.recall,
    klToUniform: klToUniform(hist),
    modesCovered: modesCovered(hist),
    meanConfidence: meanConfidence(probs, n, numClasses),
  };
}

/**
 * Reference statistics from the classified real test set (pure; the caller writes the three files).
 * @returns the JSON, the reference features and the shipped held-out images as little-endian bytes
 */
export function buildReferenceStats(input: ReferenceInput): {
  json: ReferenceStatsJson;
  featuresBin: Buffer;
  heldOutBin: Buffer;
} {
  const d = input.featureDim;
  const k = input.numClasses;
  const prPoints = Math.min(input.prPoints ?? PR_POINTS, input.reference.count);
  const shipped = Math.min(input.shippedImages ?? SHIPPED_IMAGES, input.heldOut.count);
  const gaussian = fitGaussian(input.reference.features, input.reference.count, d);
  const prFeatures = input.reference.features.slice(0, prPoints * d);
  const sizes = FLOOR_SIZES.filter((n) => n <= input.heldOut.count);
  if (sizes.length === 0) sizes.push(input.heldOut.count as (typeof FLOOR_SIZES)[number]);
  const floor = sizes.map((n) => floorFigures(gaussian, prFeatures, prPoints, input.heldOut, n, d, k));
  const perImage = input.heldOut.width * input.heldOut.height * input.heldOut.channels;
  const probe = Array.from({ length: Math.min(PROBE_IMAGES, shipped) }, (_, i) =>
    Array.from(input.heldOut.features.subarray(i * d, (i + 1) * d), round),
  );
  const json: ReferenceStatsJson = {
    version: 1,
    dataset: input.dataset,
    classifier: input.classifier,
    featureDim: d,
    split: input.split,
    reference: {
      count: input.reference.count,
      mean: gaussian.mean.map(round),
      covariance: gaussian.covariance.to1DArray().map(round),
    },
    features: { file: REFERENCE_FILES.features, count: prPoints },
    heldOut: {
      file: REFERENCE_FILES.heldOut,
      count: shipped,
      width: input.heldOut.width,
      height: input.heldOut.height,
      channels: input.heldOut.channels,
      labels: Array.from({ length: shipped }, (_, i) => input.heldOut.labels[i]!),
    },
    probe,
    floor,
    provenance: { command: input.command, createdAt: new Date().toISOString() },
  };
  const featuresBin = Buffer.from(new Float32Array(prFeatures).buffer);
  const heldOutBin = Buffer.from(input.heldOut.images.subarray(0, shipped * perImage));
  return { json, featuresBin, heldOutBin };
}

/** Reads and checks the statistics and their two binary files. @param file path of reference-stats.json */
export async function loadReferenceStats(file: string): Promise<ReferenceStats> {
  const parsed = referenceStatsSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const json = parsed.data;
  const d = json.featureDim;
  if (json.reference.mean.length !== d || json.reference.covariance.length !== d * d) {
    throw new Error(`${file}: expected a mean of ${d} and a covariance of ${d * d} values`);
  }
  const dir = dirname(file);
  const featureBytes = await readFile(join(dir, json.features.file));
  if (featureBytes.length !== json.features.count * d * 4) {
    throw new Error(
      `${json.features.file}: expected ${json.features.count}x${d} float32 (${json.features.count * d * 4} bytes), got ${featureBytes.length} bytes`,
    );
  }
  const features = new Float32Array(featureBytes.length / 4);
  Buffer.from(features.buffer).set(featureBytes);
  const h = json.heldOut;
  const images = await readFile(join(dir, h.file));
  if (images.length !== h.count * h.width * h.height * h.channels || h.labels.length !== h.count) {
    throw new Error(
      `${h.file}: expected ${h.count} images of ${h.height}x${h.width}x${h.channels} and ${h.count} labels, got ${images.length} bytes and ${h.labels.length} labels`,
    );
  }
  const covariance = Matrix.from1DArray(d, d, json.reference.covariance);
  return {
    json,
    gaussian: { mean: json.reference.mean, covariance },
    features,
    heldOutImages: new Uint8Array(images.buffer, images.byteOffset, images.length),
  };
}

/** Whether features the classifier computes now for the probe images match those stored with the statistics. */
export function probeMatches(stats: ReferenceStatsJson, features: Float32Array): boolean {
  const d = stats.featureDim;
  return stats.probe.every((row, i) =>
    row.every((v, j) => {
      const now = features[i * d + j];
      return now !== undefined && Math.abs(now - v) <= PROBE_TOLERANCE * (1 + Math.abs(v));
    }),
  );
}

/** The floor measured at the largest size not above `samples` (or the smallest there is). */
export function floorFor(stats: ReferenceStatsJson, samples: number): FloorFigures {
  const fitting = stats.floor.filter((f) => f.samples <= samples);
  return fitting.length > 0 ? fitting[fitting.length - 1]! : stats.floor[0]!;
}
