/**
 * onnxruntime's graph optimization levels on one generator, in the service's session layout (1 intra-op thread, no
 * spinning): images/s per level and batch, levels interleaved over `--rounds` rounds of `--ms` each, median reported.
 *
 *   npx tsx scripts/bench/optimization-levels.ts [--model models/mnist-dcgan] [--batches 8,64] [--rounds 7] [--ms 500]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { inputOf, manifestSchema } from '../../src/models/manifest.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { intList } from './flags.ts';
import { log, median, round } from './harness.ts';

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

export const optimizationLevelsFlags = z.object({
  model: z
    .string()
    .min(1)
    .default('models/mnist-dcgan')
    .describe('the model folder (an unconditional generator)'),
  batches: intList(1, 65_536).default([8, 64]).describe('batch sizes, comma-separated'),
  rounds: z.number().int().min(1).max(1000).default(7).describe('rounds over the levels (medians reported)'),
  ms: z.number().int().min(10).max(600_000).default(500).describe('milliseconds each level runs per round'),
});

export type OptimizationLevelsOptions = z.output<typeof optimizationLevelsFlags>;

export const cli: CliSpec<typeof optimizationLevelsFlags> = {
  command: 'npx tsx scripts/bench/optimization-levels.ts',
  description:
    "onnxruntime's graph optimization levels on one generator in the service's session layout (1 intra-op " +
    'thread, no spinning): images/s per level and batch.',
  flags: optimizationLevelsFlags,
};

/** Measures and prints images/s per level. @returns the medians by batch, then by level */
export async function run(o: OptimizationLevelsOptions): Promise<Record<number, Record<string, number>>> {
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(o.model, 'model.json'), 'utf8')));
  const g = manifest.generator;
  if (inputOf(g, 'class-index'))
    throw new Error(`--model: ${o.model} is a conditional generator; pick an unconditional one`);
  const sessions = await Promise.all(
    LEVELS.map((level) =>
      ort.InferenceSession.create(join(o.model, g.file), {
        graphOptimizationLevel: level,
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      }),
    ),
  );
  const result: Record<number, Record<string, number>> = {};
  try {
    log(`${o.model}: onnxruntime-node ${ort.env.versions.common}, 1 intra-op thread, no spinning`);
    for (const batch of o.batches) {
      const z = Float32Array.from({ length: batch * manifest.latentDim }, (_, i) => Math.sin(i));
      const feeds = {
        [inputOf(g, 'latent')!.name]: new ort.Tensor('float32', z, [batch, manifest.latentDim]),
      };
      const rates = new Map<string, number[]>();
      for (let r = 0; r < o.rounds; r++) {
        for (const [i, session] of sessions.entries()) {
          for (let k = 0; k < 3; k++) await session.run(feeds);
          const t0 = performance.now();
          let runs = 0;
          while (performance.now() - t0 < o.ms) {
            await session.run(feeds);
            runs++;
          }
          const level = LEVELS[i]!;
          rates.set(level, [...(rates.get(level) ?? []), (runs * batch * 1000) / (performance.now() - t0)]);
        }
      }
      result[batch] = Object.fromEntries(LEVELS.map((l) => [l, round(median(rates.get(l)!), 0)]));
      log(
        `batch ${batch}: ${LEVELS.map((l) => `${l} ${result[batch]![l]}`).join(', ')} images/s (medians of ${o.rounds} rounds)`,
      );
    }
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  return result;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
