/**
 * Soak test (`npm run soak -- --minutes N`): mixed good and bad traffic against the real service at high
 * concurrency; reports requests by scenario and status, p99 latency and server RSS over time, and fails (exit 1)
 * on any unexpected status (every 5xx is unexpected). Writes <out>.json and <out>.md (default docs/reliability).
 *
 *   npm run soak -- [--minutes 10] [--connections 64] [--models-dir models] [--model mnist-dcgan] [--out docs/reliability]
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { commandLine } from '../command-line.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { freePort, ROOT } from '../service-process.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    'models-dir': { type: 'string', default: 'models' },
    model: { type: 'string' },
    window: { type: 'string', default: '30' },
    out: { type: 'string', default: 'docs/reliability' },
  },
});

interface Scenario {
  name: string;
  weight: number;
  expect: number[];
  request: () => { url: string; init: RequestInit };
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const log = (msg: string) => process.stdout.write(`${msg}\n`);

async function main() {
  const minutes = Number(args.minutes);
  const connections = Number(args.connections);
  const windowS = Number(args.window);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      GAN_MODELS_DIR: args['models-dir'],
      GAN_HOST: '127.0.0.1',
      GAN_PORT: String(port),
      GAN_LOG_LEVEL: 'error',
      GAN_EXECUTION_PROVIDERS: 'cpu',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const serverExit = new Promise<number | null>((resolve) => server.on('exit', resolve));
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('service did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  const models = (await (await fetch(`${base}/v1/models`)).json()) as {
    default: string;
    models: Array<{
      name: string;
      latentDim: number;
      conditional: boolean;
      numClasses: number | null;
      diagnostics: boolean;
    }>;
  };
  const model = models.models.find((m) => m.name === (args.model ?? models.default))!;
  const label = model.conditional ? { label: 3 } : {};
  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const good = Buffer.from(
    await (await fetch(`${base}/generate`, json({ model: model.name, seed: 1, ...label }))).arrayBuffer(),
  );
  const noise = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 256));
  let seed = 1000;
  const scenarios: Scenario[] = [
    {
      name: 'generate count 1',
      weight: 35,
      expect: [200],
      request: () => ({ url: '/generate', init: json({ model: model.name, seed: seed++, ...label }) }),
    },
    {
      name: 'generate grid of 16',
      weight: 10,
      expect: [200],
      request: () => ({
        url: '/generate',
        init: json({ model: model.name, seed: seed++, count: 16, scale: 2, ...label }),
      }),
    },
    {
      name: 'generate bad field',
      weight: 10,
      expect: [400],
      request: () => ({ url: '/generate', init: json({ model: model.name, count: -3 }) }),
    },
    {
      name: 'generate unknown model',
      weight: 3,
      expect: [404],
      request: () => ({ url: '/generate', init: json({ model: 'no-such-model' }) }),
    },
    {
      name: 'discriminate PNG',
      weight: 20,
      expect: [200],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: good },
      }),
    },
    {
      name: 'discriminate garbage',
      weight: 6,
      expect: [422],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: noise },
      }),
    },
    {
      name: 'discriminate bad base64',
      weight: 4,
      expect: [400],
      request: () => ({ url: '/discriminate', init: json({ images: ['***'] }) }),
    },
    {
      name: 'v2 infer',
      weight: 8,
      expect: [200],
      request: () => ({
        url: `/v2/models/${model.name}-generator/infer`,
        init: json({
          inputs: [
            {
              name: 'z',
              shape: [1, model.latentDim],
              datatype: 'FP32',
              data: new Array(model.latentDim).fill(0.1),
            },
            ...(model.conditional ? [{ name: 'label', shape: [1], datatype: 'INT32', data: [3] }] : []),
          ],
        }),
      }),
    },
    {
      name: 'diagnostics (100 samples)',
      weight: 1,
      expect: model.diagnostics ? [200] : [409],
      request: () => ({
        url: `/v1/models/${model.name}/diagnostics`,
        init: json({ samples: 100, seed: seed++ }),
      }),
    },
  ];
  // v2 input names come from the model's metadata.
  const meta = (await (await fetch(`${base}/v2/models/${model.name}-generator`)).json()) as {
    inputs: Array<{ name: string; datatype: string }>;
  };
  const zName = meta.inputs.find((i) => i.datatype === 'FP32')?.name ?? 'z';
  const labelName = meta.inputs.find((i) => i.datatype !== 'FP32')?.name ?? 'label';
  const v2 = scenarios.find((s) => s.name === 'v2 infer')!;
  const v2Request = v2.request;
  v2.request = () => {
    const r = v2Request();
    const body = JSON.parse(String(r.init.body)) as { inputs: Array<{ name: string }> };
    body.inputs[0]!.name = zName;
    if (body.inputs[1]) body.inputs[1].name = labelName;
    return { url: r.url, init: { ...r.init, body: JSON.stringify(body) } };
  };
  const totalWeight = scenarios.reduce((n, s) => n + s.weight, 0);
  let pickState = 12345;
  const pick = () => {
    pickState = (pickState * 1103515245 + 12345) % 2 ** 31;
    let x = (pickState / 2 ** 31) * totalWeight;
    for (const s of scenarios) {
      x -= s.weight;
      if (x < 0) return s;
    }
    return scenarios[0]!;
  };

  const counts = new Map<string, Map<string, number>>();
  const unexpected: Array<{ scenario: string; status: string; body: string }> = [];
  const windows: Array<{ t: number; requests: number; p50Ms: number; p99Ms: number; rssMiB: number }> = [];
  let latencies: number[] = [];
  const started = Date.now();
  const until = started + minutes * 60_000;

  async function rss(): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('gan_process_resident_memory_bytes '));
    return Math.round((Number(line?.split(' ')[1]) / 2 ** 20) * 10) / 10;
  }
  const sampler = setInterval(() => {
    const window = latencies;
    latencies = [];
    void rss().then((r) => {
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
  }, windowS * 1000);

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
  const rssStart = await rss();
  await Promise.all(Array.from({ length: connections }, client));
  clearInterval(sampler);
  const rssEnd = await rss();
  server.kill('SIGTERM');
  const exitCode = await serverExit;

  const table = [...counts].map(([name, byStatus]) => ({
    scenario: name,
    statuses: Object.fromEntries(byStatus),
  }));
  const total = table.reduce((n, r) => n + Object.values(r.statuses).reduce((a, b) => a + b, 0), 0);
  const fiveXX = table.reduce(
    (n, r) =>
      n +
      Object.entries(r.statuses)
        .filter(([k]) => k.startsWith('5'))
        .reduce((a, [, v]) => a + v, 0),
    0,
  );
  const unexpectedCount = table.reduce(
    (n, r) =>
      n +
      Object.entries(r.statuses)
        .filter(
          ([k]) =>
            !scenarios
              .find((s) => s.name === r.scenario)!
              .expect.map(String)
              .includes(k),
        )
        .reduce((a, [, v]) => a + v, 0),
    0,
  );
  const report = {
    date: new Date().toISOString(),
    command: commandLine('npm run soak --', process.argv.slice(2)),
    model: model.name,
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      node: process.version,
      loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    minutes,
    connections,
    total,
    fiveXX,
    unexpected: unexpectedCount,
    unexpectedSamples: unexpected.slice(0, 10),
    rss: { startMiB: rssStart, endMiB: rssEnd },
    serverExitCode: exitCode,
    table,
    windows,
  };
  await writeFile(`${args.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const statusCols = [...new Set(table.flatMap((r) => Object.keys(r.statuses)))].sort();
  const md = `# Reliability

Soak test measured by \`${report.command}\` on ${report.date.slice(0, 10)}: ${connections} concurrent clients for ${minutes} minutes
of mixed traffic against the real service (model \`${model.name}\`), on ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}; load average at the end
${report.machine.loadAverageAtEnd.join(' / ')} (1, 5 and 15 minutes).
Raw figures in [reliability.json](reliability.json).

- ${total} requests; **${fiveXX} 5xx**; ${unexpectedCount} answers with a status the scenario did not expect.
- Server RSS ${rssStart} MiB at the start of the load, ${rssEnd} MiB at the end; the service then shut down on SIGTERM with exit code ${exitCode}.

## Requests by scenario and status

| scenario | ${statusCols.join(' | ')} |
| --- | ${statusCols.map(() => '---:').join(' | ')} |
${table.map((r) => `| ${r.scenario} | ${statusCols.map((c) => (r.statuses as Record<string, number>)[c] ?? 0).join(' | ')} |`).join('\n')}

## Latency and memory over time (${windowS} s windows)

| t (s) | requests | p50 (ms) | p99 (ms) | RSS (MiB) |
| ---: | ---: | ---: | ---: | ---: |
${windows.map((w) => `| ${w.t} | ${w.requests} | ${w.p50Ms} | ${w.p99Ms} | ${w.rssMiB} |`).join('\n')}
`;
  await writeReportMarkdown(`${args.out}.md`, md);
  log(
    `${total} requests, ${fiveXX} 5xx, ${unexpectedCount} unexpected; RSS ${rssStart} → ${rssEnd} MiB; wrote ${args.out}.md`,
  );
  if (unexpectedCount > 0) {
    for (const u of unexpected.slice(0, 10)) log(`  unexpected: ${u.scenario} → ${u.status} ${u.body}`);
    process.exitCode = 1;
  }
}

await main();
