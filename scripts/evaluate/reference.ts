/**
 * Reference statistics for a dataset classifier, from the dataset's real test set: the first half is the
 * reference (feature Gaussian, precision/recall points), the second half the held-out "real" data whose figures
 * against the reference are the floor a perfect generator would reach; 500 held-out images ship for D(x).
 *
 *   npm run evaluate -- --reference --classifier models/mnist-classifier
 *
 * Writes reference-stats.json, reference-features.bin and reference-heldout.bin beside classifier.json and sets
 * its `referenceStats`. The classifier runs on onnxruntime exactly as the service runs it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  buildReferenceStats,
  type ClassifiedSet,
  REFERENCE_FILES,
  type ReferenceStatsJson,
} from '../../src/diagnostics/reference.ts';
import { softmaxRows } from '../../src/diagnostics/statistics.ts';
import { pixelsToFloat } from '../../src/imaging/pixels.ts';
import { type ClassifierManifest, classifierManifestSchema } from '../../src/models/manifest.ts';

/** Classifies uint8 [n, H, W, C] pixels: probabilities [n, K] and features [n, D]. */
export type Classify = (pixels: Uint8Array) => Promise<{ probs: Float32Array; features: Float32Array }>;

const BATCH = 500;

export async function readClassifierManifest(dir: string): Promise<ClassifierManifest> {
  const file = path.join(dir, 'classifier.json');
  const parsed = classifierManifestSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/** An onnxruntime session over `<dir>/classifier.onnx`, fed as the service feeds it. */
export async function onnxClassifier(
  dir: string,
  manifest: ClassifierManifest,
): Promise<{ classify: Classify; release: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(path.join(dir, manifest.file), {
    executionProviders: ['cpu'],
  });
  const { width, height, channels } = manifest.image;
  const k = manifest.classNames.length;
  const classify: Classify = async (pixels) => {
    const n = pixels.length / (width * height * channels);
    const data = pixelsToFloat(pixels, manifest.inputRange, manifest.inputLayout, height, width, channels);
    const dims =
      manifest.inputLayout === 'NHWC' ? [n, height, width, channels] : [n, channels, height, width];
    const out = await session.run({ [manifest.input]: new ort.Tensor('float32', data, dims) }, [
      manifest.output,
      manifest.features,
    ]);
    const probs = Float32Array.from(out[manifest.output]!.data as Float32Array);
    if (manifest.outputKind === 'logits') softmaxRows(probs, n, k);
    return { probs, features: Float32Array.from(out[manifest.features]!.data as Float32Array) };
  };
  return { classify, release: () => session.release() };
}

/** Classify many images in batches. @param images uint8 [count, H, W, C] */
export async function classifyAll(
  classify: Classify,
  images: Uint8Array,
  count: number,
  featureDim: number,
  numClasses: number,
): Promise<ClassifiedSet> {
  const perImage = images.length / count;
  const features = new Float32Array(count * featureDim);
  const probs = new Float32Array(count * numClasses);
  for (let from = 0; from < count; from += BATCH) {
    const to = Math.min(count, from + BATCH);
    const out = await classify(images.subarray(from * perImage, to * perImage));
    features.set(out.features, from * featureDim);
    probs.set(out.probs, from * numClasses);
  }
  return { count, features, probs };
}

export interface RealImages {
  /** uint8 [count, H, W, C] */
  images: Uint8Array;
  labels: ArrayLike<number>;
  count: number;
  /** e.g. "mnist test" */
  source: string;
}

/**
 * Splits the real images in two halves (reference, held-out), classifies both and builds the statistics.
 */
export async function referenceFromImages(
  manifest: ClassifierManifest,
  real: RealImages,
  classify: Classify,
  command: string,
): Promise<ReturnType<typeof buildReferenceStats>> {
  const { width, height, channels } = manifest.image;
  const perImage = width * height * channels;
  if (real.images.length !== real.count * perImage) {
    throw new Error(
      `expected ${real.count} images of ${height}x${width}x${channels}, got ${real.images.length} bytes`,
    );
  }
  const half = Math.floor(real.count / 2);
  const d = manifest.featureDim;
  const k = manifest.classNames.length;
  const reference = await classifyAll(classify, real.images.subarray(0, half * perImage), half, d, k);
  const heldImages = real.images.subarray(half * perImage, real.count * perImage);
  const heldOut = await classifyAll(classify, heldImages, real.count - half, d, k);
  return buildReferenceStats({
    dataset: manifest.dataset,
    classifier: manifest.name,
    featureDim: d,
    numClasses: k,
    reference,
    heldOut: {
      ...heldOut,
      images: heldImages,
      labels: Array.from({ length: real.count - half }, (_, i) => real.labels[half + i]!),
      width,
      height,
      channels,
    },
    split: {
      reference: `${real.source}[0, ${half})`,
      heldOut: `${real.source}[${half}, ${real.count})`,
    },
    command,
  });
}

/** Writes the three files beside classifier.json and points its `referenceStats` at them. */
export async function writeReference(
  dir: string,
  built: { json: ReferenceStatsJson; featuresBin: Buffer; heldOutBin: Buffer },
): Promise<string> {
  await writeFile(path.join(dir, REFERENCE_FILES.features), built.featuresBin);
  await writeFile(path.join(dir, REFERENCE_FILES.heldOut), built.heldOutBin);
  const statsFile = path.join(dir, REFERENCE_FILES.stats);
  await writeFile(statsFile, `${JSON.stringify(built.json)}\n`);
  const manifestFile = path.join(dir, 'classifier.json');
  const raw = JSON.parse(await readFile(manifestFile, 'utf8')) as Record<string, unknown>;
  raw.referenceStats = REFERENCE_FILES.stats;
  classifierManifestSchema.parse(raw);
  await writeFile(manifestFile, `${JSON.stringify(raw, null, 2)}\n`);
  return statsFile;
}
