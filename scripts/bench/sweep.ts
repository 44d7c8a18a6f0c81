/**
 * How the inference workers should use the cores (`npm run bench:sweep`): every combination of GAN_WORKERS,
 * GAN_INTRA_OP_THREADS and GAN_INTRA_OP_SPINNING, each measured through the service on what the throughput issue
 * judges: /generate count 1 at concurrency 1 (mean latency), 16 (p99) and 64 (requests/s), and count 64 as a grid PNG
 * (images/s). Settings run interleaved over `--rounds` rounds and the median per setting is reported, so slow
 * drift of the machine's load spreads over all of them. Writes `<out>.json` and `<out>.md`.
 *
 *   npm run bench:sweep -- [--model mnist-dcgan] [--models-dir models] [--seconds 4] [--rounds 2]
 *                          [--workers 1,2] [--threads 1,2] [--spinning true,false] [--out docs/benchmarks-sweep]
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { enumList, intList, modelsDirFlag, outFlag, reportCommand, secondsFlag } from './flags.ts';
import { effectiveConfig, type LoadResult, load, log, median, round, startServer } from './harness.ts';

export const sweepFlags = z.object({
  model: z.string().min(1).default('mnist-dcgan').describe('the model /generate runs'),
  modelsDir: modelsDirFlag,
  seconds: secondsFlag(4),
  rounds: z.number().int().min(1).max(100).default(2).describe('rounds over all settings (medians reported)'),
  workers: intList(1, 256).default([1, 2]).describe('GAN_WORKERS values, comma-separated'),
  threads: intList(1, 256).default([1, 2]).describe('GAN_INTRA_OP_THREADS values, comma-separated'),
  spinning: enumList(['true', 'false'])
    .transform((xs) => xs.map((x) => x === 'true'))
    .default([true, false])
    .describe('GAN_INTRA_OP_SPINNING values, comma-separated'),
  out: outFlag('docs/benchmarks-sweep'),
});

export type SweepOptions = z.output<typeof sweepFlags>;

export const cli: CliSpec<typeof sweepFlags> = {
  command: 'npm run bench:sweep --',
  description:
    'Every combination of GAN_WORKERS × GAN_INTRA_OP_THREADS × GAN_INTRA_OP_SPINNING through the service: ' +
    '/generate at concurrency 1, 16 and 64, and count-64 grids.',
  flags: sweepFlags,
  examples: ['npm run bench:sweep -- --workers 1,2,4 --threads 1 --spinning false --rounds 3'],
};

export interface Setting {
  workers: number;
  threads: number;
  spinning: boolean;
}

interface Measurement {
  /** Mean, not p50: autocannon's percentiles are whole milliseconds, and one request takes less. */
  c1MeanMs: number;
  c16P99Ms: number;
  c64RequestsPerSecond: number;
  grid64ImagesPerSecond: number;
  errors: number;
}

async function measure(o: SweepOptions, setting: Setting): Promise<Measurement> {
  const server = await startServer(o.modelsDir, {
    GAN_WORKERS: String(setting.workers),
    GAN_INTRA_OP_THREADS: String(setting.threads),
    GAN_INTRA_OP_SPINNING: String(setting.spinning),
  });
  try {
    const post = (body: object, connections: number, seconds = o.seconds) =>
      load(`${server.url}/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: o.model, seed: 1, ...body }),
        contentType: 'application/json',
        connections,
        seconds,
      });
    await post({}, 16, 2); // warm-up: JIT, allocators, keep-alive connections
    const runs: LoadResult[] = [
      await post({}, 1),
      await post({}, 16),
      await post({}, 64),
      await post({ count: 64 }, 4),
    ];
    const [c1, c16, c64, grid] = runs as [LoadResult, LoadResult, LoadResult, LoadResult];
    return {
      c1MeanMs: c1.meanMs,
      c16P99Ms: c16.p99Ms,
      c64RequestsPerSecond: c64.requestsPerSecond,
      grid64ImagesPerSecond: round(grid.requestsPerSecond * 64),
      errors: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    };
  } finally {
    await server.stop();
  }
}

const label = (s: Setting) => `${s.workers}×${s.threads}${s.spinning ? ' spin' : ' sleep'}`;

/**
 * Runs the sweep and writes `<out>.json` and `<out>.md`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: SweepOptions, argv?: readonly string[]): Promise<SweepReport> {
  const defaults = effectiveConfig();
  const settings: Setting[] = [];
  for (const workers of o.workers)
    for (const threads of o.threads)
      for (const spinning of o.spinning) settings.push({ workers, threads, spinning });
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
  log(`sweep of ${settings.length} settings × ${o.rounds} rounds on ${machine.cpu} (${machine.cores} cores)`);
  const byLabel = new Map<string, Measurement[]>();
  for (let round_ = 0; round_ < o.rounds; round_++) {
    for (const s of settings) {
      const m = await measure(o, s);
      byLabel.set(label(s), [...(byLabel.get(label(s)) ?? []), m]);
      log(
        `  round ${round_ + 1} ${label(s)}: c1 mean ${m.c1MeanMs} ms, c16 p99 ${m.c16P99Ms} ms, ` +
          `c64 ${m.c64RequestsPerSecond} req/s, grid ${m.grid64ImagesPerSecond} img/s, errors ${m.errors}`,
      );
    }
  }
  const rows = settings.map((s) => {
    const ms = byLabel.get(label(s))!;
    const med = (f: (m: Measurement) => number) => median(ms.map(f));
    return {
      ...s,
      isDefault:
        s.workers === defaults.GAN_WORKERS &&
        s.threads === defaults.GAN_INTRA_OP_THREADS &&
        s.spinning === defaults.GAN_INTRA_OP_SPINNING,
      c1MeanMs: round(
        med((m) => m.c1MeanMs),
        3,
      ),
      c16P99Ms: med((m) => m.c16P99Ms),
      c64RequestsPerSecond: round(med((m) => m.c64RequestsPerSecond)),
      grid64ImagesPerSecond: round(med((m) => m.grid64ImagesPerSecond)),
      errors: ms.reduce((n, m) => n + m.errors, 0),
    };
  });
  const report: SweepReport = {
    date: new Date().toISOString(),
    command: reportCommand(cli, o, argv),
    model: o.model,
    machine,
    seconds: o.seconds,
    rounds: o.rounds,
    rows,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeReportMarkdown(`${o.out}.md`, renderMarkdown(report));
  log(`wrote ${o.out}.json and ${o.out}.md`);
  return report;
}

export interface SweepReport {
  date: string;
  command: string;
  model: string;
  machine: { cpu: string; cores: number; loadAverageAtStart: number[] };
  seconds: number;
  rounds: number;
  rows: Array<Setting & Measurement & { isDefault: boolean }>;
}

function renderMarkdown(r: SweepReport): string {
  return `# Workers × threads sweep

Measured by \`${r.command}\` on ${r.date.slice(0, 10)} (generated by scripts/bench/sweep.ts; raw numbers in
[benchmarks-sweep.json](benchmarks-sweep.json)). Machine: ${r.machine.cpu}, ${r.machine.cores} cores, load average at start
${r.machine.loadAverageAtStart.join(' / ')}. Model \`${r.model}\`, CPU provider, batching on (GAN_MAX_BATCH 64). Each
setting ran ${r.rounds} rounds (settings interleaved), ${r.seconds} s per point; medians of the rounds.

| GAN_WORKERS | GAN_INTRA_OP_THREADS | GAN_INTRA_OP_SPINNING | c1 mean (ms) | c16 p99 (ms) | c64 requests/s | count-64 grid images/s | errors |
| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |
${r.rows
  .map(
    (x) =>
      `| ${x.workers} | ${x.threads} | ${x.spinning}${x.isDefault ? ' (default)' : ''} | ${x.c1MeanMs} | ${x.c16P99Ms} | ${x.c64RequestsPerSecond} | ${x.grid64ImagesPerSecond} | ${x.errors} |`,
  )
  .join('\n')}
`;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
