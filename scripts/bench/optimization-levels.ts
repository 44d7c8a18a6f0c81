/**
 * onnxruntime's graph optimization levels on one generator, in the service's session layout (1 intra-op thread, no
 * spinning): images/s per level and batch, levels interleaved over `--rounds` rounds of `--ms` each, median reported.
 *
 *   npx tsx scripts/bench/optimization-levels.ts [--model models/mnist-dcgan] [--batches 8,64] [--rounds 7] [--ms 500]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { inputOf, manifestSchema } from '../../src/models/manifest.ts';
import { log, median, round } from './harness.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-dcgan' },
    batches: { type: 'string', default: '8,64' },
    rounds: { type: 'string', default: '7' },
    ms: { type: 'string', default: '500' },
  },
});
const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

const manifest = manifestSchema.parse(JSON.parse(await readFile(join(args.model!, 'model.json'), 'utf8')));
const g = manifest.generator;
if (inputOf(g, 'class-index'))
  throw new Error(`${args.model}: a conditional generator; pick an unconditional one`);
const sessions = await Promise.all(
  LEVELS.map((level) =>
    ort.InferenceSession.create(join(args.model!, g.file), {
      graphOptimizationLevel: level,
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    }),
  ),
);
log(`${args.model}: onnxruntime-node ${ort.env.versions.common}, 1 intra-op thread, no spinning`);
for (const batch of args.batches!.split(',').map(Number)) {
  const z = Float32Array.from({ length: batch * manifest.latentDim }, (_, i) => Math.sin(i));
  const feeds = { [inputOf(g, 'latent')!.name]: new ort.Tensor('float32', z, [batch, manifest.latentDim]) };
  const rates = new Map<string, number[]>();
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const [i, session] of sessions.entries()) {
      for (let k = 0; k < 3; k++) await session.run(feeds);
      const t0 = performance.now();
      let runs = 0;
      while (performance.now() - t0 < Number(args.ms)) {
        await session.run(feeds);
        runs++;
      }
      const level = LEVELS[i]!;
      rates.set(level, [...(rates.get(level) ?? []), (runs * batch * 1000) / (performance.now() - t0)]);
    }
  }
  log(
    `batch ${batch}: ${LEVELS.map((l) => `${l} ${round(median(rates.get(l)!), 0)}`).join(', ')} images/s (medians of ${args.rounds} rounds)`,
  );
}
await Promise.all(sessions.map((s) => s.release()));
