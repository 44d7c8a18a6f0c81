/**
 * Every setting of the service, one zod schema. `loadConfig(env)` is pure and fails fast with the variable's name;
 * only `src/server.ts` passes it `process.env`.
 */
import { isIP } from 'node:net';
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

const TRUST_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * GAN_TRUST_PROXY: `true`/`false`, a hop count, or a list of addresses, CIDR ranges and proxy-addr's names, as
 * Fastify's `trustProxy` takes them.
 */
const trustProxy = z.string().transform((s, ctx): boolean | number | string[] => {
  const v = s.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v) === 0 ? false : Number(v);
  const entries = list.parse(s);
  const bad = entries.find((e) => !TRUST_NAMES.has(e) && !isAddressOrRange(e));
  if (bad !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `'${bad}' is not true, false, a hop count, an address, a CIDR range or ${[...TRUST_NAMES].join('/')}`,
    });
    return z.NEVER;
  }
  return entries;
});

function isAddressOrRange(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

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
  /**
   * How models load (Triton's model control modes): none loads every model at start; explicit loads GAN_LOAD_MODELS
   * at start and the rest only through the repository API; poll also watches GAN_MODELS_DIR every GAN_POLL_SECONDS
   * (new folders load, changed ones reload, removed ones unload). The repository API works in every mode.
   */
  GAN_MODEL_CONTROL: z.enum(['none', 'explicit', 'poll']).default('none'),
  /** Models to load at start with GAN_MODEL_CONTROL=explicit (comma-separated names). */
  GAN_LOAD_MODELS: list.default([]),
  /** Seconds between looks at GAN_MODELS_DIR with GAN_MODEL_CONTROL=poll. */
  GAN_POLL_SECONDS: int(1, 86_400).default(15),
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
  /**
   * Most pixels (count × width × height) one /generate, /interpolate or grid request may ask for: 413 past it. The
   * default allows 256 digits, 64 images of 256×256 or 16 of 1024×1024.
   */
  GAN_MAX_REQUEST_PIXELS: int(1, 1 << 30).default(16_777_216),
  /**
   * Most pixels in one onnxruntime batch of a model's generator or discriminator: a model of H×W pixels gets batches
   * of at most ⌊this ÷ (H × W)⌋ images (and GAN_MAX_BATCH), so a 1024 px model cannot be batched into exhaustion.
   */
  GAN_MAX_BATCH_PIXELS: int(1, 1 << 30).default(4_194_304),
  /**
   * Most images one POST /generate/stream may ask for. The stream holds at most two batches at a time whatever the
   * count, so this bounds how long one client can keep a share of the workers, not memory. Up to 2^32: every seed.
   */
  GAN_MAX_STREAM_COUNT: int(1, 2 ** 32).default(1_000_000),
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
   * Which proxies' X-Forwarded-For to believe for the client's address (rate limits, logs): `false` (none: the
   * socket's peer is the client), `true` (any), a hop count, or comma-separated addresses and CIDR ranges (also
   * `loopback`, `linklocal`, `uniquelocal`). Behind a proxy without it, every client shares the proxy's bucket.
   */
  GAN_TRUST_PROXY: trustProxy.default(false),
  /**
   * What GAN_API_KEYS protects: `inference` (the routes that run models) or `all` (also /metrics, /openapi.json,
   * /docs and /v1/models; liveness and readiness probes and the playground's static files stay open).
   */
  GAN_API_KEYS_SCOPE: z.enum(['inference', 'all']).default('inference'),
  /** Longest side of an uploaded image, pixels: decode time grows with rows, so a 1 × 16M image costs seconds. */
  GAN_MAX_IMAGE_SIDE: int(1, 65_535).default(8192),
  /**
   * Most an upload's aspect ratio may differ from the model's, as a factor (a 28×28 model takes 8:1 at most):
   * thin strips cost far more to decode and resize than their pixel count says and carry nothing the model can use.
   */
  GAN_MAX_IMAGE_ASPECT_RATIO: z.coerce.number().min(1).max(65_535).default(8),
  /**
   * Most pixels decoded for one request, summed over its images (413 past it, before any is decoded): two
   * 4096×4096 images, or 42 of 1024×768. A 4096×4096 GIF takes ~0.65 s of CPU to decode and resize.
   */
  GAN_MAX_DECODE_PIXELS: int(1, 1 << 30).default(33_554_432),
  /**
   * Images decoded at once across all requests. sharp decodes on libuv's thread pool (4 threads unless
   * UV_THREADPOOL_SIZE says otherwise), which static files, zlib and DNS share: 2 leaves them room.
   */
  GAN_DECODE_CONCURRENCY: int(1, 1024).default(2),
  /** Largest JSON response body, bytes (400 GAN_ERR_RESPONSE_TOO_LARGE past it): ask for fewer rows or PNG. */
  GAN_MAX_RESPONSE_BYTES: int(1024, 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  /**
   * Diagnostics samples running at once across all requests (a 10,000-sample run takes seconds of every worker);
   * a run that would pass it gets 503 with Retry-After. Repeat requests share a running or cached run for free.
   */
  GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT: int(100, 10_000_000).default(10_000),
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
