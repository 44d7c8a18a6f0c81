/**
 * Soak test (`npm run soak -- --minutes N`): mixed good and bad traffic (scenarios.ts) against the real service at
 * high concurrency; reports requests by scenario and status, p50/p99 latency and server RSS over time, and fails
 * (exit 1) on any unexpected status (every 5xx is unexpected). Writes <out>.json and <out>.md (default
 * docs/reliability).
 *
 *   npm run soak -- [--minutes 10] [--connections 64] [--models-dir models] [--model mnist-dcgan] [--out docs/reliability]
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import { modelsDirFlag, outFlag, reportCommand } from '../bench/flags.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { type ServiceProcess, startService, waitFor } from '../service-process.ts';
import { type SoakReport, type SoakWindow, soakMarkdown, summarise } from './report.ts';
import { type SoakModel, soakScenarios, weightedPicker } from './scenarios.ts';

export const soakFlags = z.object({
  minutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(10)
    .describe('how long the load runs'),
  connections: z.number().int().min(1).max(4096).default(64).describe('concurrent clients'),
  modelsDir: modelsDirFlag,
  model: z.string().min(1).optional().describe("the model the traffic uses (default: the service's default)"),
  window: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(30)
    .describe('seconds per window of the latency and RSS table'),
  out: outFlag('docs/reliability'),
});

export type SoakOptions = z.output<typeof soakFlags>;

export const cli: CliSpec<typeof soakFlags> = {
  command: 'npm run soak --',
  description:
    'Soak test: mixed good and bad traffic against the real service at high concurrency. Exits 1 on any status ' +
    'a scenario did not expect (every 5xx is unexpected).',
  flags: soakFlags,
  examples: ['npm run soak -- --minutes 10 --connections 64'],
};

/** How long the service may take to answer /readyz 200. */
const READY_TIMEOUT_MS = 120_000;

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const log = (msg: string) => process.stdout.write(`${msg}\n`);

/** The model the traffic drives, from the service's own /v1/models and its v2 metadata. */
async function soakModel(base: string, name: string | undefined): Promise<SoakModel> {
  const listed = (await (await fetch(`${base}/v1/models`)).json()) as {
    default: string;
    models: Array<{ name: string; latentDim: number; conditional: boolean; diagnostics: boolean }>;
  };
  const wanted = name ?? listed.default;
  const model = listed.models.find((m) => m.name === wanted);
  if (!model) {
    throw new Error(
      `--model: no model '${wanted}' (the service has ${listed.models.map((m) => m.name).join(', ')})`,
    );
  }
  const meta = (await (await fetch(`${base}/v2/models/${model.name}-generator`)).json()) as {
    inputs: Array<{ name: string; datatype: string }>;
  };
  return {
    name: model.name,
    latentDim: model.latentDim,
    conditional: model.conditional,
    diagnostics: model.diagnostics,
    v2Latent: meta.inputs.find((i) => i.datatype === 'FP32')?.name ?? 'z',
    v2Label: meta.inputs.find((i) => i.datatype !== 'FP32')?.name ?? 'label',
  };
}

async function rssMiB(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('gan_process_resident_memory_bytes '));
  return Math.round((Number(line?.split(' ')[1]) / 2 ** 20) * 10) / 10;
}

/**
 * Runs the soak and writes `<out>.json` and `<out>.md`; rejects after writing them when any answer had a status
 * its scenario did not expect.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: SoakOptions, argv?: readonly string[]): Promise<SoakReport> {
  const server: ServiceProcess = await startService({
    GAN_MODELS_DIR: o.modelsDir,
    GAN_LOG_LEVEL: 'error',
    GAN_EXECUTION_PROVIDERS: 'cpu',
  });
  let exitCode: number | null;
  let report: SoakReport;
  try {
    await waitFor(
      server,
      async () => (await fetch(`${server.url}/readyz`)).ok,
      'the service answering /readyz 200',
      READY_TIMEOUT_MS,
    );
    const base = server.url;
    const model = await soakModel(base, o.model);
    const good = Buffer.from(
      await (
        await fetch(`${base}/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: model.name, seed: 1, ...(model.conditional ? { label: 3 } : {}) }),
        })
      ).arrayBuffer(),
    );
    const scenarios = soakScenarios(model, good);
    const pick = weightedPicker(scenarios);

    const counts = new Map<string, Map<string, number>>();
    const unexpected: SoakReport['unexpectedSamples'] = [];
    const windows: SoakWindow[] = [];
    let latencies: number[] = [];
    const started = Date.now();
    const until = started + o.minutes * 60_000;
    const sampler = setInterval(() => {
      const window = latencies;
      latencies = [];
      void rssMiB(base).then((r) => {
        const w = {
          t: Math.round((Date.now() - started) / 1000),
          requests: window.length,
          p50Ms: Math.round(percentile(window, 50)),
          p99Ms: Math.round(percentile(window, 99)),
          rssMiB: r,
        };
        windows.push(w);
        log(`t=${w.t}s requests=${w.requests} p50=${w.p50Ms}ms p99=${w.p99Ms}ms rss=${w.rssMiB}MiB`);
      });
    }, o.window * 1000);

    async function client() {
      while (Date.now() < until) {
        const s = pick();
        const { url, init } = s.request();
        const t0 = performance.now();
        let status: string;
        let body = '';
        try {
          const res = await fetch(base + url, { ...init, signal: AbortSignal.timeout(60_000) });
          body = res.ok ? '' : (await res.text()).slice(0, 200);
          if (res.ok) await res.arrayBuffer();
          status = String(res.status);
        } catch (err) {
          status = `error: ${(err as Error).name}`;
        }
        latencies.push(performance.now() - t0);
        const byStatus = counts.get(s.name) ?? new Map<string, number>();
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        counts.set(s.name, byStatus);
        if (!s.expect.map(String).includes(status) && unexpected.length < 50)
          unexpected.push({ scenario: s.name, status, body });
      }
    }
    const rssStart = await rssMiB(base);
    await Promise.all(Array.from({ length: o.connections }, client));
    clearInterval(sampler);
    const rssEnd = await rssMiB(base);
    server.child.kill('SIGTERM');
    exitCode = await server.exited;

    const summary = summarise(counts, scenarios);
    report = {
      date: new Date().toISOString(),
      command: reportCommand(cli, o, argv),
      model: model.name,
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        node: process.version,
        loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
      },
      minutes: o.minutes,
      connections: o.connections,
      total: summary.total,
      fiveXX: summary.fiveXX,
      unexpected: summary.unexpected,
      unexpectedSamples: unexpected.slice(0, 10),
      rss: { startMiB: rssStart, endMiB: rssEnd },
      serverExitCode: exitCode,
      table: summary.table,
      windows,
    };
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeReportMarkdown(`${o.out}.md`, soakMarkdown(report, o.window));
  log(
    `${report.total} requests, ${report.fiveXX} 5xx, ${report.unexpected} unexpected; RSS ${report.rss.startMiB} → ` +
      `${report.rss.endMiB} MiB; wrote ${o.out}.md`,
  );
  if (report.unexpected > 0) {
    for (const u of report.unexpectedSamples) log(`  unexpected: ${u.scenario} → ${u.status} ${u.body}`);
    throw new Error(`${report.unexpected} answers with a status their scenario did not expect`);
  }
  return report;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
