/**
 * The model runtime: scans the repository, starts the worker pool with every network's session, checks each
 * session against its manifest, warms each up with one run, and runs batched requests through the scheduler.
 * Models load, reload and unload while serving (Triton's model control): a reload builds and warms the new version
 * beside the old one and swaps only when it is ready; the old version's sessions go once nothing runs on them.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config, ExecutionProvider } from '../config.ts';
import { ServiceError } from '../errors.ts';
import { latentsForSeeds } from '../latent/random-state.ts';
import { feedsFor, fixedTensors } from '../models/feeds.ts';
import { type ClassifierManifest, imageRowDims, type Manifest } from '../models/manifest.ts';
import {
  checkClassifier,
  checkDiscriminator,
  checkGenerator,
  checkMapping,
  type NetworkCheck,
  type ResolvedInput,
} from '../models/metadata-check.ts';
import { readNpy } from '../models/npy.ts';
import {
  type ClassifierEntry,
  displayPath,
  folderSignature,
  listFolders,
  type ModelEntry,
  type ScanResult,
  scanFolder,
  scanModels,
} from '../models/repository.ts';
import type { Metrics } from '../prometheus.ts';
import type { NetworkKey, SessionInfo, SessionSpec, WireTensor } from './protocol.ts';
import { type NetworkRequest, type NetworkResult, Scheduler } from './scheduler.ts';
import { isolationFor } from './worker-handle.ts';
import { WorkerPool } from './worker-pool.ts';

export type Network = 'generator' | 'mapping' | 'discriminator' | 'classifier';
export type ModelStatus = 'loading' | 'ready' | 'failed';

export interface NetworkState {
  file: string;
  provider: ExecutionProvider | null;
  skipped: Array<{ provider: ExecutionProvider; reason: string }>;
  info: SessionInfo | null;
  /** Each input as it is fed (resolved against the session at load). */
  inputs: ResolvedInput[];
  /** The output's dimensions after the batch axis (mapping: the w row shape). */
  outputDims: number[];
  /** Constant and noise inputs, built once at load. */
  fixed: Map<string, WireTensor>;
}

/** The centre of truncation in w space, and where it came from. */
export interface WAverage {
  /** float32, one mapping-output row ([wDim] or [numWs, wDim]) */
  data: Float32Array;
  source: 'file' | 'estimated';
  /** The file it was read from, or how many seeded z's were averaged. */
  file: string | null;
  samples: number | null;
}

/** z's averaged for w_avg are mapped in batches of this many rows. */
const W_AVG_BATCH = 256;

export interface ServedModel {
  name: string;
  entry: ModelEntry;
  manifest: Manifest;
  status: ModelStatus;
  error: string | null;
  /** 1 for the first load, then one more per reload: sessions of each version are keyed apart. */
  version: number;
  /** The folder's file fingerprint when this version was read (poll mode reloads when it changes). */
  signature: string;
  /** Set while the model unloads: new requests get 503, running ones finish. */
  unloading: boolean;
  generator: NetworkState;
  /** The StyleGAN-style mapping network, when the model has one. */
  mapping: NetworkState | null;
  /** Null for a generator-only model. */
  discriminator: NetworkState | null;
  /** The average w of a model with a mapping network (set once loaded). */
  wAvg: WAverage | null;
  /** The dataset's classifier, when one is in the repository. */
  classifier: ServedClassifier | null;
}

export interface ServedClassifier {
  name: string;
  entry: ClassifierEntry;
  manifest: ClassifierManifest;
  status: ModelStatus;
  error: string | null;
  network: NetworkState;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

export const networkKey = (name: string, network: Network): NetworkKey => `${name}/${network}`;

/** The session key of one network of a model's version: version 1 keeps the plain `<model>/<network>`. */
export const modelKey = (model: { name: string; version: number }, network: Network): NetworkKey =>
  model.version <= 1 ? networkKey(model.name, network) : `${model.name}#${model.version}/${network}`;

/** The model version part of a session key (`tiny`, `tiny#2`). */
const keyPrefix = (key: NetworkKey) => key.slice(0, key.lastIndexOf('/'));

/** Triton's model states, as the repository index reports them. */
export type RepositoryState = 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

export interface RepositoryEntry {
  name: string;
  /** The version being served (or last tried), '' for a folder never loaded. */
  version: string;
  state: RepositoryState;
  reason: string;
}

/** Why a model is not serving, or what is happening to it. */
interface Activity {
  state: RepositoryState;
  reason: string;
  version: number;
}

/** An old version's sessions are released once no run has used them for this long (a request may run several). */
const RETIRE_QUIET_MS = 1000;

const newState = (file: string): NetworkState => ({
  file,
  provider: null,
  skipped: [],
  info: null,
  inputs: [],
  outputDims: [],
  fixed: new Map(),
});

/** Adds each row of `size` values of `data` into `sums` (float64, so 10,000 rows lose no precision). */
function sumRows(data: Float32Array, size: number, sums: Float64Array): void {
  for (let i = 0; i < data.length; i++) sums[i % size]! += data[i]!;
}

export class ModelRuntime {
  readonly models = new Map<string, ServedModel>();
  readonly classifiers = new Map<string, ServedClassifier>();
  defaultModel: string | null = null;
  /** Model versions handed out so far, by name. */
  private readonly versions = new Map<string, number>();
  /** Models not serving (failed, unloaded, never loaded) or changing state, by name. */
  private readonly activity = new Map<string, Activity>();
  /** Runs in flight per model version (`tiny`, `tiny#2`), and when the last one ended. */
  private readonly usage = new Map<string, { running: number; lastDone: number }>();
  private readonly operations = new Map<string, Promise<void>>();
  private readonly failedSignatures = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private pool: WorkerPool | null = null;
  private scheduler: Scheduler | null = null;
  private started = false;
  private closed = false;

  constructor(
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: Metrics,
  ) {}

  /** Read and validate every manifest. Throws StartupError with every problem unless broken models are skipped. */
  async scan(): Promise<ScanResult> {
    const scan = await scanModels(this.config.GAN_MODELS_DIR);
    const fatal = scan.problems.filter((p) => p.name === '' || !this.config.GAN_SKIP_BROKEN_MODELS);
    if (fatal.length > 0) throw new StartupError(fatal.map((p) => p.message).join('\n'));
    for (const p of scan.problems) this.log.error({ model: p.name }, `model unavailable: ${p.message}`);
    if (scan.models.length === 0 && this.config.GAN_MODEL_CONTROL !== 'explicit') {
      throw new StartupError(
        `${displayPath(this.config.GAN_MODELS_DIR)}: no models found (expected <name>/model.json beside its ONNX files; npm run import writes both)`,
      );
    }
    for (const entry of scan.classifiers) {
      this.classifiers.set(entry.name, {
        name: entry.name,
        entry,
        manifest: entry.manifest,
        status: 'loading',
        error: null,
        network: newState(entry.file),
      });
    }
    const explicit = this.config.GAN_MODEL_CONTROL === 'explicit';
    const wantedAtStart = new Set(this.config.GAN_LOAD_MODELS);
    for (const name of wantedAtStart) {
      if (explicit && !scan.models.some((m) => m.name === name))
        throw new StartupError(
          `GAN_LOAD_MODELS names '${name}' but ${displayPath(this.config.GAN_MODELS_DIR)} has no such model`,
        );
    }
    for (const entry of scan.models) {
      if (explicit && !wantedAtStart.has(entry.name)) {
        this.activity.set(entry.name, {
          state: 'UNAVAILABLE',
          reason: 'not loaded (GAN_MODEL_CONTROL=explicit)',
          version: 0,
        });
        continue;
      }
      const signature = await folderSignature(this.config.GAN_MODELS_DIR, entry.name);
      this.models.set(entry.name, this.served(entry, this.nextVersion(entry.name), signature));
    }
    for (const p of scan.problems) {
      if (p.name) this.activity.set(p.name, { state: 'UNAVAILABLE', reason: p.message, version: 0 });
    }
    const wanted = this.config.GAN_DEFAULT_MODEL;
    if (wanted !== undefined && !this.models.has(wanted) && this.config.GAN_MODEL_CONTROL !== 'explicit') {
      throw new StartupError(
        `GAN_DEFAULT_MODEL is '${wanted}' but ${displayPath(this.config.GAN_MODELS_DIR)} has ${[...this.models.keys()].join(', ')}`,
      );
    }
    const marked = [...this.models.values()].filter((m) => m.manifest.default).map((m) => m.name);
    if (wanted === undefined && marked.length > 1) {
      throw new StartupError(
        `models ${marked.join(', ')} each mark themselves as the default ("default": true); keep one, or set GAN_DEFAULT_MODEL`,
      );
    }
    this.defaultModel = wanted ?? marked[0] ?? [...this.models.keys()].sort()[0] ?? null;
    return scan;
  }

  private nextVersion(name: string): number {
    const v = (this.versions.get(name) ?? 0) + 1;
    this.versions.set(name, v);
    return v;
  }

  private served(entry: ModelEntry, version: number, signature: string): ServedModel {
    const classifier =
      [...this.classifiers.values()].find(
        (c) => c.status !== 'failed' && c.manifest.dataset === entry.manifest.dataset,
      ) ?? null;
    return {
      name: entry.name,
      entry,
      manifest: entry.manifest,
      status: 'loading',
      error: null,
      version,
      signature,
      unloading: false,
      generator: newState(entry.generatorFile),
      mapping: entry.mappingFile ? newState(entry.mappingFile) : null,
      discriminator: entry.discriminatorFile ? newState(entry.discriminatorFile) : null,
      wAvg: null,
      classifier,
    };
  }

  /** Load every session in the workers, check them against the manifests, and warm each network up. */
  async start(): Promise<void> {
    const specs: SessionSpec[] = [];
    for (const m of this.models.values()) specs.push(...this.specsOf(m));
    for (const c of this.classifiers.values())
      specs.push({ key: networkKey(c.name, 'classifier'), file: c.network.file });

    const { isolation, reason } = isolationFor(
      this.config.GAN_EXECUTION_PROVIDERS,
      this.config.GAN_WORKERS,
      this.config.GAN_WORKER_ISOLATION,
    );
    if (reason) this.log.warn(reason);
    const pool = new WorkerPool({
      size: this.config.GAN_WORKERS,
      providers: this.config.GAN_EXECUTION_PROVIDERS,
      threads: {
        intraOpThreads: this.config.GAN_INTRA_OP_THREADS,
        spinning: this.config.GAN_INTRA_OP_SPINNING,
      },
      isolation,
      log: this.log,
    });
    this.pool = pool;
    pool.on('crash', () => this.metrics.workerRestarts.inc());
    this.scheduler = new Scheduler(
      pool,
      {
        maxBatch: this.config.GAN_MAX_BATCH,
        batchDelayMs: this.config.GAN_BATCH_DELAY_MS,
        maxQueue: this.config.GAN_MAX_QUEUE,
        requestTimeoutMs: this.config.GAN_REQUEST_TIMEOUT_MS,
      },
      this.metrics,
    );
    const infos = new Map((await pool.start(specs)).map((i) => [i.key, i]));

    const failures: string[] = [];
    for (const c of this.classifiers.values()) {
      const key = networkKey(c.name, 'classifier');
      const problems = this.apply(c.network, infos.get(key), key);
      if (problems.length === 0) {
        problems.push(
          ...checkClassifier(c.manifest, c.network.info!).map(
            (p) => `${displayPath(c.entry.dir)}/classifier.json: ${p}`,
          ),
        );
      }
      if (problems.length === 0) problems.push(...(await this.warmUp(key, c.name, 'classifier')));
      this.settle(c, problems, failures);
    }
    for (const m of this.models.values()) {
      const started = performance.now();
      const problems = await this.prepare(m, infos);
      this.settle(m, problems, failures);
      this.recordLoad(m.name, m, problems, started);
    }
    if (failures.length > 0 && !this.config.GAN_SKIP_BROKEN_MODELS) {
      await this.close();
      throw new StartupError(failures.join('\n'));
    }
    if (
      ![...this.models.values()].some((m) => m.status === 'ready') &&
      this.config.GAN_MODEL_CONTROL !== 'explicit'
    ) {
      await this.close();
      throw new StartupError(`no model could be loaded:\n${failures.join('\n')}`);
    }
    for (const m of this.models.values()) {
      if (m.status === 'failed') {
        this.activity.set(m.name, {
          state: 'UNAVAILABLE',
          reason: m.error ?? 'failed to load',
          version: m.version,
        });
      }
    }
    this.pickDefault();
    this.started = true;
    this.reportStates();
    if (this.config.GAN_MODEL_CONTROL === 'poll') this.startPolling();
  }

  /** The networks' sessions of a model version. */
  private specsOf(m: ServedModel): SessionSpec[] {
    return this.networksOf(m).map(([network, state]) => ({ key: modelKey(m, network), file: state.file }));
  }

  /** Record a session's load report on its state; the problems it has. */
  private apply(state: NetworkState, info: SessionInfo | undefined, key: NetworkKey): string[] {
    if (!info) return [`${key}: no inference worker reported this session`];
    state.info = info;
    state.provider = info.provider;
    state.skipped = info.skipped;
    for (const s of info.skipped) {
      this.log.warn(
        { network: key, provider: s.provider },
        `execution provider ${s.provider} skipped: ${s.reason}`,
      );
    }
    if (info.error) return [`${displayPath(state.file)}: ${info.error}`];
    this.log.info({ network: key, provider: info.provider }, `${key} loaded on ${info.provider}`);
    return [];
  }

  /** Check a loaded model version's sessions against its manifest, warm each network up, find w_avg. */
  private async prepare(m: ServedModel, infos: ReadonlyMap<NetworkKey, SessionInfo>): Promise<string[]> {
    const networks = this.networksOf(m);
    const problems = networks.flatMap(([network, state]) => {
      const key = modelKey(m, network);
      return this.apply(state, infos.get(key), key);
    });
    if (problems.length === 0) {
      const at = `${displayPath(m.entry.dir)}/model.json`;
      for (const [network, state] of networks) {
        const check: NetworkCheck =
          network === 'generator'
            ? checkGenerator(m.manifest, state.info!)
            : network === 'mapping'
              ? checkMapping(m.manifest, state.info!)
              : checkDiscriminator(m.manifest, state.info!);
        problems.push(...check.problems.map((p) => `${at}: ${p}`));
        state.inputs = check.inputs;
        state.outputDims = check.outputDims;
        state.fixed = fixedTensors(check.inputs);
      }
    }
    if (problems.length === 0) {
      this.limitImageBatch(m);
      for (const [network] of networks)
        problems.push(...(await this.warmUp(modelKey(m, network), m.name, network, m)));
    }
    if (problems.length === 0 && m.mapping) problems.push(...(await this.loadWAverage(m)));
    if (m.classifier && m.classifier.status !== 'ready') m.classifier = null;
    return problems;
  }

  /** gan_model_info: each network of a model version with the execution provider it runs on, 1 while it serves. */
  private reportModelInfo(m: ServedModel, serving: boolean) {
    for (const [network, state] of this.networksOf(m)) {
      if (state.provider)
        this.metrics.modelInfo.set({ model: m.name, network, provider: state.provider }, serving ? 1 : 0);
    }
  }

  /** A load's outcome in the metrics; `served` is the version that now serves, if this load made one. */
  private recordLoad(name: string, served: ServedModel | null, problems: string[], started: number) {
    if (served) this.reportModelInfo(served, problems.length === 0);
    const outcome = problems.length === 0 ? 'success' : 'failure';
    this.metrics.modelLoads.inc({ model: name, outcome });
    this.metrics.modelLoadDuration.observe({ model: name }, (performance.now() - started) / 1000);
    this.reportStates();
  }

  /** gan_model_state: 1 for each model's current state, 0 for the others. */
  private reportStates() {
    for (const entry of this.listKnown()) {
      for (const state of ['READY', 'UNAVAILABLE', 'LOADING', 'UNLOADING'] as const)
        this.metrics.modelState.set({ model: entry.name, state }, entry.state === state ? 1 : 0);
    }
  }

  private isServing(name: string | null | undefined): name is string {
    if (name === null || name === undefined) return false;
    const m = this.models.get(name);
    return m !== undefined && m.status === 'ready' && !m.unloading;
  }

  /** The default model: the configured or marked one when serving, else the first serving model, else none. */
  private pickDefault() {
    if (this.isServing(this.defaultModel)) return;
    const configured = this.config.GAN_DEFAULT_MODEL;
    const marked = [...this.models.values()].find((m) => m.manifest.default)?.name;
    const candidates = [configured, marked, ...[...this.models.keys()].sort()];
    this.defaultModel = candidates.find((n) => this.isServing(n)) ?? this.defaultModel;
  }

  /** Every model the runtime knows of: serving, failed, loading, unloading, or seen in the folder only. */
  private listKnown(): RepositoryEntry[] {
    const out = new Map<string, RepositoryEntry>();
    for (const [name, a] of this.activity) {
      out.set(name, {
        name,
        version: a.version > 0 ? String(a.version) : '',
        state: a.state,
        reason: a.reason,
      });
    }
    for (const m of this.models.values()) {
      const pending = this.activity.get(m.name);
      let state: RepositoryState = m.unloading ? 'UNLOADING' : m.status === 'ready' ? 'READY' : 'UNAVAILABLE';
      // A reload in progress or one that failed leaves this version serving; the index says what happened to it.
      let reason = state === 'UNAVAILABLE' ? (m.error ?? '') : '';
      if (state === 'READY' && pending?.state === 'UNAVAILABLE')
        reason = `serving version ${m.version}; version ${pending.version} failed: ${pending.reason}`;
      if (state === 'READY' && pending?.state === 'LOADING') reason = `loading version ${pending.version}`;
      if (m.unloading) state = 'UNLOADING';
      out.set(m.name, { name: m.name, version: String(m.version), state, reason });
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The repository index (Triton's `POST /v2/repository/index`): every model folder in GAN_MODELS_DIR and every
   * model served, with its version, state and the reason it is not serving.
   */
  async index(): Promise<RepositoryEntry[]> {
    const known = new Map(this.listKnown().map((e) => [e.name, e]));
    for (const name of (await listFolders(this.config.GAN_MODELS_DIR)) ?? []) {
      if (known.has(name) || this.classifiers.has(name)) continue;
      known.set(name, { name, version: '', state: 'UNAVAILABLE', reason: 'not loaded' });
    }
    return [...known.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Operations on one model run one at a time, in order. */
  private serially<T>(name: string, op: () => Promise<T>): Promise<T> {
    const previous = this.operations.get(name) ?? Promise.resolve();
    const next = previous.then(op, op);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.operations.set(name, settled);
    void settled.then(() => {
      if (this.operations.get(name) === settled) this.operations.delete(name);
    });
    return next;
  }

  /**
   * Load a model from its folder, or reload it: the new version is loaded in every worker, checked and warmed up
   * beside the old one, then swapped in; requests queued or running on the old version finish on it, and its
   * sessions are released once nothing uses them. A load that fails leaves the old version serving.
   * @returns the problems, empty when the model serves the new version
   */
  load(name: string): Promise<string[]> {
    return this.serially(name, async () => {
      if (!this.started || this.closed || !this.pool)
        throw new ServiceError('GAN_ERR_NOT_READY', 'the runtime is not running', undefined, {
          retryAfter: 1,
        });
      const started = performance.now();
      const root = this.config.GAN_MODELS_DIR;
      const found = await scanFolder(root, name);
      const old = this.models.get(name);
      const version = this.nextVersion(name);
      const fail = (problems: string[]) => {
        const reason = problems.join('; ');
        this.activity.set(name, { state: 'UNAVAILABLE', reason, version });
        this.log.error({ model: name, version }, `model ${old ? 'reload' : 'load'} failed: ${reason}`);
        this.recordLoad(name, null, problems, started);
        return problems;
      };
      if (!found.model)
        return fail([found.problem?.message ?? `${displayPath(root)}/${name}: not a model folder`]);
      this.activity.set(name, { state: 'LOADING', reason: '', version });
      this.reportStates();
      const m = this.served(found.model, version, await folderSignature(root, name));
      const specs = this.specsOf(m);
      const infos = new Map((await this.pool.add(specs)).map((i) => [i.key, i]));
      const problems = await this.prepare(m, infos);
      if (problems.length > 0) {
        await this.pool.remove(specs.map((s) => s.key));
        return fail(problems);
      }
      m.status = 'ready';
      this.models.set(name, m);
      this.activity.delete(name);
      this.pickDefault();
      this.log.info(
        { model: name, version },
        `model ${name} version ${version} ${old ? 'reloaded' : 'loaded'}`,
      );
      this.recordLoad(name, m, [], started);
      if (old) await this.retire(old);
      return [];
    });
  }

  /**
   * Unload a model: new requests get 503 while it unloads and 404 after; requests already running finish; its
   * sessions are released in every worker.
   */
  unload(name: string): Promise<void> {
    return this.serially(name, async () => {
      const m = this.models.get(name);
      if (!m) throw new ServiceError('GAN_ERR_MODEL_NOT_FOUND', `no model named '${name}' is loaded`, 'name');
      const started = performance.now();
      m.unloading = true;
      this.activity.set(name, { state: 'UNLOADING', reason: '', version: m.version });
      this.pickDefault();
      this.reportStates();
      await this.retire(m);
      this.reportModelInfo(m, false);
      if (this.models.get(name) === m) this.models.delete(name);
      this.activity.set(name, { state: 'UNAVAILABLE', reason: 'unloaded', version: m.version });
      if (this.defaultModel === name) this.defaultModel = null;
      this.pickDefault();
      this.metrics.modelUnloads.inc({ model: name });
      this.metrics.modelUnloadDuration.observe({ model: name }, (performance.now() - started) / 1000);
      this.reportStates();
      this.log.info({ model: name, version: m.version }, `model ${name} unloaded`);
    });
  }

  /** Wait until no run uses a model version (none running, none for RETIRE_QUIET_MS), then release its sessions. */
  private async retire(m: ServedModel): Promise<void> {
    const prefix = keyPrefix(modelKey(m, 'generator'));
    const deadline = performance.now() + this.config.GAN_SHUTDOWN_TIMEOUT_MS;
    for (;;) {
      const use = this.usage.get(prefix);
      const idleFor = use ? performance.now() - use.lastDone : Number.POSITIVE_INFINITY;
      if ((!use || use.running === 0) && idleFor >= RETIRE_QUIET_MS) break;
      if (performance.now() > deadline) {
        this.log.warn(
          { model: m.name, version: m.version },
          'releasing a model version with work still running',
        );
        break;
      }
      const wait = use && use.running > 0 ? 20 : Math.max(1, RETIRE_QUIET_MS - idleFor);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.usage.delete(prefix);
    await this.pool?.remove(this.specsOf(m).map((s) => s.key));
  }

  /**
   * Poll mode: every GAN_POLL_SECONDS, new folders load, changed ones (a file replaced) reload, removed ones unload.
   * A version that failed is not retried until its files change again.
   */
  private startPolling() {
    const every = this.config.GAN_POLL_SECONDS * 1000;
    const tick = async () => {
      if (this.closed) return;
      try {
        await this.poll();
      } catch (err) {
        this.log.error({ err }, 'polling the model repository failed');
      }
      if (!this.closed) this.pollTimer = setTimeout(tick, every).unref();
    };
    this.pollTimer = setTimeout(tick, every).unref();
  }

  /** One look at the repository, as poll mode takes every GAN_POLL_SECONDS. */
  async poll(): Promise<void> {
    const root = this.config.GAN_MODELS_DIR;
    const folders = (await listFolders(root)) ?? [];
    const present = new Set(folders);
    for (const name of folders) {
      if (this.classifiers.has(name)) continue;
      const signature = await folderSignature(root, name);
      const current = this.models.get(name);
      if (current && current.signature === signature) continue;
      if (this.failedSignatures.get(name) === signature) continue;
      const problems = await this.load(name);
      if (problems.length > 0) this.failedSignatures.set(name, signature);
      else this.failedSignatures.delete(name);
    }
    for (const name of [...this.models.keys()]) {
      if (!present.has(name)) await this.unload(name);
    }
  }

  private settle(
    target: { name: string; status: ModelStatus; error: string | null },
    problems: string[],
    all: string[],
  ) {
    if (problems.length > 0) {
      target.status = 'failed';
      target.error = problems.join('; ');
      all.push(...problems);
      this.log.error({ model: target.name }, `model unavailable: ${target.error}`);
    } else {
      target.status = 'ready';
    }
  }

  /** One zero-input run per network, so the first real request doesn't pay for allocation and JIT. */
  private async warmUp(
    key: NetworkKey,
    name: string,
    network: Network,
    model?: ServedModel,
  ): Promise<string[]> {
    try {
      const request = this.zeroRequest(key, name, network, model);
      const result = await this.scheduler!.submit(request);
      const problems: string[] = [];
      for (const [outName, t] of Object.entries(result.outputs)) {
        if (t.dims[0] !== 1)
          problems.push(`${key}: warm-up output '${outName}' has batch ${t.dims[0]}, expected 1`);
      }
      return problems;
    } catch (err) {
      return [`${key}: warm-up run failed: ${(err as Error).message}`];
    }
  }

  private zeroRequest(key: NetworkKey, name: string, network: Network, model?: ServedModel): NetworkRequest {
    if (network === 'classifier') {
      const c = this.classifiers.get(name)!;
      const img = c.manifest.image;
      return {
        key,
        model: name,
        network,
        rows: 1,
        inputs: {
          [c.manifest.input]: {
            type: 'float32',
            data: new Float32Array(img.width * img.height * img.channels),
            rowDims: imageRowDims(c.manifest.inputLayout, img),
          },
        },
        outputs: [c.manifest.output, c.manifest.features],
      };
    }
    const m = model ?? this.models.get(name)!;
    const state = this.networkState(m, network);
    const rowOf = (role: 'latent' | 'w-latent' | 'image') => {
      const dims = state.inputs.find((i) => i.spec.role === role)?.dims;
      return dims ? new Float32Array(dims.reduce((a, b) => a * b, 1)) : undefined;
    };
    const feeds = feedsFor(
      state.inputs,
      { rows: 1, latents: rowOf('latent'), ws: rowOf('w-latent'), images: rowOf('image'), labels: [0] },
      m.manifest.numClasses,
      state.fixed,
    );
    const output =
      network === 'generator'
        ? m.manifest.generator.output
        : network === 'mapping'
          ? m.manifest.mapping!.output
          : m.manifest.discriminator!.output;
    return { key, model: name, network, rows: 1, ...feeds, outputs: [output] };
  }

  /** The networks a model loads, generator first. */
  private networksOf(m: ServedModel): Array<[Network, NetworkState]> {
    const out: Array<[Network, NetworkState]> = [['generator', m.generator]];
    if (m.mapping) out.push(['mapping', m.mapping]);
    if (m.discriminator) out.push(['discriminator', m.discriminator]);
    return out;
  }

  private networkState(m: ServedModel, network: Network): NetworkState {
    const state = network === 'generator' ? m.generator : network === 'mapping' ? m.mapping : m.discriminator;
    if (!state) throw new Error(`model '${m.name}' has no ${network}`);
    return state;
  }

  /** Batches of a model's image networks stay under GAN_MAX_BATCH_PIXELS (a 1024 px model gets small batches). */
  private limitImageBatch(m: ServedModel) {
    const { width, height } = m.manifest.image;
    const max = Math.max(1, Math.floor(this.config.GAN_MAX_BATCH_PIXELS / (width * height)));
    if (max >= this.config.GAN_MAX_BATCH) return;
    this.scheduler!.limitBatch(modelKey(m, 'generator'), max);
    if (m.discriminator) this.scheduler!.limitBatch(modelKey(m, 'discriminator'), max);
    this.log.info({ model: m.name }, `batches of ${m.name} capped at ${max} images (GAN_MAX_BATCH_PIXELS)`);
  }

  /**
   * The mapping network's average w: read from the manifest's `.npy` file, or estimated once here as the mean w of
   * `wAvgSamples` seeded z's (seeds 0, 1, …; class i mod numClasses for a conditional mapping).
   */
  private async loadWAverage(m: ServedModel): Promise<string[]> {
    const map = m.manifest.mapping!;
    const state = m.mapping!;
    const rowSize = state.outputDims.reduce((a, b) => a * b, 1);
    const wSize = state.outputDims[state.outputDims.length - 1] ?? rowSize;
    if (m.entry.wAvgFile) {
      try {
        const npy = await readNpy(m.entry.wAvgFile);
        let data = npy.data;
        if (data.length === wSize && rowSize !== wSize) {
          data = new Float32Array(rowSize);
          for (let r = 0; r < rowSize / wSize; r++) data.set(npy.data, r * wSize);
        }
        if (data.length !== rowSize) {
          return [
            `${displayPath(m.entry.wAvgFile)}: w_avg has shape [${npy.shape}] but the mapping network gives rows of [${state.outputDims}]`,
          ];
        }
        m.wAvg = { data, source: 'file', file: map.wAvg, samples: null };
        return [];
      } catch (err) {
        return [`${displayPath(m.entry.wAvgFile)}: ${(err as Error).message}`];
      }
    }
    const started = performance.now();
    const total = map.wAvgSamples;
    const sums = new Float64Array(rowSize);
    const classes = m.manifest.numClasses;
    try {
      for (let from = 0; from < total; from += W_AVG_BATCH) {
        const rows = Math.min(W_AVG_BATCH, total - from);
        const seeds = Array.from({ length: rows }, (_, i) => from + i);
        const feeds = feedsFor(
          state.inputs,
          {
            rows,
            latents: latentsForSeeds(seeds, m.manifest.latentDim),
            labels: classes === null ? null : seeds.map((s) => s % classes),
          },
          classes,
          state.fixed,
        );
        const result = await this.scheduler!.submit({
          key: modelKey(m, 'mapping'),
          model: m.name,
          network: 'mapping',
          rows,
          ...feeds,
          outputs: [map.output],
        });
        sumRows(result.outputs[map.output]!.data as Float32Array, rowSize, sums);
      }
    } catch (err) {
      return [`${modelKey(m, 'mapping')}: estimating w_avg failed: ${(err as Error).message}`];
    }
    m.wAvg = {
      data: Float32Array.from(sums, (v) => v / total),
      source: 'estimated',
      file: null,
      samples: total,
    };
    this.log.info(
      { model: m.name, samples: total, ms: Math.round(performance.now() - started) },
      `w_avg of ${m.name} estimated from ${total} seeded z's`,
    );
    return [];
  }

  get ready(): boolean {
    return (
      this.started && !this.closed && this.pool !== null && this.pool.readyCount === this.pool.workers.length
    );
  }

  get workerStatus(): { ready: number; total: number } {
    return { ready: this.pool?.readyCount ?? 0, total: this.pool?.workers.length ?? 0 };
  }

  get busy(): boolean {
    return this.scheduler?.busy ?? false;
  }

  /** The pool, for tests that kill a worker on purpose. */
  get workerPool(): WorkerPool | null {
    return this.pool;
  }

  /** A served model by name (or the default), ready to run; 404 or 503 otherwise. */
  model(name: string | undefined, field = 'model'): ServedModel {
    const wanted = name ?? this.defaultModel;
    const m = wanted === null ? undefined : this.models.get(wanted);
    if (!m) {
      throw new ServiceError('GAN_ERR_MODEL_NOT_FOUND', `no model named '${wanted}'`, field);
    }
    if (!this.started)
      throw new ServiceError('GAN_ERR_NOT_READY', 'models are still loading', undefined, { retryAfter: 1 });
    if (m.status !== 'ready') {
      throw new ServiceError('GAN_ERR_MODEL_UNAVAILABLE', `model '${m.name}' is unavailable`, field);
    }
    if (m.unloading) {
      throw new ServiceError('GAN_ERR_MODEL_UNAVAILABLE', `model '${m.name}' is unloading`, field, {
        retryAfter: 1,
      });
    }
    return m;
  }

  async run(request: NetworkRequest): Promise<NetworkResult> {
    if (this.closed || !this.scheduler) {
      throw new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
        retryAfter: 1,
      });
    }
    const prefix = keyPrefix(request.key);
    let use = this.usage.get(prefix);
    if (!use) {
      use = { running: 0, lastDone: 0 };
      this.usage.set(prefix, use);
    }
    use.running++;
    try {
      const result = await this.scheduler.submit(request);
      this.metrics.images.inc({ model: request.model, network: request.network }, request.rows);
      return result;
    } finally {
      use.running--;
      use.lastDone = performance.now();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pollTimer);
    await this.pool?.close();
  }
}
