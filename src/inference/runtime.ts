/**
 * The model runtime: scans the repository, starts the worker pool with every network's session, checks each
 * session against its manifest, warms each up with one run, and runs batched requests through the scheduler.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config, ExecutionProvider } from '../config.ts';
import { ServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { type ClassifierManifest, imageRowDims, type Manifest } from '../models/manifest.ts';
import { checkClassifier, checkDiscriminator, checkGenerator } from '../models/metadata-check.ts';
import {
  type ClassifierEntry,
  displayPath,
  type ModelEntry,
  type ScanResult,
  scanModels,
} from '../models/repository.ts';
import type { NetworkKey, SessionInfo, SessionSpec, TensorData, TensorType } from './protocol.ts';
import { type NetworkRequest, type NetworkResult, Scheduler } from './scheduler.ts';
import { isolationFor } from './worker-handle.ts';
import { WorkerPool } from './worker-pool.ts';

export type Network = 'generator' | 'discriminator' | 'classifier';
export type ModelStatus = 'loading' | 'ready' | 'failed';

export interface NetworkState {
  file: string;
  provider: ExecutionProvider | null;
  skipped: Array<{ provider: ExecutionProvider; reason: string }>;
  info: SessionInfo | null;
}

export interface ServedModel {
  name: string;
  entry: ModelEntry;
  manifest: Manifest;
  status: ModelStatus;
  error: string | null;
  generator: NetworkState;
  discriminator: NetworkState;
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

const newState = (file: string): NetworkState => ({ file, provider: null, skipped: [], info: null });

export function makeLabelTensor(labels: readonly number[], dtype: TensorType): TensorData {
  if (dtype === 'int64') return BigInt64Array.from(labels, (l) => BigInt(l));
  if (dtype === 'int32') return Int32Array.from(labels);
  return Float32Array.from(labels);
}

/** Row dims for a label input of rank 1 ([N]) or 2 ([N, 1]). */
export function labelRowDims(info: SessionInfo | null, input: string): number[] {
  const shape = info?.inputs.find((i) => i.name === input)?.shape;
  return shape && shape.length === 1 ? [] : [1];
}

/** A label input for a network, in the dtype and rank its session takes. */
export function labelFeed(
  labels: readonly number[],
  dtype: TensorType,
  info: SessionInfo | null,
  input: string,
) {
  return { type: dtype, data: makeLabelTensor(labels, dtype), rowDims: labelRowDims(info, input) };
}

export class ModelRuntime {
  readonly models = new Map<string, ServedModel>();
  readonly classifiers = new Map<string, ServedClassifier>();
  defaultModel: string | null = null;
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
    if (scan.models.length === 0) {
      throw new StartupError(
        `${displayPath(this.config.GAN_MODELS_DIR)}: no models found (expected <name>/model.json with generator.onnx and discriminator.onnx)`,
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
    for (const entry of scan.models) {
      const classifier =
        [...this.classifiers.values()].find((c) => c.manifest.dataset === entry.manifest.dataset) ?? null;
      this.models.set(entry.name, {
        name: entry.name,
        entry,
        manifest: entry.manifest,
        status: 'loading',
        error: null,
        generator: newState(entry.generatorFile),
        discriminator: newState(entry.discriminatorFile),
        classifier,
      });
    }
    const wanted = this.config.GAN_DEFAULT_MODEL;
    if (wanted !== undefined && !this.models.has(wanted)) {
      throw new StartupError(
        `GAN_DEFAULT_MODEL is '${wanted}' but ${displayPath(this.config.GAN_MODELS_DIR)} has ${[...this.models.keys()].join(', ')}`,
      );
    }
    this.defaultModel = wanted ?? [...this.models.keys()].sort()[0]!;
    return scan;
  }

  /** Load every session in the workers, check them against the manifests, and warm each network up. */
  async start(): Promise<void> {
    const specs: SessionSpec[] = [];
    for (const m of this.models.values()) {
      specs.push({ key: networkKey(m.name, 'generator'), file: m.generator.file });
      specs.push({ key: networkKey(m.name, 'discriminator'), file: m.discriminator.file });
    }
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

    const apply = (state: NetworkState, key: NetworkKey, label: string): string[] => {
      const info = infos.get(key)!;
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
      this.log.info({ network: key, provider: info.provider }, `${label} loaded on ${info.provider}`);
      return [];
    };
    const failures: string[] = [];
    for (const c of this.classifiers.values()) {
      const key = networkKey(c.name, 'classifier');
      const problems = apply(c.network, key, key);
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
      const gKey = networkKey(m.name, 'generator');
      const dKey = networkKey(m.name, 'discriminator');
      const problems = [...apply(m.generator, gKey, gKey), ...apply(m.discriminator, dKey, dKey)];
      if (problems.length === 0) {
        const at = `${displayPath(m.entry.dir)}/model.json`;
        problems.push(...checkGenerator(m.manifest, m.generator.info!).map((p) => `${at}: ${p}`));
        problems.push(...checkDiscriminator(m.manifest, m.discriminator.info!).map((p) => `${at}: ${p}`));
      }
      if (problems.length === 0) {
        problems.push(...(await this.warmUp(gKey, m.name, 'generator')));
        problems.push(...(await this.warmUp(dKey, m.name, 'discriminator')));
      }
      if (m.classifier && m.classifier.status !== 'ready') m.classifier = null;
      this.settle(m, problems, failures);
    }
    if (failures.length > 0 && !this.config.GAN_SKIP_BROKEN_MODELS) {
      await this.close();
      throw new StartupError(failures.join('\n'));
    }
    if (![...this.models.values()].some((m) => m.status === 'ready')) {
      await this.close();
      throw new StartupError(`no model could be loaded:\n${failures.join('\n')}`);
    }
    if (this.models.get(this.defaultModel!)?.status !== 'ready') {
      this.defaultModel = [...this.models.values()].find((m) => m.status === 'ready')!.name;
    }
    this.started = true;
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
  private async warmUp(key: NetworkKey, name: string, network: Network): Promise<string[]> {
    try {
      const request = this.zeroRequest(key, name, network);
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

  private zeroRequest(key: NetworkKey, name: string, network: Network): NetworkRequest {
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
    const m = this.models.get(name)!;
    const img = m.manifest.image;
    const inputs: NetworkRequest['inputs'] = {};
    let outputs: string[];
    let state: NetworkState;
    if (network === 'generator') {
      const g = m.manifest.generator;
      state = m.generator;
      inputs[g.latentInput] = {
        type: 'float32',
        data: new Float32Array(m.manifest.latentDim),
        rowDims: [m.manifest.latentDim],
      };
      if (g.labelInput) {
        inputs[g.labelInput] = labelFeed([0], g.labelDtype, state.info, g.labelInput);
      }
      outputs = [g.output];
    } else {
      const d = m.manifest.discriminator;
      state = m.discriminator;
      inputs[d.input] = {
        type: 'float32',
        data: new Float32Array(img.width * img.height * img.channels),
        rowDims: imageRowDims(d.inputLayout, img),
      };
      if (d.labelInput) {
        inputs[d.labelInput] = labelFeed([0], d.labelDtype, state.info, d.labelInput);
      }
      outputs = [d.output];
    }
    return { key, model: name, network, rows: 1, inputs, outputs };
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
    return m;
  }

  async run(request: NetworkRequest): Promise<NetworkResult> {
    if (this.closed || !this.scheduler) {
      throw new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
        retryAfter: 1,
      });
    }
    const result = await this.scheduler.submit(request);
    this.metrics.images.inc({ model: request.model, network: request.network }, request.rows);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.close();
  }
}
