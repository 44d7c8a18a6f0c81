/**
 * Which exported form runs fastest on onnxruntime's CPU provider, at identical outputs: converts DCGAN generators
 * in each exporter form, checks parity against tfjs, and measures images/s per graph optimization level, thread
 * count and batch size (forms interleaved, so they share whatever load the machine has). Prints a markdown table;
 * `--json <file>` also writes the raw figures, `--profile <dir>` writes onnxruntime profiles (per-op times) of each
 * form at batch 64.
 *
 *   npx tsx scripts/bench/export-forms.ts [--model tutorial|trainer] [--seconds 8] [--repeats 8] [--threads 1,2]
 *     [--batches 1,64] [--json docs/export-forms.json] [--profile .tmp/profiles]
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { type ConvertOptions, convertLayersModel } from '../../trainer/export/convert.ts';
import { measureParity } from '../../trainer/export/parity.ts';
import { randomizeWeights } from '../../trainer/export/random-weights.ts';
import { buildGenerator } from '../../trainer/models/gan.ts';
import { initTf, tf } from '../../trainer/tfjs/backend.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { parseModel } from '../onnx/builder.ts';
import { enumList, intList } from './flags.ts';

type ST = tfTypes.SymbolicTensor;

/**
 * The TensorFlow DCGAN tutorial's generator (2.3M parameters, six times the trainer's `dcgan`):
 * Dense(7·7·256) → BN → LReLU → ConvT(128, 5, s1) → BN → LReLU → ConvT(64, 5, s2) → BN → LReLU → ConvT(1, 5, s2) → tanh.
 */
function tutorialGenerator(latentDim = 100): tfTypes.LayersModel {
  const z = tf.input({ shape: [latentDim], name: 'z' });
  const bnLeaky = (x: ST) =>
    tf.layers.leakyReLU({ alpha: 0.3 }).apply(tf.layers.batchNormalization().apply(x) as ST) as ST;
  let h = bnLeaky(tf.layers.dense({ units: 7 * 7 * 256, useBias: false }).apply(z) as ST);
  h = tf.layers.reshape({ targetShape: [7, 7, 256] }).apply(h) as ST;
  for (const [filters, strides] of [
    [128, 1],
    [64, 2],
  ] as const) {
    h = bnLeaky(
      tf.layers
        .conv2dTranspose({ filters, kernelSize: 5, strides, padding: 'same', useBias: false })
        .apply(h) as ST,
    );
  }
  const out = tf.layers
    .conv2dTranspose({
      filters: 1,
      kernelSize: 5,
      strides: 2,
      padding: 'same',
      activation: 'tanh',
      name: 'image',
    })
    .apply(h) as ST;
  return tf.model({ inputs: z, outputs: out, name: 'tutorial_generator' });
}

const FORMS: Record<string, ConvertOptions> = {
  plain: { foldBatchNorm: false, layout: 'nhwc', convTranspose: 'native' },
  folded: { foldBatchNorm: true, layout: 'nhwc', convTranspose: 'native' },
  'folded+nchw': { foldBatchNorm: true, layout: 'lazy', convTranspose: 'native' },
  'folded+nchw+d2s': { foldBatchNorm: true, layout: 'lazy', convTranspose: 'depthToSpace' },
};

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
type Level = (typeof LEVELS)[number];

export const exportFormsFlags = z.object({
  model: z
    .enum(['tutorial', 'trainer'])
    .default('tutorial')
    .describe("the generator: the TensorFlow DCGAN tutorial's or this project's trainer's"),
  seconds: z.number().positive().max(3600).default(8).describe('seconds per setting, shared by the forms'),
  repeats: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(8)
    .describe('round-robin windows per setting (medians reported)'),
  threads: intList(1, 256).default([1, 2]).describe('intra-op thread counts, comma-separated'),
  batches: intList(1, 65_536).default([1, 64]).describe('batch sizes, comma-separated'),
  levels: enumList(LEVELS)
    .default([...LEVELS])
    .describe('graph optimization levels, comma-separated'),
  json: z.string().min(1).optional().describe('also write the raw figures to this JSON file'),
  profile: z
    .string()
    .min(1)
    .optional()
    .describe('write onnxruntime profiles of each form (all, 2 threads, batch 64) into this folder'),
});

export type ExportFormsOptions = z.output<typeof exportFormsFlags>;

export const cli: CliSpec<typeof exportFormsFlags> = {
  command: 'npx tsx scripts/bench/export-forms.ts',
  description:
    'Which exported form of a DCGAN generator runs fastest on onnxruntime (CPU) at identical outputs: parity ' +
    'against tfjs, then images/s per optimization level, thread count and batch size.',
  flags: exportFormsFlags,
};

type Measured = { ips: number; cpuIps: number; createMs: number };

/**
 * Images/s of every form under one setting. The forms take turns in short windows (round robin, `rounds` times)
 * and each reports its median window: these cores are shared with other processes, and interleaving exposes all
 * forms to the same load. `cpuIps` divides by this process's CPU time instead of wall time.
 */
async function compareForms(
  forms: Record<string, Uint8Array>,
  latentDim: number,
  batch: number,
  level: Level,
  threads: number,
  seconds: number,
  rounds: number,
): Promise<Record<string, Measured>> {
  const sessions: Record<string, { session: ort.InferenceSession; createMs: number }> = {};
  for (const [form, bytes] of Object.entries(forms)) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: level,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    sessions[form] = { session, createMs: performance.now() - t0 };
  }
  const z = new ort.Tensor('float32', new Float32Array(batch * latentDim).fill(0.5), [batch, latentDim]);
  const rates: Record<string, { wall: number[]; cpu: number[] }> = {};
  for (const [form, { session }] of Object.entries(sessions)) {
    rates[form] = { wall: [], cpu: [] };
    for (let i = 0; i < 3; i++) await session.run({ [session.inputNames[0]!]: z });
  }
  const windowMs = (seconds * 1000) / rounds;
  for (let r = 0; r < rounds; r++) {
    for (const [form, { session }] of Object.entries(sessions)) {
      const feeds = { [session.inputNames[0]!]: z };
      let runs = 0;
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      while (performance.now() - start < windowMs) {
        await session.run(feeds);
        runs++;
      }
      const wall = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpu0);
      rates[form]!.wall.push((runs * batch) / wall);
      rates[form]!.cpu.push((runs * batch) / ((cpu.user + cpu.system) / 1e6));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out: Record<string, Measured> = {};
  for (const [form, { session, createMs }] of Object.entries(sessions)) {
    out[form] = { ips: median(rates[form]!.wall), cpuIps: median(rates[form]!.cpu), createMs };
    await session.release();
  }
  return out;
}

async function profile(bytes: Uint8Array, latentDim: number, dir: string, label: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const prefix = path.join(dir, label);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 2,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const batch = 64;
  const z = new ort.Tensor('float32', new Float32Array(batch * latentDim).fill(0.5), [batch, latentDim]);
  for (let i = 0; i < 20; i++) await session.run({ [session.inputNames[0]!]: z });
  session.endProfiling();
  await session.release();
  // onnxruntime appends a timestamp to the prefix; summarise the newest file by op type.
  const stamped = new RegExp(`^${label}_\\d{4}-\\d{2}-\\d{2}_.*\\.json$`);
  const files = (await readdir(dir)).filter((f) => stamped.test(f)).sort();
  const file = path.join(dir, files.at(-1)!);
  await rename(file, `${prefix}.json`);
  type Event = { cat: string; name: string; dur: number; args?: { op_name?: string } };
  const events = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as Event[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  return [...byOp.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([op, us]) => `${op} ${((100 * us) / total).toFixed(1)}%`)
    .join(', ');
}

/** Converts, checks parity, measures and prints the table. @returns the measured rows */
export async function run(o: ExportFormsOptions): Promise<Record<string, unknown>[]> {
  await initTf();
  const latentDim = 100;
  const model =
    o.model === 'trainer'
      ? buildGenerator({ arch: 'dcgan', latentDim, numClasses: null })
      : tutorialGenerator(latentDim);
  randomizeWeights(model, 7, 0.5); // non-trivial weights, BN statistics included, so folding is really exercised
  const { seconds, repeats, threads, batches, levels } = o;
  console.log(
    `# ${model.name}: ${model.countParams()} parameters; onnxruntime-node ${ort.env.versions.common}, ` +
      `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; tfjs ${tf.getBackend()}`,
  );
  const rows: Record<string, unknown>[] = [];
  const bytes: Record<string, Uint8Array> = {};
  for (const [form, options] of Object.entries(FORMS)) {
    const converted = convertLayersModel(model, options);
    const parity = await measureParity(model, converted, { samples: 256 });
    bytes[form] = converted.bytes;
    const nodes = parseModel(converted.bytes).graph?.node?.length ?? 0;
    console.log(
      `${form}: ${nodes} ONNX nodes, parity vs tfjs ${parity.worst.toExponential(1)} (max abs, 256 inputs)`,
    );
  }
  const header = ['level', 'threads', 'batch', ...Object.keys(FORMS).map((f) => `${f} img/s (per CPU-s)`)];
  console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const level of levels) {
    for (const t of threads) {
      for (const b of batches) {
        const m = await compareForms(bytes, latentDim, b, level, t, seconds, repeats);
        rows.push({ level, threads: t, batch: b, forms: m });
        const cells = Object.values(m).map((r) => `${r.ips.toFixed(0)} (${r.cpuIps.toFixed(0)})`);
        console.log(`| ${level} | ${t} | ${b} | ${cells.join(' | ')} |`);
      }
    }
  }
  if (o.profile) {
    for (const form of Object.keys(FORMS)) {
      const summary = await profile(
        convertLayersModel(model, FORMS[form]).bytes,
        latentDim,
        o.profile,
        form.replace(/\W/g, '_'),
      );
      console.log(`profile ${form} (all, 2 threads, batch 64): ${summary}`);
    }
  }
  if (o.json) {
    await mkdir(path.dirname(o.json), { recursive: true });
    await writeFile(
      o.json,
      `${JSON.stringify({ model: model.name, params: model.countParams(), rows }, null, 2)}\n`,
    );
  }
  return rows;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
