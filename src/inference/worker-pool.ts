/**
 * A fixed set of inference workers (threads or processes, see worker-handle.ts), each holding every session. A worker that dies is replaced (its
 * in-flight job fails with GAN_ERR_WORKER_CRASHED) and reloads its sessions before it takes work again.
 */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { ExecutionProvider } from '../config.ts';
import { ServiceError } from '../errors.ts';
import type { FromWorker, NetworkKey, SessionInfo, SessionSpec, ToWorker } from './protocol.ts';
import { transferList } from './protocol.ts';
import type { ThreadSettings } from './providers.ts';
import { type Isolation, WorkerHandle } from './worker-handle.ts';

export type RunJob = Omit<Extract<ToWorker, { type: 'run' }>, 'type' | 'id'>;
export type RunResult = Omit<Extract<FromWorker, { type: 'result' }>, 'type' | 'id'>;

const EMPTY_INFO: Omit<SessionInfo, 'key' | 'error'> = {
  provider: null,
  skipped: [],
  inputs: [],
  outputs: [],
};

interface Pending {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

export class PoolWorker {
  ready = false;
  /** Became ready at least once (a crash later is a crash, not a load failure). */
  everReady = false;
  busy = false;
  readonly pending = new Map<number, Pending>();
  /** Control messages (add/remove) sent and not yet answered. */
  readonly control = new Set<number>();
  loaded?: Promise<SessionInfo[]>;

  constructor(
    readonly index: number,
    readonly handle: WorkerHandle,
  ) {}
}

export interface WorkerPoolOptions {
  size: number;
  providers: ExecutionProvider[];
  threads: ThreadSettings;
  isolation: Isolation;
  log: FastifyBaseLogger;
}

export class WorkerPool extends EventEmitter<{
  idle: [];
  crash: [index: number];
  restarted: [index: number];
}> {
  readonly workers: PoolWorker[] = [];
  private specs: SessionSpec[] = [];
  private nextId = 1;
  /** Replies to add/remove, by message id. */
  private readonly control = new Map<
    number,
    { left: number; infos: SessionInfo[] | null; done: () => void }
  >();
  private closing = false;
  /** Set once start() has loaded every worker; crashes before that fail start() instead of restarting. */
  private started = false;

  constructor(private readonly options: WorkerPoolOptions) {
    super();
  }

  /** Start every worker and load the sessions in each; resolves with the first worker's report. */
  async start(specs: SessionSpec[]): Promise<SessionInfo[]> {
    this.specs = specs;
    for (let i = 0; i < this.options.size; i++) this.workers.push(this.spawn(i));
    const reports = await Promise.all(this.workers.map((w) => w.loaded!));
    this.started = true;
    return reports[0] ?? [];
  }

  /**
   * Load more sessions into every worker (a model loaded or reloaded while serving); resolves with the first
   * worker's report. Workers started later (a crashed one's replacement) load them too.
   */
  async add(specs: SessionSpec[]): Promise<SessionInfo[]> {
    this.specs = [...this.specs, ...specs];
    const reply = await this.broadcast((id) => ({
      type: 'add',
      id,
      sessions: specs,
      providers: this.options.providers,
      threads: this.options.threads,
    }));
    return (
      reply ?? specs.map((s) => ({ ...EMPTY_INFO, key: s.key, error: 'no inference worker is running' }))
    );
  }

  /** Release sessions in every worker (an unloaded model, the old version of a reloaded one). */
  async remove(keys: NetworkKey[]): Promise<void> {
    const gone = new Set(keys);
    this.specs = this.specs.filter((s) => !gone.has(s.key));
    await this.broadcast((id) => ({ type: 'remove', id, keys }));
  }

  /** Send a control message to every ready worker and wait for each reply (a worker that dies counts as done). */
  private broadcast(make: (id: number) => ToWorker): Promise<SessionInfo[] | null> {
    const targets = this.workers.filter((w) => w.ready);
    if (targets.length === 0) return Promise.resolve(null);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const entry = { left: targets.length, infos: null as SessionInfo[] | null, done: () => {} };
      entry.done = () => {
        entry.left--;
        if (entry.left === 0) {
          this.control.delete(id);
          resolve(entry.infos);
        }
      };
      this.control.set(id, entry);
      for (const w of targets) {
        w.control.add(id);
        w.handle.post(make(id));
      }
    });
  }

  get readyCount(): number {
    return this.workers.filter((w) => w.ready).length;
  }

  /** An idle, ready worker, if any. */
  acquire(): PoolWorker | undefined {
    return this.workers.find((w) => w.ready && !w.busy);
  }

  run(worker: PoolWorker, job: RunJob): Promise<RunResult> {
    const id = this.nextId++;
    worker.busy = true;
    return new Promise<RunResult>((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'run', id, ...job };
      try {
        worker.handle.post(msg, transferList(Object.values(job.feeds)));
      } catch (err) {
        // Nothing reached the worker (e.g. a buffer that cannot be transferred): it is free again.
        worker.pending.delete(id);
        worker.busy = false;
        reject(err);
        setImmediate(() => this.emit('idle')); // not from inside the scheduler's pump that called run()
      }
    });
  }

  private spawn(index: number): PoolWorker {
    const thread = new WorkerHandle(this.options.isolation);
    const worker = new PoolWorker(index, thread);
    worker.loaded = new Promise<SessionInfo[]>((resolve, reject) => {
      const onLoaded = (msg: FromWorker) => {
        if (msg.type !== 'loaded') return;
        thread.off('message', onLoaded);
        worker.ready = true;
        worker.everReady = true;
        resolve(msg.sessions);
        this.emit('idle');
      };
      thread.on('message', onLoaded);
      thread.once('exit', (code) =>
        reject(new Error(`inference worker ${index} exited with code ${code} while loading`)),
      );
    });
    // A crash during loading is reported by start() or by the restart path; avoid unhandled rejections.
    worker.loaded.catch(() => {});
    thread.on('message', (msg: FromWorker) => this.onMessage(worker, msg));
    thread.on('error', (err) => this.options.log.error({ err, worker: index }, 'inference worker error'));
    thread.on('exit', (code) => this.onExit(worker, code));
    const load: ToWorker = {
      type: 'load',
      sessions: this.specs,
      providers: this.options.providers,
      threads: this.options.threads,
    };
    thread.post(load);
    return worker;
  }

  private onMessage(worker: PoolWorker, msg: FromWorker) {
    if (msg.type === 'added' || msg.type === 'removed') {
      const entry = this.control.get(msg.id);
      worker.control.delete(msg.id);
      if (!entry) return;
      if (msg.type === 'added' && entry.infos === null) entry.infos = msg.sessions;
      entry.done();
      return;
    }
    if (msg.type !== 'result' && msg.type !== 'error') return;
    const pending = worker.pending.get(msg.id);
    if (!pending) return;
    worker.pending.delete(msg.id);
    worker.busy = false;
    if (msg.type === 'result') {
      const { type: _t, id: _i, ...result } = msg;
      pending.resolve(result);
    } else {
      pending.reject(new Error(msg.message));
    }
    this.emit('idle');
  }

  private onExit(worker: PoolWorker, code: number | null) {
    worker.ready = false;
    for (const p of worker.pending.values()) {
      p.reject(
        new ServiceError('GAN_ERR_WORKER_CRASHED', 'the inference worker running this request stopped'),
      );
    }
    worker.pending.clear();
    // Control messages it will never answer: done for this worker (its replacement loads the current specs).
    for (const id of worker.control) this.control.get(id)?.done();
    worker.control.clear();
    if (this.closing || !this.started) return;
    this.options.log.error({ worker: worker.index, code }, 'inference worker exited; restarting it');
    this.emit('crash', worker.index);
    // A worker that died before it was ever ready is failing to load: retry after a pause, not in a tight loop.
    const delay = worker.everReady ? 0 : 1000;
    setTimeout(() => {
      if (this.closing) return;
      const replacement = this.spawn(worker.index);
      this.workers[worker.index] = replacement;
      this.watchRestart(worker.index, replacement);
    }, delay).unref();
  }

  private watchRestart(index: number, replacement: PoolWorker) {
    replacement.loaded!.then(
      () => {
        this.options.log.info({ worker: index }, 'inference worker restarted');
        this.emit('restarted', index);
      },
      (err: unknown) => this.options.log.error({ err, worker: index }, 'inference worker failed to restart'),
    );
  }

  /** Release every session and stop the threads. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.ready) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            w.handle.on('message', (msg: FromWorker) => {
              if (msg.type === 'released') {
                clearTimeout(timer);
                resolve();
              }
            });
            w.handle.post({ type: 'release' } satisfies ToWorker);
          });
        }
        await w.handle.stop();
      }),
    );
  }
}
