/**
 * Execution providers compared (`npm run bench:providers`), for a GPU machine or any other.
 *   1. Every shipped model's generator and discriminator, loaded alone on each provider as the service loads it:
 *      output against the CPU provider's on the same 256 seeded inputs (max |Δ|) and images/s per batch size
 *      (median of timed runs). A provider that cannot load is reported with its reason and skipped; the service
 *      falls back the same way, to the next provider of GAN_EXECUTION_PROVIDERS.
 *   2. With --http (after `npm run build`): the built service (`node dist/server.js`) started once on the CPU and
 *      once on `<provider>,cpu`: the provider /v1/models reports, whether POST /generate's PNG is byte-identical to
 *      the CPU server's for the same seeds, and /generate requests/s at 64 connections (count 1, and count 64 grids).
 * Writes <out>.json and <out>.md.
 *
 *   npm run bench:providers -- [--providers webgpu] [--batches 1,64,256,1024,4096] [--seconds 2] [--http]
 *                              [--models-dir models] [--out docs/benchmarks-providers]
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../../src/config.ts';
import { createSession, SessionLoadError } from '../../src/inference/providers.ts';
import { isolationFor } from '../../src/inference/worker-handle.ts';
import { RandomState } from '../../src/latent/random-state.ts';
import { imageRowDims, inputOf, type Manifest, manifestSchema } from '../../src/models/manifest.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { type ServiceProcess, startService, waitFor } from '../service-process.ts';
import { enumList, intList, modelsDirFlag, outFlag, reportCommand, secondsFlag } from './flags.ts';
import { effectiveConfig, type LoadResult, load, log, medianRunMs, round } from './harness.ts';

/** The providers compared with the CPU, which is always the reference. */
const ACCELERATED = EXECUTION_PROVIDERS.filter((p) => p !== 'cpu') as [
  Exclude<ExecutionProvider, 'cpu'>,
  ...Exclude<ExecutionProvider, 'cpu'>[],
];

export const providersFlags = z.object({
  providers: enumList(ACCELERATED)
    .default(['webgpu'])
    .describe(`providers to compare with the CPU, comma-separated (${ACCELERATED.join(', ')})`),
  batches: intList(1, 65_536).default([1, 64, 256, 1024, 4096]).describe('batch sizes, comma-separated'),
  seconds: secondsFlag(2),
  http: z
    .boolean()
    .default(false)
    .describe('also compare the built service (`npm run build` first) per GAN_EXECUTION_PROVIDERS'),
  modelsDir: modelsDirFlag,
  out: outFlag('docs/benchmarks-providers'),
});

export type ProvidersOptions = z.output<typeof providersFlags>;

export const cli: CliSpec<typeof providersFlags> = {
  command: 'npm run bench:providers --',
  description:
    "Execution providers compared with the CPU on every model's networks (output difference and images/s per " +
    'batch) and, with --http, through the built service.',
  flags: providersFlags,
  examples: ['npm run bench:providers -- --providers cuda --http'],
};

const PARITY_INPUTS = 256;

type Network = 'generator' | 'discriminator';
type Feeds = Record<string, ort.Tensor>;

/** Seeded inputs for one network: latents (and labels) for a generator, images in its range for a discriminator. */
function feedsFor(m: Manifest, network: Network, batch: number, seed: number): Feeds {
  const rng = new RandomState(seed);
  const labels = (name: string | null, dtype: 'int32' | 'int64' | 'float32'): Feeds => {
    if (name === null) return {};
    const k = m.numClasses ?? 1;
    const ids = Array.from({ length: batch }, (_, i) => i % k);
    const data =
      dtype === 'int64'
        ? BigInt64Array.from(ids, BigInt)
        : dtype === 'int32'
          ? Int32Array.from(ids)
          : Float32Array.from(ids);
    return { [name]: new ort.Tensor(dtype, data, [batch]) };
  };
  if (network === 'generator') {
    const g = m.generator;
    const z = Float32Array.from(rng.randn(batch * m.latentDim));
    const label = inputOf(g, 'class-index');
    return {
      [inputOf(g, 'latent')!.name]: new ort.Tensor('float32', z, [batch, m.latentDim]),
      ...labels(label?.name ?? null, label?.dtype ?? 'int32'),
    };
  }
  const d = m.discriminator!;
  const dLabel = inputOf(d, 'class-index');
  const dims = imageRowDims(d.inputLayout, m.image);
  const size = dims.reduce((a, b) => a * b, 1);
  const [lo, hi] = d.inputRange;
  const x = Float32Array.from({ length: batch * size }, () => lo + (hi - lo) * rng.random());
  return {
    [inputOf(d, 'image')!.name]: new ort.Tensor('float32', x, [batch, ...dims]),
    ...labels(dLabel?.name ?? null, dLabel?.dtype ?? 'int32'),
  };
}

function outputName(m: Manifest, network: Network): string {
  return network === 'generator' ? m.generator.output : m.discriminator!.output;
}

async function imagesPerSecond(session: ort.InferenceSession, feeds: Feeds, batch: number, seconds: number) {
  const { ms, runs } = await medianRunMs(() => session.run(feeds), seconds);
  return { batch, medianMs: round(ms, 3), imagesPerSecond: round((batch * 1000) / ms), runs };
}

type NetworkRow = {
  model: string;
  network: Network;
  provider: ExecutionProvider;
  loaded: boolean;
  reason?: string;
  loadMs?: number;
  /** Against the CPU provider's output; null when the CPU provider could not load it. */
  maxAbsDiff?: number | null;
  throughput?: Awaited<ReturnType<typeof imagesPerSecond>>[];
};

async function compareNetwork(o: ProvidersOptions, m: Manifest, network: Network): Promise<NetworkRow[]> {
  const file = join(o.modelsDir, m.name, (network === 'generator' ? m.generator : m.discriminator!).file);
  const threads = { intraOpThreads: 0, spinning: true }; // onnxruntime's defaults: the whole machine
  const rows: NetworkRow[] = [];
  const parityFeeds = feedsFor(m, network, PARITY_INPUTS, 0);
  const out = outputName(m, network);
  let reference: Float32Array | null = null; // the CPU provider's output
  for (const provider of ['cpu', ...o.providers] as ExecutionProvider[]) {
    const t0 = performance.now();
    let session: ort.InferenceSession;
    try {
      session = (await createSession(file, [provider], threads)).session;
    } catch (err) {
      const reason = err instanceof SessionLoadError ? err.skipped[0]!.reason : String(err);
      log(`${m.name} ${network}: ${provider} could not load here, skipped (${reason})`);
      rows.push({ model: m.name, network, provider, loaded: false, reason });
      continue;
    }
    const loadMs = round(performance.now() - t0, 1);
    const result = (await session.run(parityFeeds))[out]!.data as Float32Array;
    let maxAbsDiff: number | null = null;
    if (provider === 'cpu') reference = result;
    if (reference !== null) {
      maxAbsDiff = 0;
      for (let i = 0; i < result.length; i++)
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(result[i]! - reference[i]!));
    }
    const throughput = [];
    for (const batch of o.batches)
      throughput.push(await imagesPerSecond(session, feedsFor(m, network, batch, batch), batch, o.seconds));
    await session.release();
    log(
      `${m.name} ${network} on ${provider}: loaded in ${loadMs} ms, max |Δ| vs cpu ${maxAbsDiff?.toExponential(2) ?? 'n/a (cpu did not load)'}; ` +
        throughput.map((t) => `batch ${t.batch} ${t.imagesPerSecond}/s`).join(', '),
    );
    rows.push({ model: m.name, network, provider, loaded: true, loadMs, maxAbsDiff, throughput });
  }
  return rows;
}

type HttpRow = {
  providers: string;
  /** How many workers, and whether threads or processes (webgpu with several workers forces processes). */
  workers: string;
} & (
  | { reported: unknown; pngsIdentical: boolean | null; count1: LoadResult; count64: LoadResult }
  | { error: string }
);

/** The built service (`node dist/server.js`) on a free port, once /readyz answers 200; stopped again if it never does. */
async function startBuiltServer(modelsDir: string, env: Record<string, string>): Promise<ServiceProcess> {
  const svc = await startService({ GAN_MODELS_DIR: modelsDir, ...env }, ['dist/server.js']);
  try {
    await waitFor(svc, async () => (await fetch(`${svc.url}/readyz`)).status === 200, '/readyz 200', 120_000);
  } catch (err) {
    const { exitCode, signalCode } = svc.child;
    await stopServer(svc.child);
    const how = signalCode ?? (exitCode !== null ? `exit code ${exitCode}` : 'still running after 120 s');
    throw new Error(
      `dist/server.js was never ready (${how}): ${(err as Error).message.split('\n').slice(-3).join(' ')}`,
    );
  }
  return svc;
}

/** SIGTERM, then SIGKILL if it has not exited 10 s later; resolves once it has (at once if it already had). */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function generatePngs(url: string, model: string): Promise<Buffer[]> {
  const pngs: Buffer[] = [];
  for (const seed of [0, 1, 2, 3]) {
    const res = await fetch(`${url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, seed, count: 16 }),
    });
    if (res.status !== 200) throw new Error(`/generate answered ${res.status}: ${await res.text()}`);
    pngs.push(Buffer.from(await res.arrayBuffer()));
  }
  return pngs;
}

async function compareHttp(o: ProvidersOptions, model: string): Promise<HttpRow[]> {
  const rows: HttpRow[] = [];
  let cpuPngs: Buffer[] | null = null;
  for (const list of ['cpu', ...o.providers.map((p) => `${p},cpu`)]) {
    const listed = list.split(',') as ExecutionProvider[];
    const c = effectiveConfig();
    const { isolation } = isolationFor(listed, c.GAN_WORKERS, c.GAN_WORKER_ISOLATION);
    const workers = `${c.GAN_WORKERS} ${isolation === 'thread' ? 'threads' : 'processes'}`;
    let server: ServiceProcess;
    try {
      server = await startBuiltServer(o.modelsDir, { GAN_EXECUTION_PROVIDERS: list, GAN_LOG_LEVEL: 'warn' });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`http ${list}: ${error}`);
      rows.push({ providers: list, workers, error });
      continue;
    }
    try {
      const info = (await (await fetch(`${server.url}/v1/models/${model}`)).json()) as {
        executionProvider?: unknown;
      };
      const pngs = await generatePngs(server.url, model);
      const identical = cpuPngs === null ? null : pngs.every((p, i) => p.equals(cpuPngs![i]!));
      cpuPngs ??= pngs;
      const body = (count: number) => JSON.stringify({ model, seed: 1, count });
      const opts = {
        method: 'POST',
        contentType: 'application/json',
        connections: 64,
        seconds: o.seconds * 2,
      };
      const count1 = await load(`${server.url}/generate`, { ...opts, body: body(1) }, server.child.pid);
      const count64 = await load(`${server.url}/generate`, { ...opts, body: body(64) }, server.child.pid);
      log(
        `http ${list}: provider ${JSON.stringify(info.executionProvider)}, PNGs identical to cpu: ${identical}; ` +
          `count 1 ${count1.requestsPerSecond} req/s (p99 ${count1.p99Ms} ms), count 64 ${count64.requestsPerSecond} req/s`,
      );
      rows.push({
        providers: list,
        workers,
        reported: info.executionProvider,
        pngsIdentical: identical,
        count1,
        count64,
      });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`http ${list}: ${error}`);
      rows.push({ providers: list, workers, error });
    } finally {
      await stopServer(server.child);
    }
  }
  return rows;
}

/** The settings the built servers ran with: their defaults under this shell's GAN_* variables. */
function serviceSettings(): string {
  const c = effectiveConfig();
  return (
    `GAN_WORKERS ${c.GAN_WORKERS}, GAN_INTRA_OP_THREADS ${c.GAN_INTRA_OP_THREADS}, ` +
    `GAN_MAX_BATCH ${c.GAN_MAX_BATCH}, GAN_BATCH_DELAY_MS ${c.GAN_BATCH_DELAY_MS}`
  );
}

async function shippedModels(modelsDir: string): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const name of (await readdir(modelsDir)).sort()) {
    const file = join(modelsDir, name, 'model.json');
    if (existsSync(file)) out.push(manifestSchema.parse(JSON.parse(await readFile(file, 'utf8'))));
  }
  return out;
}

export interface ProvidersReport {
  command: string;
  date: string;
  machine: string;
  networks: NetworkRow[];
  http: HttpRow[] | null;
}

function markdown(o: ProvidersOptions, report: ProvidersReport): string {
  const batches = o.batches;
  const lines = [
    '# Execution providers',
    '',
    `Generated by \`${report.command}\` on ${report.date} (${report.machine}). Each network is loaded alone on each`,
    'provider (onnxruntime default threads); max |Δ| is against the CPU provider on the same 256 seeded inputs;',
    `images/s is the batch over the median time of one run (${o.seconds} s of runs per cell).`,
    '',
    `| model | network | provider | load ms | max abs diff vs cpu | ${batches.map((b) => `batch ${b}`).join(' | ')} |`,
    `| --- | --- | --- | ---: | ---: | ${batches.map(() => '---:').join(' | ')} |`,
  ];
  for (const r of report.networks) {
    const cells = r.loaded
      ? [
          String(r.loadMs),
          r.maxAbsDiff?.toExponential(1) ?? 'no cpu reference',
          ...r.throughput!.map((t) => String(t.imagesPerSecond)),
        ]
      : [`not loaded: ${r.reason}`, '', ...batches.map(() => '')];
    lines.push(`| ${r.model} | ${r.network} | ${r.provider} | ${cells.join(' | ')} |`);
  }
  if (report.http) {
    lines.push(
      '',
      `The built service (\`node dist/server.js\`; ${serviceSettings()}) per \`GAN_EXECUTION_PROVIDERS\`, \`/generate\` at 64`,
      `connections for ${o.seconds * 2} s each; "identical" compares four count-16 PNGs (seeds 0–3) with the CPU server's.`,
      'With webgpu and several workers the service runs them as processes; `GAN_WORKER_ISOLATION=process` in the',
      "environment runs the CPU server's that way too, to compare like with like:",
      '',
      '| GAN_EXECUTION_PROVIDERS | workers | provider reported | PNGs identical to cpu | count 1 req/s | p99 ms | count 64 req/s | images/s |',
      '| --- | --- | --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const h of report.http) {
      lines.push(
        'error' in h
          ? `| ${h.providers} | ${h.workers} | failed: ${h.error} | | | | | |`
          : `| ${h.providers} | ${h.workers} | \`${JSON.stringify(h.reported)}\` | ${h.pngsIdentical ?? '(reference)'} | ` +
              `${h.count1.requestsPerSecond} | ${h.count1.p99Ms} | ${h.count64.requestsPerSecond} | ${round(h.count64.requestsPerSecond * 64)} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * Runs the comparison and writes `<out>.json` and `<out>.md`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: ProvidersOptions, argv?: readonly string[]): Promise<ProvidersReport> {
  if (o.http && !existsSync('dist/server.js'))
    throw new Error('--http: run `npm run build` first (dist/server.js is missing)');
  const models = await shippedModels(o.modelsDir);
  if (models.length === 0) throw new Error(`--models-dir: no model.json under ${o.modelsDir}`);
  const networks: NetworkRow[] = [];
  for (const m of models)
    for (const n of ['generator', 'discriminator'] as const) {
      if (n === 'discriminator' && !m.discriminator) continue;
      networks.push(...(await compareNetwork(o, m, n)));
    }
  const http = o.http
    ? await compareHttp(o, models.find((m) => m.name === 'mnist-dcgan')?.name ?? models[0]!.name)
    : null;
  const report: ProvidersReport = {
    command: reportCommand(cli, o, argv),
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, onnxruntime-node ${ort.env.versions.common}`,
    networks,
    http,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeReportMarkdown(`${o.out}.md`, markdown(o, report));
  log(`wrote ${o.out}.json and ${o.out}.md`);
  return report;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
