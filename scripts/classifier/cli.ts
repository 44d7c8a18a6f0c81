/**
 * `npm run train:classifier`: trains the dataset classifier that measures generators (sample quality, mode
 * coverage) and records its test accuracy. `npm run train:classifier -- --help` lists the flags; the loop is
 * trainer/training/train-classifier.ts.
 */
import { z } from 'zod';
import { DATASETS } from '../../trainer/data/datasets.ts';
import { type ClassifierSummary, trainClassifier } from '../../trainer/training/train-classifier.ts';
import { type CliSpec, isMain, runCli, toArgv } from '../cli-args.ts';
import { commandLine } from '../command-line.ts';
import { stepsPerEpochFlag } from '../train/flags.ts';

const COMMAND = 'npm run train:classifier --';

const flags = z.object({
  dataset: z.enum(DATASETS).default('mnist').describe('images to train on'),
  out: z.string().min(1).describe('output folder, e.g. runs/mnist-classifier'),
  epochs: z.number().int().min(1).max(1000).default(4).describe('passes over the training set'),
  batchSize: z.number().int().min(1).max(4096).default(128).describe('images per step'),
  lr: z.number().positive().max(1).default(1e-3).describe("Adam's learning rate"),
  seed: z.number().int().min(0).max(0xffffffff).default(1).describe('seed of weights and data order'),
  stepsPerEpoch: stepsPerEpochFlag,
  init: z
    .string()
    .min(1)
    .optional()
    .describe(
      'continue from a saved classifier, e.g. <out>/checkpoint/classifier (a few more epochs at a lower --lr)',
    ),
});

export type ClassifierOptions = z.input<typeof flags>;

export const classifierCli: CliSpec<typeof flags> = {
  command: COMMAND,
  description:
    'Trains the dataset classifier that measures generators and writes <out>/checkpoint/classifier/,\n' +
    '<out>/classifier.json (test accuracy overall and per class, the command) and <out>/metrics.jsonl.',
  flags,
  examples: [
    `${COMMAND} --dataset mnist --out runs/mnist-classifier`,
    `${COMMAND} --out runs/mnist-classifier --epochs 2 --lr 1e-4 --init runs/mnist-classifier/checkpoint/classifier`,
  ],
};

/** Trains as the flags say. `argv`, when the options came from a command line, is recorded in classifier.json. */
export async function run(
  options: ClassifierOptions,
  context: { argv?: readonly string[]; log?: (line: string) => void } = {},
): Promise<ClassifierSummary | null> {
  const o = flags.parse(options);
  return trainClassifier(
    {
      ...o,
      stepsPerEpoch: o.stepsPerEpoch ?? null,
      init: o.init ?? null,
      command: commandLine(COMMAND, context.argv ?? toArgv(classifierCli, options)),
    },
    context.log ? { log: context.log } : {},
  );
}

if (isMain(import.meta.url)) {
  await runCli(classifierCli, process.argv.slice(2), (o, argv) => run(o, { argv }));
}
