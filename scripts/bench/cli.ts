/**
 * The service benchmark (`npm run bench`): the machine's ceilings and the service against them, in one run.
 *   1. model ceiling: generator images/s through onnxruntime alone (no HTTP, no PNG), batch 1, 8, 64, 256
 *   2. HTTP ceiling: a route returning a fixed 28×28 PNG from memory, same server settings
 *   3. /generate count 1 at concurrency 1, 16, 64, batching on and off
 *   4. /generate count 64 (grid PNG and JSON): images/s
 *   5. /discriminate, one 28×28 PNG per request, concurrency 64
 *   6. memory: server RSS after warm-up and after N requests (default 100,000)
 * Load comes from this process (autocannon); the server runs in its own (scripts/bench/server.ts).
 * Writes docs/benchmarks.json and docs/benchmarks.md.
 *
 *   npm run bench -- [--model mnist-dcgan] [--models-dir models] [--seconds 10] [--memory-requests 100000]
 *                    [--out docs/benchmarks]     (`--help` lists every flag)
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import type { Config } from '../../src/config.ts';
import { createSession } from '../../src/inference/providers.ts';
import { WorkerPool } from '../../src/inference/worker-pool.ts';
import { RandomState } from '../../src/latent/random-state.ts';
import { inputOf, manifestSchema } from '../../src/models/manifest.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { modelsDirFlag, outFlag, reportCommand, secondsFlag } from './flags.ts';
import {
  effectiveConfig,
  type LoadOptions,
  type LoadResult,
  load as loadFor,
  log,
  median,
  medianRunMs,
  round,
  rssBytes,
  startServer as startServerIn,
} from './harness.ts';

export const benchFlags = z.object({
  model: z
    .string()
    .min(1)
    .optional()
    .describe('the model to measure (default: the first folder of --models-dir with a model.json)'),
  modelsDir: modelsDirFlag,
  seconds: secondsFlag(10),
  memoryRequests: z
    .number()
    .int()
    .min(1000)
    .max(10_000_000)
    .default(100_000)
    .describe('/generate requests of the memory run (6)'),
  threads: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .optional()
    .describe('intra-op threads of the single-session model ceiling (default: every core)'),
  out: outFlag('docs/benchmarks'),
});

export type BenchOptions = z.output<typeof benchFlags>;

export const cli: CliSpec<typeof benchFlags> = {
  command: 'npm run bench --',
  description:
    'The service benchmark: the model and HTTP ceilings, /generate with batching on and off, grids, ' +
    '/discriminate and memory over a long run, against the service in its own process (CPU provider).',
  flags: benchFlags,
  examples: ['npm run bench -- --model mnist-dcgan --seconds 10'],
};

async function pickModel(o: BenchOptions): Promise<string> {
  if (o.model) return o.model;
  const names = (await readdir(o.modelsDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  for (const n of names.sort()) {
    try {
      await readFile(join(o.modelsDir, n, 'model.json'));
      return n;
    } catch {}
  }
  throw new Error(`no model in ${o.modelsDir}`);
}

interface CeilingRow {
  batch: number;
  /** One session using every core (intra-op threads = cores), runs timed one by one: median. */
  single: { imagesPerSecond: number; medianMs: number; runs: number };
  /** The service's layout: GAN_WORKERS inference workers × GAN_INTRA_OP_THREADS, all running at once. */
  workers: { imagesPerSecond: number; runs: number };
  /** The better of the two: the machine's model ceiling at this batch. */
  imagesPerSecond: number;
}

/** (1) images/s through onnxruntime alone (no HTTP, no PNG), in both layouts; the better one is the ceiling. */
async function modelCeiling(o: BenchOptions, defaults: Config, model: string, batches: number[]) {
  const manifest = manifestSchema.parse(
    JSON.parse(await readFile(join(o.modelsDir, model, 'model.json'), 'utf8')),
  );
  const g = manifest.generator;
  const file = join(o.modelsDir, model, g.file);
  const singleThreads = o.threads ?? os.availableParallelism();
  const { session, provider } = await createSession(file, ['cpu'], {
    intraOpThreads: singleThreads,
    spinning: true, // onnxruntime's default: best for one session with the machine to itself
  });
  const pool = new WorkerPool({
    size: defaults.GAN_WORKERS,
    providers: ['cpu'],
    threads: { intraOpThreads: defaults.GAN_INTRA_OP_THREADS, spinning: defaults.GAN_INTRA_OP_SPINNING },
    isolation: 'thread',
    log: Fastify({ logger: false }).log,
  });
  await pool.start([{ key: 'bench/generator', file }]);
  const rows: CeilingRow[] = [];
  for (const batch of batches) {
    const z = Float32Array.from(new RandomState(batch).randn(batch * manifest.latentDim));
    const latentName = inputOf(g, 'latent')!.name;
    const labelName = inputOf(g, 'class-index')?.name;
    const feeds: Record<string, ort.Tensor> = {
      [latentName]: new ort.Tensor('float32', z, [batch, manifest.latentDim]),
    };
    if (labelName) {
      feeds[labelName] = new ort.Tensor('int32', new Int32Array(batch), [batch]);
    }
    const { ms, runs: singleRuns } = await medianRunMs(() => session.run(feeds), o.seconds);
    const single = {
      imagesPerSecond: round((batch * 1000) / ms),
      medianMs: round(ms, 3),
      runs: singleRuns,
    };

    const job = () => ({
      key: 'bench/generator',
      feeds: {
        [latentName]: { type: 'float32' as const, data: z.slice(), dims: [batch, manifest.latentDim] },
        ...(labelName
          ? { [labelName]: { type: 'int32' as const, data: new Int32Array(batch), dims: [batch] } }
          : {}),
      },
      outputs: [g.output],
    });
    for (const w of pool.workers) for (let i = 0; i < 3; i++) await pool.run(w, job());
    let runs = 0;
    const t0 = performance.now();
    const until = t0 + o.seconds * 1000;
    await Promise.all(
      pool.workers.map(async (w) => {
        while (performance.now() < until) {
          await pool.run(w, job());
          runs++;
        }
      }),
    );
    const workers = { imagesPerSecond: round((runs * batch * 1000) / (performance.now() - t0)), runs };
    rows.push({
      batch,
      single,
      workers,
      imagesPerSecond: Math.max(single.imagesPerSecond, workers.imagesPerSecond),
    });
    log(
      `  batch ${batch}: 1 session × ${singleThreads} threads ${single.imagesPerSecond} images/s ` +
        `(median ${round(ms, 2)} ms); ${defaults.GAN_WORKERS} workers × ${defaults.GAN_INTRA_OP_THREADS} ` +
        `${workers.imagesPerSecond} images/s`,
    );
  }
  await session.release();
  await pool.close();
  return {
    provider,
    singleThreads,
    workers: defaults.GAN_WORKERS,
    workerThreads: defaults.GAN_INTRA_OP_THREADS,
    rows,
  };
}

/**
 * Runs the benchmark and writes `<out>.json` and `<out>.md`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: BenchOptions, argv?: readonly string[]): Promise<Report> {
  /** What the bench servers run with: the service defaults under any GAN_* variable of this shell. */
  const defaults = effectiveConfig();
  /** The running bench server: every load is charged to its process for the CPU split. */
  let serverPid: number | undefined;
  const startServer = async (env: Record<string, string>) => {
    const server = await startServerIn(o.modelsDir, env);
    serverPid = server.child.pid;
    return server;
  };
  const load = (url: string, opts: LoadOptions) => loadFor(url, { seconds: o.seconds, ...opts }, serverPid);

  const model = await pickModel(o);
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const machine = {
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    onnxruntime: ort.env.versions.node ?? 'unknown',
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
  log(
    `benchmark of '${model}' on ${cpu} (${machine.cores} cores), ${defaults.GAN_WORKERS} workers × ` +
      `${defaults.GAN_INTRA_OP_THREADS} intra-op threads, spinning ${defaults.GAN_INTRA_OP_SPINNING}`,
  );

  log('(1) model ceiling, onnxruntime alone');
  const ceiling = await modelCeiling(o, defaults, model, [1, 8, 64, 256]);
  const M = ceiling.rows.find((r) => r.batch === 64)!.imagesPerSecond;

  const generateBody = (o: object) => JSON.stringify({ model, seed: 1, ...o });
  const results: Record<string, LoadResult> = {};
  let server = await startServer({ GAN_MAX_BATCH: '64' });
  const digitPng = Buffer.from(
    await (
      await fetch(`${server.url}/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: generateBody({}),
      })
    ).arrayBuffer(),
  );
  // Warm-up: JIT, allocators, keep-alive connections.
  const warmUp = (url: string) =>
    load(`${url}/generate`, {
      method: 'POST',
      body: generateBody({}),
      contentType: 'application/json',
      connections: 16,
      seconds: 3,
    });
  await warmUp(server.url);
  const rssWarm = await rssBytes(server.url);

  log('(2) HTTP ceiling: fixed PNG from memory');
  results.httpCeiling = await load(`${server.url}/bench/png`, { connections: 64 });
  const H = results.httpCeiling.requestsPerSecond;

  log('(3) /generate count 1, batching on');
  for (const c of [1, 16, 64]) {
    results[`generate_c${c}_batching`] = await load(`${server.url}/generate`, {
      method: 'POST',
      body: generateBody({}),
      contentType: 'application/json',
      connections: c,
    });
  }
  log('(4) /generate count 64: grid PNG and JSON');
  results.generate64_png = await load(`${server.url}/generate`, {
    method: 'POST',
    body: generateBody({ count: 64 }),
    contentType: 'application/json',
    connections: 4,
  });
  results.generate64_json = await load(`${server.url}/generate`, {
    method: 'POST',
    body: generateBody({ count: 64, format: 'json' }),
    contentType: 'application/json',
    connections: 4,
  });
  log('(5) /discriminate, one PNG per request, concurrency 64');
  results.discriminate_c64 = await load(`${server.url}/discriminate?model=${model}`, {
    method: 'POST',
    body: digitPng,
    contentType: 'image/png',
    connections: 64,
  });

  const memoryRequests = o.memoryRequests;
  log(`(6) memory: ${memoryRequests} requests`);
  const rssBefore = await rssBytes(server.url);
  // RSS once a second through the run: single readings swing by tens of MiB with the garbage collectors of three
  // isolates, so the target compares the medians of the first and the last ten seconds.
  const samples: number[] = [];
  const sampler = setInterval(() => {
    void rssBytes(server.url).then((b) => samples.push(b));
  }, 1000);
  results.memory_run = await load(`${server.url}/generate`, {
    method: 'POST',
    body: generateBody({}),
    contentType: 'application/json',
    connections: 64,
    amount: memoryRequests,
  });
  clearInterval(sampler);
  const rssAfter = await rssBytes(server.url);
  const window = Math.min(10, Math.floor(samples.length / 2));
  const rssEarly = median(samples.slice(0, window));
  const rssLate = median(samples.slice(-window));
  await server.stop();

  log('(3) /generate count 1, batching off (GAN_MAX_BATCH=1)');
  server = await startServer({ GAN_MAX_BATCH: '1' });
  await warmUp(server.url);
  for (const c of [1, 16, 64]) {
    results[`generate_c${c}_nobatching`] = await load(`${server.url}/generate`, {
      method: 'POST',
      body: generateBody({}),
      contentType: 'application/json',
      connections: c,
    });
  }
  await server.stop();

  const C = 1 / (1 / H + 1 / M);
  const g64 = results.generate_c64_batching!.requestsPerSecond;
  const g64off = results.generate_c64_nobatching!.requestsPerSecond;
  const png64 = results.generate64_png!.requestsPerSecond * 64;
  const json64 = results.generate64_json!.requestsPerSecond * 64;
  const targets = [
    { target: '(3) c64 with batching ≥ 80% of C', value: round(g64 / C, 3), met: g64 / C >= 0.8 },
    { target: '(3) c64 batching on ≥ 1.3× off', value: round(g64 / g64off, 3), met: g64 / g64off >= 1.3 },
    { target: '(4) count-64 grid PNG ≥ 70% of M', value: round(png64 / M, 3), met: png64 / M >= 0.7 },
    {
      // autocannon reports whole milliseconds: a p50 under 1 ms counts as 1 ms (so the ratio is a lower bound).
      target: '(3) p99 at c16 ≤ 3× p50 at c1 (p50 < 1 ms counted as 1 ms)',
      value: round(
        results.generate_c16_batching!.p99Ms / Math.max(1, results.generate_c1_batching!.p50Ms),
        3,
      ),
      met: results.generate_c16_batching!.p99Ms <= 3 * Math.max(1, results.generate_c1_batching!.p50Ms),
    },
    {
      target: `(6) RSS at the end of the run within 10% of its start (medians of ${window} one-second samples)`,
      value: round(rssLate / rssEarly, 3),
      met: Math.abs(rssLate / rssEarly - 1) <= 0.1,
    },
  ];
  const report: Report = {
    date: new Date().toISOString(),
    command: reportCommand(cli, o, argv),
    model,
    machine,
    settings: {
      workers: defaults.GAN_WORKERS,
      intraOpThreads: defaults.GAN_INTRA_OP_THREADS,
      spinning: defaults.GAN_INTRA_OP_SPINNING,
      seconds: o.seconds,
    },
    modelCeiling: ceiling,
    ceilings: { H_requestsPerSecond: H, M_imagesPerSecond: M, C_combined: round(C) },
    results,
    images: { generate64_png_imagesPerSecond: round(png64), generate64_json_imagesPerSecond: round(json64) },
    memory: {
      rssWarmMiB: round(rssWarm / 2 ** 20),
      rssBeforeMiB: round(rssBefore / 2 ** 20),
      rssAfterMiB: round(rssAfter / 2 ** 20),
      rssFirstSecondsMedianMiB: round(rssEarly / 2 ** 20),
      rssLastSecondsMedianMiB: round(rssLate / 2 ** 20),
      rssMinMiB: round(Math.min(...samples) / 2 ** 20),
      rssMaxMiB: round(Math.max(...samples) / 2 ** 20),
      samples: samples.length,
      window,
      requests: memoryRequests,
    },
    targets,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeReportMarkdown(`${o.out}.md`, renderMarkdown(report));
  log(`wrote ${o.out}.json and ${o.out}.md`);
  for (const t of targets) log(`  ${t.met ? 'met ' : 'MISS'} ${t.target}: ${t.value}`);
  return report;
}

export type Report = {
  date: string;
  command: string;
  model: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  modelCeiling: Awaited<ReturnType<typeof modelCeiling>>;
  ceilings: { H_requestsPerSecond: number; M_imagesPerSecond: number; C_combined: number };
  results: Record<string, LoadResult>;
  images: Record<string, number>;
  memory: Record<string, number>;
  targets: Array<{ target: string; value: number; met: boolean }>;
};

function renderMarkdown(r: Report): string {
  const cpu = (x: LoadResult) =>
    x.cpu
      ? `${x.cpu.serverUsPerRequest} | ${x.cpu.clientUsPerRequest} | ${round(x.cpu.machineIdle * 100)}%`
      : '– | – | –';
  const row = (name: string, x: LoadResult, conns: number | string) =>
    `| ${name} | ${conns} | ${x.requestsPerSecond} | ${x.meanMs} | ${x.p50Ms} | ${x.p99Ms} | ${x.non2xx + x.errors} | ${cpu(x)} |`;
  const m = r.machine as {
    cpu: string;
    cores: number;
    memoryGiB: number;
    node: string;
    onnxruntime: string;
    loadAverageAtStart: number[];
  };
  const res = r.results;
  const s_ = r.settings as { workers: number; intraOpThreads: number; spinning: boolean; seconds: number };
  const c = r.modelCeiling;
  return `# Benchmarks

Measured by \`${r.command}\` on ${r.date.slice(0, 10)} (the figures below are generated into this file by
scripts/bench/cli.ts; raw numbers in [benchmarks.json](benchmarks.json)).

Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, onnxruntime-node ${m.onnxruntime}; load average at
start ${m.loadAverageAtStart.join(' / ')}. Model: \`${r.model}\`, CPU execution provider; the service ran with its defaults:
${s_.workers} inference workers × ${s_.intraOpThreads} intra-op thread(s), spinning ${s_.spinning}. Load from autocannon in a
separate process; each point runs ${s_.seconds} s.

## (1) Model ceiling: onnxruntime alone, no HTTP, no PNG

Two layouts: one session using every core (${c.singleThreads} intra-op threads, runs timed one by one), and the service's
layout (${c.workers} inference workers × ${c.workerThreads} thread(s), all running at once). The ceiling M is the better one.

| batch | 1 session × ${c.singleThreads} threads: images/s | median run (ms) | ${c.workers} workers × ${c.workerThreads}: images/s | ceiling images/s |
| ---: | ---: | ---: | ---: | ---: |
${c.rows.map((x) => `| ${x.batch} | ${x.single.imagesPerSecond} | ${x.single.medianMs} | ${x.workers.imagesPerSecond} | ${x.imagesPerSecond} |`).join('\n')}

## (2)–(5) Through the service

CPU columns: CPU time per answered request of the server process (event loop and inference workers together) and
of the load generator (autocannon, in the benchmark's own process), from \`/proc/<pid>/stat\` and \`process.cpuUsage()\`
over the run, and the share of all cores' time the machine was idle (\`/proc/stat\`).

| scenario | connections | requests/s | mean (ms) | p50 (ms) | p99 (ms) | errors/non-2xx | server CPU (µs/request) | load generator CPU (µs/request) | machine idle |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row('(2) HTTP ceiling: fixed PNG from memory', res.httpCeiling!, 64)}
${[1, 16, 64].map((c) => row(`(3) /generate count 1, batching on`, res[`generate_c${c}_batching`]!, c)).join('\n')}
${[1, 16, 64].map((c) => row(`(3) /generate count 1, batching off`, res[`generate_c${c}_nobatching`]!, c)).join('\n')}
${row('(4) /generate count 64, grid PNG', res.generate64_png!, 4)}
${row('(4) /generate count 64, JSON', res.generate64_json!, 4)}
${row('(5) /discriminate, one PNG', res.discriminate_c64!, 64)}

(4) in images/s: grid PNG ${r.images.generate64_png_imagesPerSecond}, JSON ${r.images.generate64_json_imagesPerSecond}.

## (6) Memory

Server RSS ${r.memory.rssWarmMiB} MiB after warm-up, ${r.memory.rssBeforeMiB} MiB before and ${r.memory.rssAfterMiB} MiB after
${r.memory.requests} \`/generate\` requests at 64 connections (${res.memory_run!.requestsPerSecond} requests/s, ${res.memory_run!.non2xx + res.memory_run!.errors} errors).
Sampled once a second during the run (${r.memory.samples} samples, ${r.memory.rssMinMiB}–${r.memory.rssMaxMiB} MiB): median of the first
${r.memory.window} s ${r.memory.rssFirstSecondsMedianMiB} MiB, of the last ${r.memory.window} s ${r.memory.rssLastSecondsMedianMiB} MiB; target (6) compares these two.

## Targets (ratios within this run)

H = ${r.ceilings.H_requestsPerSecond} requests/s (2), M = ${r.ceilings.M_imagesPerSecond} images/s (1, batch 64),
C = 1 / (1/H + 1/M) = ${r.ceilings.C_combined}.

| target | measured | met |
| --- | ---: | --- |
${r.targets.map((t) => `| ${t.target} | ${t.value} | ${t.met ? 'yes' : 'no'} |`).join('\n')}
`;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
