/**
 * `npm run bench:train`: training speed per architecture on the tfjs backend in use (wasm here): ms per GAN step
 * (1 D update + 1 G update), after two warm-up steps. `npm run bench:train -- --help` lists the flags.
 */
import { z } from 'zod';
import { loadDataset } from '../../trainer/data/datasets.ts';
import {
  ARCHITECTURES,
  type Architecture,
  buildDiscriminator,
  buildGenerator,
  DEFAULT_WIDTH,
} from '../../trainer/models/gan.ts';
import { initTf, tf } from '../../trainer/tfjs/backend.ts';
import { GanSampler } from '../../trainer/training/sampler.ts';
import { trainStep } from '../../trainer/training/step.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { widthFlag } from '../train/flags.ts';

const COMMAND = 'npm run bench:train --';
const LATENT_DIM = 100;
const WARM_UP_STEPS = 2;

const flags = z.object({
  steps: z.number().int().min(1).max(10_000).default(10).describe('timed steps per model'),
  batchSize: z.number().int().min(1).max(4096).default(64).describe('images per step'),
  width: widthFlag,
  arch: z.enum(ARCHITECTURES).optional().describe('one architecture (default: all)'),
  conditional: z.boolean().default(false).describe('also time the conditional (ACGAN) variant'),
  latentCode: z
    .number()
    .int()
    .min(2)
    .max(LATENT_DIM)
    .optional()
    .describe('also time the InfoGAN variant with a code of this many categories'),
});

export type BenchTrainOptions = z.input<typeof flags>;

/** One timed model. */
export type TrainTiming = {
  arch: Architecture;
  /** '', ' (conditional)' or ' (InfoGAN code of K)'. */
  variant: string;
  width: number;
  batchSize: number;
  msPerStep: number;
  stepsPerEpoch: number;
  params: number;
};

export const benchTrainCli: CliSpec<typeof flags> = {
  command: COMMAND,
  description: 'Times GAN training steps (one D and one G update) per architecture on MNIST.',
  flags,
  examples: [`${COMMAND} --steps 10 --batch-size 64 --conditional --latent-code 10`],
};

/** Times each architecture (and variant) and prints a line per model; returns the timings. */
export async function run(
  options: BenchTrainOptions,
  context: { log?: (line: string) => void } = {},
): Promise<TrainTiming[]> {
  const o = flags.parse(options);
  const log = context.log ?? ((line: string) => console.log(line));
  await initTf();
  const data = await loadDataset('mnist', 'train');
  const archs = o.arch ? [o.arch] : ARCHITECTURES;
  log(
    `backend ${tf.getBackend()}, batch ${o.batchSize}, ${o.steps} timed steps after ${WARM_UP_STEPS} warm-up steps`,
  );
  const variants: { label: string; numClasses: number | null; latentCode: number | null }[] = [
    { label: '', numClasses: null, latentCode: null },
  ];
  if (o.conditional) variants.push({ label: ' (conditional)', numClasses: 10, latentCode: null });
  if (o.latentCode) {
    variants.push({
      label: ` (InfoGAN code of ${o.latentCode})`,
      numClasses: null,
      latentCode: o.latentCode,
    });
  }
  const timings: TrainTiming[] = [];
  for (const arch of archs) {
    for (const { label, numClasses, latentCode } of variants) {
      const width = o.width ?? DEFAULT_WIDTH[arch];
      const opts = { arch, latentDim: LATENT_DIM, numClasses, latentCode, width };
      const models = {
        generator: buildGenerator(opts),
        discriminator: buildDiscriminator(opts),
        dOptimizer: tf.train.adam(2e-4, 0.5),
        gOptimizer: tf.train.adam(2e-4, 0.5),
      };
      const sampler = new GanSampler(data, o.batchSize, LATENT_DIM, numClasses, 1);
      const cfg = {
        loss: 'non-saturating' as const,
        labelSmoothing: 0.1,
        dSteps: 1,
        latentDim: LATENT_DIM,
        numClasses,
        latentCode,
        infoWeight: 1,
      };
      for (let i = 0; i < WARM_UP_STEPS; i++) trainStep(models, cfg, sampler.stepInputs());
      const t0 = performance.now();
      for (let i = 0; i < o.steps; i++) trainStep(models, cfg, sampler.stepInputs());
      const ms = (performance.now() - t0) / o.steps;
      const params = models.generator.countParams() + models.discriminator.countParams();
      log(
        `${arch}${label} width ${width}: ${ms.toFixed(0)} ms/step, ` +
          `${((ms * sampler.stepsPerEpoch) / 60_000).toFixed(1)} min/epoch (${sampler.stepsPerEpoch} steps), ${params} params`,
      );
      timings.push({
        arch,
        variant: label,
        width,
        batchSize: o.batchSize,
        msPerStep: ms,
        stepsPerEpoch: sampler.stepsPerEpoch,
        params,
      });
      models.generator.dispose();
      models.discriminator.dispose();
      models.dOptimizer.dispose();
      models.gOptimizer.dispose();
    }
  }
  return timings;
}

if (isMain(import.meta.url)) await runCli(benchTrainCli, process.argv.slice(2), (o) => run(o));
