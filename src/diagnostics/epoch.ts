/**
 * The figures the trainer's per-epoch hook logs (trainer/training/evaluate.ts `evaluateEpoch`), from classifier
 * outputs it computed with tfjs: the same functions, thresholds and definitions as the service's diagnostics, so
 * a training log and `npm run evaluate` read alike.
 */
import {
  classHistogram,
  fitGaussian,
  frechetDistance,
  type Gaussian,
  klToUniform,
  labelAgreement,
  meanConfidence,
  modesCovered,
  predictedClasses,
} from './statistics.ts';

export interface EpochFigures {
  /** Classes holding at least MODE_SHARE of the samples. */
  modesCovered: number;
  /** KL(class histogram ‖ uniform), nats. */
  klToUniform: number;
  meanConfidence: number;
  /** Conditional models: share of samples classified as the requested label; null otherwise. */
  labelAgreement: number | null;
  /** Fréchet classifier distance d² to `reference`; null without one or without features. */
  frechetDistance: number | null;
}

export interface EpochFiguresInput {
  /** float32 [samples, numClasses] class probabilities */
  probs: Float32Array;
  /** float32 [samples, featureDim] penultimate features, or null when the classifier has none */
  features: Float32Array | null;
  samples: number;
  numClasses: number;
  featureDim: number;
  /** int32 [samples] requested labels (conditional models), else null */
  requested: Int32Array | null;
  /** Gaussian of real features (the Fréchet distance's reference), else null */
  reference: Gaussian | null;
}

export function epochFigures(input: EpochFiguresInput): EpochFigures {
  const { probs, samples: n, numClasses: k } = input;
  const predicted = predictedClasses(probs, n, k);
  const hist = classHistogram(predicted, k);
  return {
    modesCovered: modesCovered(hist),
    klToUniform: klToUniform(hist),
    meanConfidence: meanConfidence(probs, n, k),
    labelAgreement: input.requested ? labelAgreement(input.requested, predicted) : null,
    frechetDistance:
      input.reference && input.features && input.featureDim > 0
        ? frechetDistance(fitGaussian(input.features, n, input.featureDim), input.reference)
        : null,
  };
}
