/**
 * The real service as a child process (from the TypeScript sources, or the built one) on a free loopback port,
 * and waiting for it: used by the benchmarks, the soak, the Docker runtime check and the tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A free loopback port (closed again before returning, so there is a small window to lose it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** The service from its sources, or from `entry` (e.g. `['dist/server.js']` for the built one), logging at info. */
export async function startService(
  env: Record<string, string>,
  entry: string[] = ['--import', 'tsx', 'src/server.ts'],
): Promise<ServiceProcess> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, entry, {
    cwd: ROOT,
    env: { ...process.env, GAN_HOST: '127.0.0.1', GAN_PORT: String(port), GAN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

/** Poll until `check` passes or the process exits; throws with the process output on failure. */
export async function waitFor(
  svc: ServiceProcess,
  check: () => Promise<boolean>,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  let exited = false;
  void svc.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline && !exited) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen; service output:\n${svc.output()}`);
}

export async function waitReady(svc: ServiceProcess): Promise<void> {
  await waitFor(svc, async () => (await fetch(`${svc.url}/readyz`)).status === 200, '/readyz 200');
}
