/**
 * Every setting of the service, one zod schema. `loadConfig(env)` is pure and fails fast with the variable's name;
 * only `src/server.ts` passes it `process.env`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const EXECUTION_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);

/** Defaults measured on the 2-core reference machine (docs/benchmarks.md, docs/benchmarks-sweep.md). */
const cores = availableParallelism();

export const configSchema = z.object({
  GAN_HOST: z.string().default('0.0.0.0'),
  GAN_PORT: int(0, 65535).default(8080),
  /** Port of the Open Inference Protocol's gRPC service (inference.GRPCInferenceService); 0 = off. */
  GAN_GRPC_PORT: int(0, 65535).default(0),
  GAN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GAN_MODELS_DIR: z.string().min(1).default('./models'),
  GAN_DEFAULT_MODEL: z.string().min(1).optional(),
  /** Start even when a model fails to load, reporting it unavailable, instead of refusing to start. */
  GAN_SKIP_BROKEN_MODELS: bool.default(false),
  GAN_EXECUTION_PROVIDERS: list
    .pipe(z.array(z.enum(EXECUTION_PROVIDERS)).min(1, 'at least one provider'))
    .default(['cuda', 'cpu']),
  /**
   * Inference workers; each holds its own sessions. One per core (at most 4, since every worker holds every
   * session): on 2 cores two 1-thread workers ran the generator at batch 64 at 1.6–2.4× one 2-thread session
   * (docs/benchmarks.md), and served as well as one worker through HTTP (docs/benchmarks-sweep.md).
   */
  GAN_WORKERS: int(1, 64).default(Math.max(1, Math.min(cores, 4))),
  /**
   * thread: workers are threads, tensors move without copies. process: workers are child processes, so a native
   * crash or OOM kill in onnxruntime takes down only that worker (tensors are copied through IPC).
   */
  GAN_WORKER_ISOLATION: z.enum(['thread', 'process']).default('thread'),
  /**
   * onnxruntime intra-op threads per session; 0 lets onnxruntime choose. 1: every 2-thread setting served less
   * than every 1-thread one, since these small graphs gain nothing from a second thread and the event loop needs a
   * core too (docs/benchmarks-sweep.md).
   */
  GAN_INTRA_OP_THREADS: int(0, 256).default(1),
  /**
   * Idle intra-op threads spin-wait (onnxruntime's default) instead of sleeping. Off: spinning threads took the
   * cores the event loop needed (c64 requests/s −19% at 1 worker × 2 threads in the first sweep, −28% in the
   * second; with 1 thread there is nothing to spin).
   */
  GAN_INTRA_OP_SPINNING: bool.default(false),
  GAN_MAX_BATCH: int(1, 4096).default(64),
  GAN_BATCH_DELAY_MS: int(0, 10_000).default(0),
  /** Images waiting per model before new work is refused with 503. */
  GAN_MAX_QUEUE: int(1, 1_000_000).default(2048),
  /** A request still queued after this long gets 504. */
  GAN_REQUEST_TIMEOUT_MS: int(1, 3_600_000).default(30_000),
  /** Largest request body accepted (JSON, image or multipart), bytes. */
  GAN_BODY_LIMIT_BYTES: int(1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Largest decoded image, in pixels (width × height): decompression bombs stop here. */
  GAN_MAX_IMAGE_PIXELS: int(1, 268_402_689).default(16_777_216),
  /** Most images per /discriminate request. */
  GAN_MAX_IMAGES_PER_REQUEST: int(1, 4096).default(256),
  /** Node's limit on receiving one whole request (headers and body); slow uploads are cut off. */
  GAN_HTTP_REQUEST_TIMEOUT_MS: int(0, 3_600_000).default(60_000),
  /** Idle keep-alive connections are closed after this long. */
  GAN_KEEP_ALIVE_TIMEOUT_MS: int(0, 3_600_000).default(5_000),
  GAN_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  /** Comma-separated API keys; when set, inference routes need `Authorization: Bearer <key>`. */
  GAN_API_KEYS: list.default([]),
  /** Comma-separated allowed CORS origins (`*` for any); empty disables CORS. */
  GAN_CORS_ORIGINS: list.default([]),
  /** Requests per minute per client IP on inference routes; 0 disables rate limiting. */
  GAN_RATE_LIMIT_PER_MINUTE: int(0, 10_000_000).default(0),
  /**
   * Most candidates per image that discriminator rejection sampling (`rejection` in /generate and the diagnostics)
   * may draw: each costs a generator and a discriminator row, so a request costs up to this many times a plain one.
   */
  GAN_MAX_OVERSAMPLE: int(1, 64).default(8),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse the `GAN_*` variables; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('GAN_') && v !== undefined && v !== ''),
  );
  const result = configSchema.safeParse(relevant);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const unknown = Object.keys(relevant).filter((k) => !(k in configSchema.shape));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  }
  const config = result.data;
  if (config.GAN_MAX_QUEUE < config.GAN_MAX_BATCH) {
    throw new ConfigError(
      `GAN_MAX_QUEUE (${config.GAN_MAX_QUEUE}) must be at least GAN_MAX_BATCH (${config.GAN_MAX_BATCH}), or batches never fill`,
    );
  }
  if (config.GAN_GRPC_PORT !== 0 && config.GAN_GRPC_PORT === config.GAN_PORT) {
    throw new ConfigError(
      `GAN_GRPC_PORT and GAN_PORT are both ${config.GAN_PORT}; gRPC needs a port of its own`,
    );
  }
  return config;
}

/** Configuration for tests and tools: defaults plus overrides. */
export function testConfig(overrides: Partial<Record<keyof Config, string>> = {}): Config {
  return loadConfig({
    GAN_LOG_LEVEL: 'silent',
    GAN_EXECUTION_PROVIDERS: 'cpu',
    GAN_WORKERS: '1',
    ...overrides,
  });
}
