/**
 * Per-epoch evaluation hook of the trainer (`--eval-every`): samples the generator from fixed seeds and lets the
 * dataset classifier judge them, so mode collapse shows while it happens. The full diagnostics (Fréchet classifier
 * distance against reference statistics, precision/recall) belong to the evaluation module (`npm run evaluate`);
 * `evaluateEpoch` is the one place where they plug into training.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import { tf } from '../tfjs/backend.ts';

export type EpochEvaluation = {
  samples: number;
  /** Classes holding at least MODE_SHARE of the samples. */
  modesCovered: number;
  /** KL(class histogram ‖ uniform), nats: 0 when balanced, ln(K) when one class takes all. */
  klToUniform: number;
  meanConfidence: number;
  /** Conditional models: share of samples the classifier puts in the requested class. */
  labelAgreement: number | null;
  /** Fréchet classifier distance; null until reference statistics exist for the dataset. */
  frechetDistance: number | null;
};

export const MODE_SHARE = 0.02; // a class "is covered" with ≥ 2% of samples (uniform is 10%)
const EVAL_SEED_BASE = 1_000_000; // eval latents come from seeds far from the sample-grid seeds
const BATCH = 250;

/** Class histogram statistics from classifier probabilities float32 [N, K]. */
export function histogramStats(probs: Float32Array, n: number, k: number, requested: Int32Array | null) {
  const counts = new Array<number>(k).fill(0);
  let conf = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
    counts[best]!++;
    conf += probs[i * k + best]!;
    if (requested && requested[i] === best) agree++;
  }
  let kl = 0;
  for (const c of counts) {
    if (c > 0) {
      const p = c / n;
      kl += p * Math.log(p * k);
    }
  }
  return {
    counts,
    modesCovered: counts.filter((c) => c / n >= MODE_SHARE).length,
    klToUniform: kl,
    meanConfidence: conf / n,
    labelAgreement: requested ? agree / n : null,
  };
}

/**
 * Generates `samples` images (seeds EVAL_SEED_BASE + i; labels i mod K when conditional) and classifies them.
 * @param classifier input [N, 28, 28, 1] in [−1, 1]; first output class probabilities [N, K]
 */
export function evaluateEpoch(
  generator: tfTypes.LayersModel,
  classifier: tfTypes.LayersModel,
  opts: { latentDim: number; numClasses: number | null; samples: number },
): EpochEvaluation {
  const k = (classifier.outputs[0]!.shape[1] as number) ?? 10;
  const probs = new Float32Array(opts.samples * k);
  const requested = opts.numClasses === null ? null : new Int32Array(opts.samples);
  for (let start = 0; start < opts.samples; start += BATCH) {
    const n = Math.min(BATCH, opts.samples - start);
    const seeds = Array.from({ length: n }, (_, i) => EVAL_SEED_BASE + start + i);
    const p = tf.tidy(() => {
      const z = tf.tensor2d(latentsForSeeds(seeds, opts.latentDim), [n, opts.latentDim]);
      let input: tfTypes.Tensor | tfTypes.Tensor[] = z;
      if (requested && opts.numClasses !== null) {
        const labels = seeds.map((_, i) => (start + i) % opts.numClasses!);
        labels.forEach((l, i) => {
          requested[start + i] = l;
        });
        input = [z, tf.tensor2d(labels, [n, 1])];
      }
      const images = generator.predict(input) as tfTypes.Tensor;
      const out = classifier.predict(images);
      return (Array.isArray(out) ? out[0]! : out) as tfTypes.Tensor;
    });
    probs.set(p.dataSync() as Float32Array, start * k);
    p.dispose();
  }
  const stats = histogramStats(probs, opts.samples, k, requested);
  return {
    samples: opts.samples,
    modesCovered: stats.modesCovered,
    klToUniform: stats.klToUniform,
    meanConfidence: stats.meanConfidence,
    labelAgreement: stats.labelAgreement,
    frechetDistance: null,
  };
}
