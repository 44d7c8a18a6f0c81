/**
 * What the service benchmarks share: a server in its own process (scripts/bench/server.ts), load from autocannon in
 * this one, the RSS the server reports, and small statistics helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { type Config, loadConfig } from '../../src/config.ts';
import { freePort, ROOT } from '../../test/helpers/process.ts';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const log = (msg: string): void => {
  process.stdout.write(`${msg}\n`);
};

export interface Server {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts the bench server on a free port with the CPU provider and `env` on top; resolves once it is ready. */
export async function startServer(modelsDir: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      GAN_MODELS_DIR: modelsDir,
      GAN_HOST: '127.0.0.1',
      GAN_PORT: String(port),
      GAN_EXECUTION_PROVIDERS: 'cpu',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('bench server ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface LoadResult {
  requestsPerSecond: number;
  /** Mean latency with autocannon's sub-millisecond resolution (its percentiles are whole milliseconds). */
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface LoadOptions {
  method?: string;
  body?: string | Buffer;
  contentType?: string;
  connections: number;
  /** Run for this long… */
  seconds?: number;
  /** …or until this many requests have been answered. */
  amount?: number;
}

export async function load(url: string, opts: LoadOptions): Promise<LoadResult> {
  const r = await autocannon({
    url,
    method: opts.method ?? 'GET',
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    headers: opts.contentType ? { 'content-type': opts.contentType } : {},
    connections: opts.connections,
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 10 }),
    timeout: 60,
  });
  return {
    requestsPerSecond: round(r.requests.mean),
    meanMs: round(r.latency.mean, 3),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/**
 * The service settings a bench server runs with: its defaults, under any GAN_* variable of this shell (the server
 * inherits them), so reports name what actually ran.
 */
export function effectiveConfig(): Config {
  return loadConfig(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('GAN_'))));
}

/** The server's resident set size from its own /metrics. */
export async function rssBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('gan_process_resident_memory_bytes '));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}
