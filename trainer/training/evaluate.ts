/**
 * Per-epoch evaluation hook of the trainer (`--eval-every`): samples the generator from fixed seeds and lets the
 * dataset classifier judge them, so mode collapse shows while it happens: modes covered, KL to uniform, confidence,
 * label agreement and the Fréchet classifier distance to the real test set, computed by the service's own
 * `epochFigures` (src/diagnostics/epoch.ts), so a training log and `npm run evaluate` read alike. Further
 * diagnostics (precision/recall, D's AUC) plug in at `evaluateEpoch`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { type EpochFigures, epochFigures } from '../../src/diagnostics/epoch.ts';
import {
  codePurity,
  fitGaussian,
  type Gaussian,
  labelAgreement,
  predictedClasses,
} from '../../src/diagnostics/statistics.ts';
import { codesOf } from '../../src/latent/code.ts';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import { type Dataset, PIXELS, toSignedUnit } from '../data/datasets.ts';
import { tf } from '../tfjs/backend.ts';

/** The service's per-epoch figures (src/diagnostics/epoch.ts) for `samples` generated images, and the code's. */
export type EpochEvaluation = EpochFigures & {
  samples: number;
  /**
   * InfoGAN models: how far the unsupervised code found the classes, Σ over codes of the code's most frequent
   * predicted class, ÷ N (1 when every code draws a single class). Absent for other models.
   */
  codePurity?: number;
  /** Codes trained with labels (`--code-labels`): share of samples the classifier puts in their code's class. */
  codeAgreement?: number;
};

const EVAL_SEED_BASE = 1_000_000; // eval latents come from seeds far from the sample-grid seeds
const BATCH = 250;

function splitOutputs(out: tfTypes.Tensor | tfTypes.Tensor[]): {
  probs: tfTypes.Tensor;
  features: tfTypes.Tensor | null;
} {
  return Array.isArray(out) ? { probs: out[0]!, features: out[1] ?? null } : { probs: out, features: null };
}

/**
 * The Gaussian of the classifier's penultimate features over real images (the reference of the Fréchet distance).
 * @returns null when the classifier has no feature output
 */
export function referenceGaussian(classifier: tfTypes.LayersModel, data: Dataset): Gaussian | null {
  if (classifier.outputs.length < 2) return null;
  const d = classifier.outputs[1]!.shape[1] as number;
  const features = new Float32Array(data.count * d);
  for (let start = 0; start < data.count; start += BATCH) {
    const n = Math.min(BATCH, data.count - start);
    const f = tf.tidy(() => {
      const x = tf.tensor4d(toSignedUnit(data.images.subarray(start * PIXELS, (start + n) * PIXELS)), [
        n,
        28,
        28,
        1,
      ]);
      return splitOutputs(classifier.predict(x) as tfTypes.Tensor[]).features!;
    });
    features.set(f.dataSync() as Float32Array, start * d);
    f.dispose();
  }
  return fitGaussian(features, data.count, d);
}

/**
 * Generates `samples` images (seeds EVAL_SEED_BASE + i; labels i mod K when conditional) and classifies them.
 * @param classifier input [N, 28, 28, 1] in [−1, 1]; first output class probabilities [N, K]
 */
export function evaluateEpoch(
  generator: tfTypes.LayersModel,
  classifier: tfTypes.LayersModel,
  opts: {
    latentDim: number;
    numClasses: number | null;
    samples: number;
    reference?: Gaussian | null;
    /** Categories of the model's InfoGAN code, to measure its purity. */
    latentCode?: number | null;
    /** The code was trained with labels: also measure how often the class is the code. */
    codeLabels?: boolean;
  },
): EpochEvaluation {
  const k = (classifier.outputs[0]!.shape[1] as number) ?? 10;
  const d = classifier.outputs.length > 1 ? (classifier.outputs[1]!.shape[1] as number) : 0;
  const probs = new Float32Array(opts.samples * k);
  const features = new Float32Array(opts.samples * d);
  const requested = opts.numClasses === null ? null : new Int32Array(opts.samples);
  const codes = opts.latentCode ? new Int32Array(opts.samples) : null;
  for (let start = 0; start < opts.samples; start += BATCH) {
    const n = Math.min(BATCH, opts.samples - start);
    const seeds = Array.from({ length: n }, (_, i) => EVAL_SEED_BASE + start + i);
    const p = tf.tidy(() => {
      const latents = latentsForSeeds(seeds, opts.latentDim);
      if (codes && opts.latentCode) codes.set(codesOf(latents, n, opts.latentDim, opts.latentCode), start);
      const z = tf.tensor2d(latents, [n, opts.latentDim]);
      let input: tfTypes.Tensor | tfTypes.Tensor[] = z;
      if (requested && opts.numClasses !== null) {
        const labels = seeds.map((_, i) => (start + i) % opts.numClasses!);
        labels.forEach((l, i) => {
          requested[start + i] = l;
        });
        input = [z, tf.tensor2d(labels, [n, 1])];
      }
      const images = generator.predict(input) as tfTypes.Tensor;
      const out = splitOutputs(classifier.predict(images) as tfTypes.Tensor | tfTypes.Tensor[]);
      return out.features ? [out.probs, out.features] : [out.probs];
    });
    probs.set(p[0]!.dataSync() as Float32Array, start * k);
    if (p[1]) features.set(p[1].dataSync() as Float32Array, start * d);
    tf.dispose(p);
  }
  const figures = epochFigures({
    probs,
    features: d > 0 ? features : null,
    samples: opts.samples,
    numClasses: k,
    featureDim: d,
    requested,
    reference: opts.reference ?? null,
  });
  return {
    samples: opts.samples,
    ...figures,
    ...(codes && opts.latentCode
      ? codeFigures(codes, probs, k, opts.latentCode, opts.codeLabels ?? false)
      : {}),
  };
}

function codeFigures(
  codes: Int32Array,
  probs: Float32Array,
  k: number,
  categories: number,
  supervised: boolean,
): Pick<EpochEvaluation, 'codePurity' | 'codeAgreement'> {
  const predicted = predictedClasses(probs, codes.length, k);
  return {
    codePurity: codePurity(codes, predicted, k, categories),
    ...(supervised ? { codeAgreement: labelAgreement(codes, predicted) } : {}),
  };
}
