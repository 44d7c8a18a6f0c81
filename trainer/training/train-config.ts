/**
 * What a GAN training run is trained with (`<out>/config.json` holds it, with the class names and tfjs backend),
 * and how a run is named in logs and pictures.
 */
import type { DatasetName } from '../data/datasets.ts';
import type { Architecture } from '../models/gan.ts';
import type { GanLoss } from './step.ts';

/** Everything a run is trained with; written to `<out>/config.json` (with the class names and tfjs backend). */
export type TrainConfig = {
  dataset: DatasetName;
  arch: Architecture;
  conditional: boolean;
  /** Categories of an InfoGAN latent code read from z (unconditional only), or null for a plain GAN. */
  latentCode: number | null;
  /** λ of the InfoGAN mutual-information term. */
  infoWeight: number;
  /** Supervise the code with the dataset's labels on real images (semi-supervised InfoGAN; G still takes z alone). */
  codeLabels: boolean;
  width: number;
  epochs: number;
  batchSize: number;
  latentDim: number;
  loss: GanLoss;
  lrD: number;
  lrG: number;
  beta1: number;
  dSteps: number;
  labelSmoothing: number;
  /** Decay of the generator's weight average (0 = none): when set, the average is evaluated, drawn and exported. */
  emaDecay: number;
  seed: number;
  evalEvery: number;
  evalSamples: number;
  /** Real test images whose classifier features form the Fréchet reference (10,000 = the whole test set). */
  referenceSamples: number;
  /** Cap on steps per epoch (smoke tests); null = one pass over the training set. */
  stepsPerEpoch: number | null;
  classifier: string | null;
  /** A run whose checkpoint's weights a new run starts from (warm start), or null. */
  initFrom: string | null;
  /** The epoch of initFrom's checkpoint when this run copied it (the source may train on afterwards). */
  initFromEpoch: number | null;
  out: string;
  /** The command line that reruns this training, for the exported model's provenance. */
  command: string;
};

/** Settings a resumed run must share with its checkpoint. */
export const FIXED_ON_RESUME = [
  'dataset',
  'arch',
  'conditional',
  'latentCode',
  'codeLabels',
  'initFrom',
  'width',
  'latentDim',
] as const;

/** ' (conditional)', ' (InfoGAN code of K…)' or '': appended to the architecture in logs and titles. */
export function variantOf(cfg: Pick<TrainConfig, 'conditional' | 'latentCode' | 'codeLabels'>): string {
  if (cfg.conditional) return ' (conditional)';
  if (cfg.latentCode === null) return '';
  return ` (InfoGAN code of ${cfg.latentCode}${cfg.codeLabels ? ', supervised by labels' : ''})`;
}
