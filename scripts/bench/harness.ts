/**
 * What the service benchmarks share: a server in its own process (scripts/bench/server.ts), load from autocannon in
 * this one, the RSS the server reports, and small statistics helpers.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { type Config, loadConfig } from '../../src/config.ts';
import { freePort, ROOT } from '../service-process.ts';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
/**
 * Median milliseconds of one `run` after 3 warm-up runs, timing runs for `seconds` (at least 5 of them).
 * The benchmarks' one way to time a session.
 */
export async function medianRunMs(
  run: () => Promise<unknown>,
  seconds: number,
): Promise<{ ms: number; runs: number }> {
  for (let i = 0; i < 3; i++) await run();
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until || times.length < 5) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), runs: times.length };
}

export const log = (msg: string): void => {
  process.stdout.write(`${msg}\n`);
};

export interface Server {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Starts the bench server on a free port with the CPU provider and `env` on top; resolves once it is ready.
 * @param tree the source tree whose scripts/bench/server.ts runs (another version's, for `npm run bench:ab`)
 */
export async function startServer(
  modelsDir: string,
  env: Record<string, string>,
  tree: string = ROOT,
): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/server.ts'], {
    cwd: tree,
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
  /** Where the CPU went during the run (Linux only; absent elsewhere or without a server pid). */
  cpu?: CpuSplit;
}

/** CPU time per answered request and the machine's idle share over one load run. */
export interface CpuSplit {
  /** The server process and its child processes (event loop and inference workers, as threads or processes), µs of CPU per request. */
  serverUsPerRequest: number;
  /** The load generator (this process), µs of CPU per request. */
  clientUsPerRequest: number;
  /** Share of all cores' time the machine spent idle (idle + iowait in /proc/stat). */
  machineIdle: number;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds from a /proc `stat` file (a process's or a thread's), or null when it cannot be read. */
function statCpuSeconds(file: string): number | null {
  try {
    const stat = readFileSync(file, 'utf8');
    // The command name (field 2) may hold spaces: count fields from the closing parenthesis (field 3 = state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process from /proc/<pid>/stat, or null where there is no /proc. */
export function processCpuSeconds(pid: number): number | null {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread and of all its other threads, from /proc/<pid>/task. */
export function threadCpu(pid: number): { main: number; other: number } {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    // null: a thread that ended between the listing and the read.
    const seconds = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`) ?? 0;
    if (tid === String(pid)) main += seconds;
    else other += seconds;
  }
  return { main, other };
}

/** The live child processes of `pid` (every thread's children), from /proc. */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((x) => x !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** CPU seconds of a process and of each of its live descendants, by pid; empty where there is no /proc. */
export function processTreeCpu(pid: number, into = new Map<number, number>()): Map<number, number> {
  const own = processCpuSeconds(pid);
  if (own === null) return into;
  into.set(pid, own);
  for (const child of childPids(pid)) processTreeCpu(child, into);
  return into;
}

/** CPU spent between two readings of a tree, by the processes alive at the second (a new one from zero). */
function treeCpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0;
  for (const [pid, cpu] of after) spent += cpu - (before.get(pid) ?? 0);
  return spent;
}

/** Idle and total jiffies of all cores from /proc/stat, or null where there is no /proc. */
function machineJiffies(): { idle: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { idle: v[3]! + v[4]!, total };
  } catch {
    return null;
  }
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
  /**
   * The load generator: autocannon (default), or `node`, keep-alive connections of Node's own HTTP client that
   * discard each body as it arrives. autocannon reads bodies in JavaScript at about 30 MB/s of CPU, so for answers of
   * megabytes it would take a third of a 2-core machine from the service it measures.
   */
  client?: 'autocannon' | 'node';
}

/** What a load generator reports of one run. */
type Driven = Omit<LoadResult, 'cpu'>;

async function driveAutocannon(url: string, opts: LoadOptions): Promise<Driven> {
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

/** `opts.connections` keep-alive loops of Node's HTTP client, each sending the next request when its answer ends. */
async function driveNode(url: string, opts: LoadOptions): Promise<Driven> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const target = new URL(url);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const headers: Record<string, string | number> = {};
  if (opts.contentType) headers['content-type'] = opts.contentType;
  if (body) headers['content-length'] = body.length;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + (opts.seconds ?? 10) * 1000;
  const enough = () =>
    opts.amount ? latencies.length + non2xx + errors >= opts.amount : performance.now() >= until;
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: opts.method ?? 'GET',
          headers,
          agent,
        },
        (res) => {
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300)
              latencies.push(performance.now() - t0);
            else non2xx++;
            resolve();
          });
          res.resume();
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (!enough()) await once();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return {
    requestsPerSecond: round((latencies.length + non2xx) / seconds),
    meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 3),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length + non2xx,
    non2xx,
    errors,
  };
}

export async function load(url: string, opts: LoadOptions, serverPid?: number): Promise<LoadResult> {
  const server0 = serverPid === undefined ? null : processTreeCpu(serverPid);
  const client0 = process.cpuUsage();
  const machine0 = machineJiffies();
  const r = await (opts.client === 'node' ? driveNode(url, opts) : driveAutocannon(url, opts));
  const server1 = serverPid === undefined ? null : processTreeCpu(serverPid);
  const client = process.cpuUsage(client0);
  const machine1 = machineJiffies();
  const answered = Math.max(1, r.requests);
  const cpu: CpuSplit | undefined =
    server0 !== null && server1 !== null && server1.size > 0 && machine0 && machine1
      ? {
          serverUsPerRequest: round((treeCpuSpent(server0, server1) * 1e6) / answered),
          clientUsPerRequest: round((client.user + client.system) / answered),
          machineIdle: round(
            (machine1.idle - machine0.idle) / Math.max(1, machine1.total - machine0.total),
            3,
          ),
        }
      : undefined;
  return { ...r, ...(cpu ? { cpu } : {}) };
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
