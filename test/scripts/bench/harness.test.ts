import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, processCpuSeconds, processTreeCpu, threadCpu } from '../../../scripts/bench/harness.ts';

describe('bench harness: CPU split', () => {
  it('reads a process’s CPU seconds from /proc and grows while it works', () => {
    const before = processCpuSeconds(process.pid);
    expect(before).not.toBeNull();
    const until = performance.now() + 150;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(processCpuSeconds(process.pid)!).toBeGreaterThan(before!);
  });

  it('counts a process tree: the CPU of a busy child process is in its parent’s total', async () => {
    // A child that burns 400 ms of its own CPU time (not wall time: the machine may be busy), says so, then waits.
    const child = spawn(process.execPath, [
      '-e',
      'while (process.cpuUsage().user < 400000); console.log("burnt"); setTimeout(() => {}, 60000);',
    ]);
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
      });
      const tree = processTreeCpu(process.pid);
      expect(tree.has(process.pid)).toBe(true);
      expect(tree.get(child.pid!)!).toBeGreaterThan(0.2);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('is null for a process that does not exist', () => {
    expect(processCpuSeconds(2 ** 30)).toBeNull();
    expect(processTreeCpu(2 ** 30).size).toBe(0);
  });

  describe('load()', () => {
    const app = Fastify();
    let url = '';
    const seen: string[] = [];
    beforeAll(async () => {
      app.get('/', async () => ({ ok: true }));
      // A megabyte per answer, 400 for the body "bad".
      app.post('/echo', async (request, reply) => {
        seen.push(String(request.headers['content-type']));
        return reply.code(request.body === 'bad' ? 400 : 200).send(Buffer.alloc(1 << 20));
      });
      url = await app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(() => app.close());

    it('charges CPU per request to the server pid and to the load generator', async () => {
      // The server runs in this process here, so both shares come from the same CPU clock.
      const r = await load(url, { connections: 4, amount: 500 }, process.pid);
      expect(r.requests).toBe(500);
      expect(r.non2xx + r.errors).toBe(0);
      expect(r.cpu).toBeDefined();
      expect(r.cpu!.serverUsPerRequest).toBeGreaterThan(0);
      expect(r.cpu!.clientUsPerRequest).toBeGreaterThan(0);
      expect(r.cpu!.machineIdle).toBeGreaterThanOrEqual(0);
      expect(r.cpu!.machineIdle).toBeLessThanOrEqual(1);
    });

    it('drives the same load with Node’s own client: answers and statuses counted, bodies discarded', async () => {
      const big = await load(
        `${url}/echo`,
        { method: 'POST', body: 'x', contentType: 'text/plain', connections: 3, amount: 30, client: 'node' },
        process.pid,
      );
      expect(big.requests).toBeGreaterThanOrEqual(30);
      expect(big.non2xx + big.errors).toBe(0);
      expect(big.p50Ms).toBeGreaterThan(0);
      expect(big.p99Ms).toBeGreaterThanOrEqual(big.p50Ms);
      expect(big.cpu!.serverUsPerRequest).toBeGreaterThan(0);
      expect(seen.every((t) => t === 'text/plain')).toBe(true);
      const refused = await load(`${url}/echo`, {
        method: 'POST',
        body: 'bad',
        contentType: 'text/plain',
        connections: 2,
        amount: 10,
        client: 'node',
      });
      expect(refused.non2xx).toBeGreaterThanOrEqual(10);
      expect(refused.requests).toBe(refused.non2xx);
    });

    it('leaves the split out without a server pid', async () => {
      const r = await load(url, { connections: 1, amount: 20 });
      expect(r.cpu).toBeUndefined();
    });
  });
});

/** Work until this thread has used 200 ms of CPU (process-wide CPU, with every other thread idle meanwhile). */
const WORK = 'const s = process.cpuUsage(); while (process.cpuUsage(s).user < 200000);';
const busy = new Function(WORK) as () => void;

describe.skipIf(!existsSync('/proc/self/task'))('bench harness: threadCpu (npm run bench:ab)', () => {
  it('charges work on the main thread to main and a worker thread’s work to the other threads', async () => {
    const t0 = threadCpu(process.pid);
    busy();
    const t1 = threadCpu(process.pid);
    expect(t1.main - t0.main).toBeGreaterThan(0.1);

    const worker = new Worker(`${WORK} require('node:worker_threads').parentPort.postMessage('done');`, {
      eval: true,
    });
    await new Promise((resolve) => worker.once('message', resolve));
    const t2 = threadCpu(process.pid);
    await worker.terminate();
    expect(t2.other - t1.other).toBeGreaterThan(0.1);
  });
});
