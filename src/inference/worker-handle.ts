/**
 * One inference worker, as a thread (default: tensors move by transferring their buffers) or as a child process
 * (`GAN_WORKER_ISOLATION=process`: a native crash or an OOM kill in onnxruntime takes down only that worker, at the
 * cost of copying tensors through IPC). Both speak protocol.ts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExecutionProvider } from '../config.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

export type Isolation = 'thread' | 'process';

/** worker.js next to this file, or worker.ts when running from TypeScript sources (tsx, vitest). */
function entry(): { url: URL; fromSource: boolean } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  return { url: new URL(fromSource ? './worker.ts' : './worker.js', here), fromSource };
}

export class WorkerHandle extends EventEmitter<{
  message: [FromWorker];
  exit: [code: number | null];
  error: [Error];
}> {
  private readonly thread?: Worker;
  private readonly child?: ChildProcess;

  constructor(readonly isolation: Isolation) {
    super();
    const { url, fromSource } = entry();
    if (isolation === 'thread') {
      // Workers don't inherit the parent's loader hooks: under tsx, register them inside the thread first.
      const thread = fromSource
        ? new Worker(
            `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); }).catch((e) => { console.error(e); process.exit(1); });`,
            { eval: true },
          )
        : new Worker(url);
      thread.on('message', (m: FromWorker) => this.emit('message', m));
      thread.on('error', (e) => this.emit('error', e));
      thread.on('exit', (code) => this.emit('exit', code));
      this.thread = thread;
    } else {
      const child = fork(fileURLToPath(url), [], {
        serialization: 'advanced',
        execArgv: fromSource ? ['--import', 'tsx'] : [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m) => this.emit('message', m as FromWorker));
      child.on('error', (e) => this.emit('error', e));
      child.on('exit', (code, signal) => this.emit('exit', code ?? (signal ? 128 : null)));
      this.child = child;
    }
  }

  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.thread) this.thread.postMessage(message, transfer);
    else if (this.child?.connected) this.child.send(message);
  }

  /** The OS process id of a process worker (for tests that kill one on purpose). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Stop the worker. Only safe for a thread that is not inside `session.run` (onnxruntime aborts the whole
   * process when its thread is torn down mid-run); process workers can be killed at any time.
   */
  async stop(): Promise<void> {
    if (this.thread) {
      await this.thread.terminate();
      return;
    }
    const child = this.child!;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/**
 * The worker isolation these providers can run under. Measured on an NVIDIA H200 (onnxruntime-node 1.30, WebGPU
 * through Vulkan, docs/benchmarks-providers.md): with WebGPU sessions in two or four worker threads of one process
 * the process died of a segmentation fault while loading them; one worker thread, and four workers as child
 * processes, loaded and served. So with WebGPU in the list and more than one worker, workers run as processes, and
 * `reason` says so for the log.
 */
export function isolationFor(
  providers: readonly ExecutionProvider[],
  workers: number,
  requested: Isolation,
): { isolation: Isolation; reason: string | null } {
  if (requested === 'thread' && workers > 1 && providers.includes('webgpu')) {
    return {
      isolation: 'process',
      reason:
        `GAN_WORKER_ISOLATION=thread with ${workers} workers and the webgpu provider: running the workers as ` +
        'processes instead (WebGPU sessions in several worker threads of one process crash onnxruntime-node)',
    };
  }
  return { isolation: requested, reason: null };
}
