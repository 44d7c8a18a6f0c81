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
import { parseArgs } from 'node:util';
import { commandLine } from '../command-line.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { effectiveConfig, type LoadResult, load, log, median, round, startServer } from './harness.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'mnist-dcgan' },
    'models-dir': { type: 'string', default: 'models' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2' },
    threads: { type: 'string', default: '1,2' },
    spinning: { type: 'string', default: 'true,false' },
    out: { type: 'string', default: 'docs/benchmarks-sweep' },
  },
});

const ints = (flag: string, s: string): number[] =>
  s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected positive integers, got ${s}`);
    return n;
  });
const bools = (s: string): boolean[] =>
  s.split(',').map((x) => {
    if (x !== 'true' && x !== 'false') throw new Error(`--spinning: expected true and/or false, got ${s}`);
    return x === 'true';
  });

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

const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const MODEL = args.model!;

async function measure(setting: Setting): Promise<Measurement> {
  const server = await startServer(args['models-dir']!, {
    GAN_WORKERS: String(setting.workers),
    GAN_INTRA_OP_THREADS: String(setting.threads),
    GAN_INTRA_OP_SPINNING: String(setting.spinning),
  });
  try {
    const post = (body: object, connections: number, seconds = SECONDS) =>
      load(`${server.url}/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: MODEL, seed: 1, ...body }),
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

async function main(): Promise<void> {
  const defaults = effectiveConfig();
  const settings: Setting[] = [];
  for (const workers of ints('workers', args.workers!))
    for (const threads of ints('threads', args.threads!))
      for (const spinning of bools(args.spinning!)) settings.push({ workers, threads, spinning });
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
  log(`sweep of ${settings.length} settings × ${ROUNDS} rounds on ${machine.cpu} (${machine.cores} cores)`);
  const byLabel = new Map<string, Measurement[]>();
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const s of settings) {
      const m = await measure(s);
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
  const report = {
    date: new Date().toISOString(),
    command: commandLine('npm run bench:sweep --', process.argv.slice(2)),
    model: MODEL,
    machine,
    seconds: SECONDS,
    rounds: ROUNDS,
    rows,
  };
  await writeFile(`${args.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeReportMarkdown(`${args.out}.md`, renderMarkdown(report));
  log(`wrote ${args.out}.json and ${args.out}.md`);
}

function renderMarkdown(r: {
  date: string;
  command: string;
  model: string;
  machine: { cpu: string; cores: number; loadAverageAtStart: number[] };
  seconds: number;
  rounds: number;
  rows: Array<Setting & Measurement & { isDefault: boolean }>;
}): string {
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

await main();
