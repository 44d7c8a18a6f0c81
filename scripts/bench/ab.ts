/**
 * Two versions of the service side by side: each tree's own scripts/bench/server.ts started from that tree (a
 * `git worktree` of an older commit with its node_modules, and this one), the same load against each in alternating
 * rounds (the order flips every round), and where each request's CPU went: the server's main thread (the event loop)
 * and its other threads together (inference workers, libuv's pool, V8's garbage-collector helpers), from
 * /proc/<pid>/task. Alternating rounds share the machine's drift, which moves single runs of `npm run bench` by more
 * than most code changes do.
 *
 *   npm run bench:ab -- --before /tmp/before --scenario generate --connections 16 --batch 1
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { ROOT } from '../service-process.ts';
import { enumList, modelsDirFlag, outFlag, reportCommand } from './flags.ts';
import { load, log, median, round, type Server, startServer, threadCpu } from './harness.ts';

export const abFlags = z.object({
  before: z.string().min(1).describe('the other source tree, e.g. a git worktree of an older commit'),
  after: z.string().min(1).default('.').describe('the tree compared against it (default: this one)'),
  scenarios: enumList(['generate', 'discriminate', 'healthz'])
    .default(['generate', 'discriminate'])
    .describe('what the load asks: /generate count 1, /discriminate of one PNG, /healthz (comma-separated)'),
  model: z.string().min(1).default('mnist-dcgan').describe('the model both serve'),
  modelsDir: modelsDirFlag.describe(
    "each tree's model repository, relative to that tree (manifest formats differ between versions)",
  ),
  connections: z.number().int().min(1).max(1024).default(64).describe('connections of the load'),
  batch: z.number().int().min(1).max(4096).default(64).describe('GAN_MAX_BATCH of both servers'),
  rounds: z.number().int().min(1).max(100).default(4).describe('timed rounds per server and scenario'),
  seconds: z.number().positive().max(600).default(4).describe('seconds each round runs'),
  out: outFlag('docs/raw/benchmarks-ab', false),
});

export type AbOptions = z.output<typeof abFlags>;

export const cli: CliSpec<typeof abFlags> = {
  command: 'npm run bench:ab --',
  description:
    "Two source trees' servers side by side under the same load in alternating rounds: requests/s and CPU per " +
    'request on the event loop and on all other threads, by round and as medians.',
  flags: abFlags,
  examples: [
    'git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci)',
    'npm run bench:ab -- --before /tmp/before --scenarios generate --connections 16 --batch 1',
  ],
};

/** Rows and onnxruntime runs so far, summed over every network, from the server's /metrics. */
async function inferenceRuns(url: string): Promise<{ rows: number; runs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { rows: sum('gan_inference_count_total'), runs: sum('gan_inference_exec_count_total') };
}

export interface AbRound {
  requestsPerSecond: number;
  non2xx: number;
  /** µs of CPU per answered request on the server's main thread and on its other threads. */
  mainUsPerRequest: number;
  otherUsPerRequest: number;
  /** Rows per onnxruntime run over the round (all networks), from the server's /metrics: the mean batch. */
  rowsPerRun: number;
}

export interface AbReport {
  date: string;
  command: string;
  machine: string;
  loadAverageAtStart: number[];
  settings: Omit<AbOptions, 'out'>;
  /** By scenario, then `before` / `after`: every round, and the medians. */
  results: Record<string, Record<'before' | 'after', { rounds: AbRound[]; median: AbRound }>>;
}

type Side = 'before' | 'after';

function medianRound(rounds: AbRound[]): AbRound {
  const m = (pick: (r: AbRound) => number) => round(median(rounds.map(pick)));
  return {
    requestsPerSecond: m((r) => r.requestsPerSecond),
    non2xx: m((r) => r.non2xx),
    mainUsPerRequest: m((r) => r.mainUsPerRequest),
    otherUsPerRequest: m((r) => r.otherUsPerRequest),
    rowsPerRun: m((r) => r.rowsPerRun),
  };
}

export async function run(o: AbOptions, argv?: readonly string[]): Promise<AbReport> {
  const trees: Record<Side, string> = { before: path.resolve(o.before), after: path.resolve(ROOT, o.after) };
  const loadAverageAtStart = os.loadavg().map((l) => round(l, 2));
  const servers = {} as Record<Side, Server>;
  for (const side of ['before', 'after'] as const) {
    servers[side] = await startServer(
      path.resolve(trees[side], o.modelsDir),
      { GAN_MAX_BATCH: String(o.batch), GAN_LOG_LEVEL: 'warn' },
      trees[side],
    );
  }
  try {
    const generated = await fetch(`${servers.after.url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: o.model, seed: 1 }),
    });
    if (!generated.ok)
      throw new Error(`POST /generate answered ${generated.status}: ${await generated.text()}`);
    const png = Buffer.from(await generated.arrayBuffer());
    const requests = {
      generate: {
        path: '/generate',
        method: 'POST',
        contentType: 'application/json',
        body: JSON.stringify({ model: o.model, seed: 1 }),
      },
      discriminate: {
        path: `/discriminate?model=${o.model}`,
        method: 'POST',
        contentType: 'image/png',
        body: png,
      },
      healthz: { path: '/healthz', method: 'GET' },
    } as const;

    const once = async (side: Side, scenario: keyof typeof requests, seconds: number): Promise<AbRound> => {
      const { path: route, ...request } = requests[scenario];
      const pid = servers[side].child.pid!;
      const runs0 = await inferenceRuns(servers[side].url);
      const cpu0 = threadCpu(pid);
      const r = await load(`${servers[side].url}${route}`, {
        ...request,
        connections: o.connections,
        seconds,
      });
      const cpu1 = threadCpu(pid);
      const runs1 = await inferenceRuns(servers[side].url);
      const answered = Math.max(1, r.requests - r.non2xx);
      return {
        requestsPerSecond: round(answered / seconds),
        non2xx: r.non2xx,
        mainUsPerRequest: round(((cpu1.main - cpu0.main) * 1e6) / answered),
        otherUsPerRequest: round(((cpu1.other - cpu0.other) * 1e6) / answered),
        rowsPerRun: round((runs1.rows - runs0.rows) / Math.max(1, runs1.runs - runs0.runs), 2),
      };
    };

    const results: AbReport['results'] = {};
    for (const scenario of o.scenarios) {
      log(`${scenario}: warm-up`);
      for (const side of ['before', 'after'] as const) await once(side, scenario, 2);
      const rounds: Record<Side, AbRound[]> = { before: [], after: [] };
      for (let i = 0; i < o.rounds; i++) {
        const order: Side[] = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
        for (const side of order) {
          const r = await once(side, scenario, o.seconds);
          rounds[side].push(r);
          log(
            `${scenario} round ${i + 1} ${side}: ${r.requestsPerSecond} requests/s, CPU µs/request: event loop ` +
              `${r.mainUsPerRequest}, other threads ${r.otherUsPerRequest}; ${r.rowsPerRun} rows per run${r.non2xx ? `, ${r.non2xx} non-2xx` : ''}`,
          );
        }
      }
      results[scenario] = {
        before: { rounds: rounds.before, median: medianRound(rounds.before) },
        after: { rounds: rounds.after, median: medianRound(rounds.after) },
      };
      const b = results[scenario].before.median;
      const a = results[scenario].after.median;
      log(
        `${scenario} medians: before ${b.requestsPerSecond} requests/s (${b.mainUsPerRequest} + ${b.otherUsPerRequest} µs, ${b.rowsPerRun} rows/run), ` +
          `after ${a.requestsPerSecond} (${a.mainUsPerRequest} + ${a.otherUsPerRequest} µs, ${a.rowsPerRun} rows/run): after ÷ before ` +
          `${round(a.requestsPerSecond / Math.max(1, b.requestsPerSecond), 3)}`,
      );
    }
    const { out: _out, ...settings } = o;
    const report: AbReport = {
      date: new Date().toISOString(),
      command: reportCommand(cli, o, argv),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      loadAverageAtStart,
      settings,
      results,
    };
    await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${o.out}.json`);
    return report;
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
