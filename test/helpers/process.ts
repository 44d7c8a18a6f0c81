/**
 * Start the real service as a child process (from the TypeScript sources) on a free port; talk raw HTTP to a port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() =>
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
) {
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

export async function waitReady(svc: ServiceProcess) {
  await waitFor(svc, async () => (await fetch(`${svc.url}/readyz`)).status === 200, '/readyz 200');
}

/** Open a socket to `port`, write `text` as it is, and resolve with all the server sent once it closed the connection. */
export function rawExchange(port: number, text: string): Promise<{ reply: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ reply, socket }));
  });
}
