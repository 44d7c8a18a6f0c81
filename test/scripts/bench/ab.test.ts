/**
 * npm run bench:ab's CPU split: the main thread's CPU and all other threads' CPU of a process, read from
 * /proc/<pid>/task (Linux only).
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { threadCpu } from '../../../scripts/bench/ab.ts';

/** A fixed amount of work (about 0.3 s of one core here), so the CPU it takes does not depend on the machine's load. */
const WORK = 'let x = 0; for (let i = 0; i < 3e7; i++) x += Math.sqrt(i);';
const busy = new Function(`${WORK} return x;`) as () => number;

describe.skipIf(!existsSync('/proc/self/task'))('threadCpu', () => {
  it('charges work on the main thread to main and a worker thread’s work to the other threads', async () => {
    const t0 = threadCpu(process.pid);
    busy();
    const t1 = threadCpu(process.pid);
    expect(t1.main - t0.main).toBeGreaterThan(0.05);

    const worker = new Worker(`${WORK} require('node:worker_threads').parentPort.postMessage(x);`, {
      eval: true,
    });
    await new Promise((resolve) => worker.once('message', resolve));
    const t2 = threadCpu(process.pid);
    await worker.terminate();
    expect(t2.other - t1.other).toBeGreaterThan(0.05);
  });
});
