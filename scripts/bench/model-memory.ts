/**
 * Memory of a model loaded and unloaded while serving (`npm run bench:model-memory`): a generator-only model with
 * ~67 MB of weights is loaded through the repository API into a running server (GAN_MODEL_CONTROL=explicit, no model
 * at start), reloaded, and unloaded; the server's RSS is read after each step. Its sessions live in every inference
 * worker, so loading costs about workers × the weights, and unloading must give it back. RSS is the server's process
 * tree (worker processes included under GAN_WORKER_ISOLATION=process).
 *
 *   [GAN_WORKER_ISOLATION=process] npm run bench:model-memory -- [--workers 2] [--hidden 16384]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { RandomState } from '../../src/latent/random-state.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { reportCommand } from './flags.ts';
import { log, startServer } from './harness.ts';

/** Resident memory of a process and all its descendants (worker processes included), from /proc. */
function treeRssBytes(root: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      rss.set(Number(entry), kb * 1024);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

const LATENT = 256;

export const modelMemoryFlags = z.object({
  workers: z.number().int().min(1).max(64).default(2).describe('GAN_WORKERS of the server'),
  hidden: z
    .number()
    .int()
    .min(16)
    .max(262_144)
    .default(16_384)
    .describe("the generator's hidden width: its weights are (256 + 784) × hidden floats"),
});

export type ModelMemoryOptions = z.output<typeof modelMemoryFlags>;

export const cli: CliSpec<typeof modelMemoryFlags> = {
  command: 'npm run bench:model-memory --',
  description:
    "The server's RSS (its process tree) while a generator with large weights is loaded, reloaded and unloaded " +
    'through the repository API (GAN_MODEL_CONTROL=explicit). GAN_WORKER_ISOLATION=process in the environment ' +
    'runs the workers as processes.',
  flags: modelMemoryFlags,
};

/** z [N, 256] → tanh(z W1) W2 → tanh → a 28×28 grey image: W1 and W2 hold LATENT·H + H·784 floats. */
function bigGenerator(hidden: number): Uint8Array {
  const g = new GraphBuilder('big');
  const rng = new RandomState(1);
  const weight = (rows: number, cols: number) =>
    g.initializer(
      Float32Array.from(rng.randn(rows * cols), (v) => v / Math.sqrt(rows)),
      [rows, cols],
    );
  const z = g.input('z', 'float32', ['N', LATENT]);
  const h = g.op('Tanh', [g.op('MatMul', [z, weight(LATENT, hidden)])]);
  const x = g.op('Tanh', [g.op('MatMul', [h, weight(hidden, 784)])]);
  const image = g.op('Reshape', [x, g.int64s([-1, 28, 28, 1])], undefined, 'image');
  g.output(image, 'float32', ['N', 28, 28, 1]);
  return g.serialize();
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Loads, reloads and unloads the model in a fresh server and prints its RSS after each step.
 * @param argv the command line it was run with, printed with the table (default: the flags that give `o`)
 * @returns each step and the server's RSS after it, bytes
 */
export async function run(o: ModelMemoryOptions, argv?: readonly string[]): Promise<Array<[string, number]>> {
  const dir = await mkdtemp(join(tmpdir(), 'gan-model-memory-'));
  const folder = join(dir, 'big');
  await mkdir(folder);
  const onnx = bigGenerator(o.hidden);
  await writeFile(join(folder, 'generator.onnx'), onnx);
  await writeFile(
    join(folder, 'model.json'),
    JSON.stringify({
      name: 'big',
      title: 'A generator with large weights',
      latentDim: LATENT,
      image: { width: 28, height: 28, channels: 1 },
      generator: {
        inputs: [{ role: 'latent', name: 'z' }],
        output: 'image',
        outputRange: [-1, 1],
        outputLayout: 'NHWC',
      },
      numClasses: null,
    }),
  );
  const server = await startServer(dir, {
    GAN_MODEL_CONTROL: 'explicit',
    GAN_WORKERS: String(o.workers),
    GAN_LOG_LEVEL: 'warn',
  });
  const post = (path: string) => fetch(`${server.url}${path}`, { method: 'POST' });
  /** RSS once allocation has settled: the median of five reads a moment apart. */
  const settledRss = async () => {
    const reads: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 300));
      reads.push(treeRssBytes(server.child.pid!));
    }
    return reads.sort((a, b) => a - b)[2]!;
  };
  const rows: Array<[string, number]> = [];
  try {
    rows.push(['started, no model loaded', await settledRss()]);
    for (const [step, path] of [
      ['loaded', '/v2/repository/models/big/load'],
      ['reloaded (the old version released)', '/v2/repository/models/big/load'],
      ['unloaded', '/v2/repository/models/big/unload'],
      ['loaded again', '/v2/repository/models/big/load'],
      ['unloaded again', '/v2/repository/models/big/unload'],
    ] as const) {
      const res = await post(path);
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      if (step.startsWith('loaded')) {
        const gen = await fetch(`${server.url}/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"model":"big","seed":1}',
        });
        if (!gen.ok) throw new Error(`generate: ${gen.status}`);
      }
      rows.push([step, await settledRss()]);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const base = rows[0]![1];
  console.log(`\n${reportCommand(cli, o, argv)}`);
  console.log(
    `${os.cpus()[0]?.model ?? 'CPU'}, ${os.availableParallelism()} cores; model file ${mib(onnx.length)} MiB, ${o.workers} workers\n`,
  );
  console.log('| step | server RSS MiB | vs start |');
  console.log('| --- | --- | --- |');
  for (const [step, rss] of rows)
    console.log(`| ${step} | ${mib(rss)} | ${mib(rss - base) >= 0 ? '+' : ''}${mib(rss - base)} |`);
  log('done');
  return rows;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
