/**
 * `npm run train`: trains a GAN on MNIST or Fashion-MNIST with TensorFlow.js (wasm backend) and writes what a
 * person needs to watch the adversarial game: per-epoch sample grids, metrics (JSONL + CSV), a loss-curve PNG and
 * checkpoints. `npm run train -- --help` lists the flags; the loop itself is trainer/training/train-gan.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DATASETS, NUM_CLASSES } from '../../trainer/data/datasets.ts';
import { ARCHITECTURES, DEFAULT_WIDTH } from '../../trainer/models/gan.ts';
import { LOSSES } from '../../trainer/training/step.ts';
import type { TrainConfig } from '../../trainer/training/train-config.ts';
import { trainGan } from '../../trainer/training/train-gan.ts';
import { type CliSpec, isMain, runCli, toArgv } from '../cli-args.ts';
import { commandLine } from '../command-line.ts';
import { stepsPerEpochFlag, widthFlag } from './flags.ts';

const COMMAND = 'npm run train --';

const flags = z
  .object({
    dataset: z.enum(DATASETS).default('mnist').describe('images to train on'),
    arch: z.enum(ARCHITECTURES).default('dcgan').describe('network family of G and D'),
    conditional: z
      .boolean()
      .default(false)
      .describe('ACGAN: G takes a class label, D also predicts the class'),
    latentCode: z
      .number()
      .int()
      .min(0)
      .max(4096)
      .default(0)
      .describe('InfoGAN: categories of a code G reads from z and D recovers (0 = none)'),
    infoWeight: z.number().min(0).max(100).default(1).describe('λ of the InfoGAN code term'),
    codeLabels: z
      .boolean()
      .default(false)
      .describe('supervise the code with the labels of real images (needs --latent-code 10)'),
    width: widthFlag,
    epochs: z.number().int().min(1).max(10_000).default(5).describe('epochs in all, counting resumed ones'),
    batchSize: z.number().int().min(1).max(4096).default(64).describe('images per step'),
    latentDim: z.number().int().min(1).max(4096).default(100).describe('length of z'),
    loss: z.enum(LOSSES).default('non-saturating').describe("G's loss"),
    lrD: z.number().min(0).max(1).default(2e-4).describe("D's Adam learning rate"),
    lrG: z.number().min(0).max(1).default(2e-4).describe("G's Adam learning rate"),
    beta1: z.number().min(0).max(1).default(0.5).describe("Adam's β1"),
    dSteps: z.number().int().min(1).max(100).default(1).describe('D updates per G update'),
    labelSmoothing: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.1)
      .describe("one-sided: D's target for real images is 1 − this"),
    emaDecay: z
      .number()
      .min(0)
      .max(0.999999)
      .default(0)
      .describe(
        "decay of the generator's weight average, which is then evaluated, drawn and exported (0 = none)",
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .default(1)
      .describe('seed of weights, data order and noise'),
    evalEvery: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(1)
      .describe('epochs between evaluations (0 = none)'),
    evalSamples: z
      .number()
      .int()
      .min(10)
      .max(100_000)
      .default(2000)
      .describe('generated images per evaluation'),
    referenceSamples: z
      .number()
      .int()
      .min(2)
      .max(10_000)
      .default(10_000)
      .describe('real test images behind the Fréchet reference'),
    stepsPerEpoch: stepsPerEpochFlag,
    classifier: z
      .string()
      .min(1)
      .optional()
      .describe(
        'classifier checkpoint that evaluates each epoch (default: runs/<dataset>-classifier/checkpoint/classifier when present)',
      ),
    initFrom: z
      .string()
      .min(1)
      .optional()
      .describe("a run whose checkpoint's weights this run starts from, layer by layer by name"),
    out: z.string().min(1).describe('output folder, e.g. runs/mnist-dcgan'),
    resume: z.boolean().default(false).describe('continue the run in --out from its checkpoint'),
  })
  .superRefine((o, ctx) => {
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (o.latentCode === 1) refuse('latentCode', 'expected 0 (none) or at least 2 categories, got 1');
    if (o.latentCode > o.latentDim) {
      refuse('latentCode', `expected at most --latent-dim (${o.latentDim}) categories, got ${o.latentCode}`);
    }
    if (o.latentCode > 0 && o.conditional) {
      refuse('latentCode', 'a conditional model already has a class input; use one or the other');
    }
    if (o.codeLabels && o.latentCode !== NUM_CLASSES) {
      refuse('codeLabels', `needs --latent-code ${NUM_CLASSES} (one code per class), got ${o.latentCode}`);
    }
    if (o.codeLabels && o.infoWeight === 0) {
      refuse('codeLabels', 'the labels act through the code term, so --info-weight must be above 0');
    }
  });

export type TrainOptions = z.input<typeof flags>;

export const trainCli: CliSpec<typeof flags> = {
  command: COMMAND,
  description:
    'Trains a GAN on MNIST or Fashion-MNIST with TensorFlow.js and writes per-epoch sample grids, metrics\n' +
    '(metrics.jsonl, metrics.csv, steps.csv), loss-curve.png, config.json and a checkpoint into --out.',
  flags,
  examples: [
    `${COMMAND} --dataset mnist --arch dcgan --epochs 5 --out runs/mnist-dcgan`,
    `${COMMAND} --conditional --ema-decay 0.999 --out runs/mnist-acgan`,
    `${COMMAND} --dataset fashion-mnist --latent-code 10 --code-labels --out runs/fashion-mnist-dcgan`,
    `${COMMAND} --epochs 10 --resume --out runs/mnist-dcgan`,
  ],
};

/** The trainer's configuration from validated flags: per-architecture width, the default classifier. */
export function trainConfig(options: TrainOptions, argv?: readonly string[]): TrainConfig {
  const o = flags.parse(options);
  const defaultClassifier = path.join('runs', `${o.dataset}-classifier`, 'checkpoint', 'classifier');
  const { resume: _resume, ...rest } = o;
  return {
    ...rest,
    latentCode: o.latentCode > 0 ? o.latentCode : null,
    width: o.width ?? DEFAULT_WIDTH[o.arch],
    stepsPerEpoch: o.stepsPerEpoch ?? null,
    classifier:
      o.classifier ?? (existsSync(path.join(defaultClassifier, 'model.json')) ? defaultClassifier : null),
    initFrom: o.initFrom ?? null,
    initFromEpoch: null,
    command: commandLine(COMMAND, argv ?? toArgv(trainCli, options)),
  };
}

/**
 * Trains as the flags say. `argv`, when the options came from a command line, is recorded as the run's command;
 * otherwise the command is rebuilt from the options.
 */
export async function run(
  options: TrainOptions,
  context: { argv?: readonly string[]; log?: (line: string) => void } = {},
): Promise<void> {
  const cfg = trainConfig(options, context.argv);
  await trainGan(cfg, { resume: options.resume ?? false, ...(context.log ? { log: context.log } : {}) });
}

if (isMain(import.meta.url)) await runCli(trainCli, process.argv.slice(2), (o, argv) => run(o, { argv }));
