/**
 * The model runtime: scans the repository, starts the worker pool with every network's session, checks each
 * session against its manifest, warms each up with one run, and runs batched requests through the scheduler.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config, ExecutionProvider } from '../config.ts';
import { ServiceError } from '../errors.ts';
import { latentsForSeeds } from '../latent/random-state.ts';
import type { Metrics } from '../metrics.ts';
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
  type ModelEntry,
  type ScanResult,
  scanModels,
} from '../models/repository.ts';
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
        mapping: entry.mappingFile ? newState(entry.mappingFile) : null,
        discriminator: entry.discriminatorFile ? newState(entry.discriminatorFile) : null,
        wAvg: null,
        classifier,
      });
    }
    const wanted = this.config.GAN_DEFAULT_MODEL;
    if (wanted !== undefined && !this.models.has(wanted)) {
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
    this.defaultModel = wanted ?? marked[0] ?? [...this.models.keys()].sort()[0]!;
    return scan;
  }

  /** Load every session in the workers, check them against the manifests, and warm each network up. */
  async start(): Promise<void> {
    const specs: SessionSpec[] = [];
    for (const m of this.models.values()) {
      for (const [network, state] of this.networksOf(m))
        specs.push({ key: networkKey(m.name, network), file: state.file });
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
      const networks = this.networksOf(m);
      const problems = networks.flatMap(([network, state]) => {
        const key = networkKey(m.name, network);
        return apply(state, key, key);
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
          problems.push(...(await this.warmUp(networkKey(m.name, network), m.name, network)));
      }
      if (problems.length === 0 && m.mapping) problems.push(...(await this.loadWAverage(m)));
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
    this.scheduler!.limitBatch(networkKey(m.name, 'generator'), max);
    if (m.discriminator) this.scheduler!.limitBatch(networkKey(m.name, 'discriminator'), max);
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
          key: networkKey(m.name, 'mapping'),
          model: m.name,
          network: 'mapping',
          rows,
          ...feeds,
          outputs: [map.output],
        });
        sumRows(result.outputs[map.output]!.data as Float32Array, rowSize, sums);
      }
    } catch (err) {
      return [`${networkKey(m.name, 'mapping')}: estimating w_avg failed: ${(err as Error).message}`];
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
