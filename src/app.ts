/**
 * Builds the Fastify app: plugins, error handling, metrics, routes. Never listens (src/server.ts does), so
 * tests drive it with `app.inject()`.
 */
import { createServer, type ServerOptions } from 'node:http';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Config } from './config.ts';
import {
  answerClientError,
  installErrorHandler,
  ServiceError,
  sendErrorFor,
  toServiceError,
} from './errors.ts';
import { installGrpc } from './grpc/server.ts';
import type { ModelRuntime } from './inference/runtime.ts';
import { access } from './plugins/access.ts';
import { bodyGuard } from './plugins/body-guard.ts';
import { modelRuntime } from './plugins/model-runtime.ts';
import { securityHeaders } from './plugins/security-headers.ts';
import { Metrics } from './prometheus.ts';
import { diagnosticsRoutes } from './routes/diagnostics.ts';
import { discriminateRoutes } from './routes/discriminate.ts';
import { generateRoutes } from './routes/generate.ts';
import { generateStreamRoutes } from './routes/generate-stream.ts';
import { healthRoutes } from './routes/health.ts';
import { interpolateRoutes } from './routes/interpolate.ts';
import { kserveV2Routes } from './routes/kserve-v2.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { modelRoutes } from './routes/models.ts';
import { playgroundRoutes } from './routes/playground.ts';
import { repositoryRoutes } from './routes/repository.ts';
import { API_VERSION } from './version.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    metrics: Metrics;
    lifecycle: { shuttingDown: boolean };
  }
  interface FastifyContextConfig {
    /** Inference routes: API keys and rate limits apply. */
    inference?: boolean;
    /** Binary content types the 200 response may have besides its JSON form (documented in OpenAPI). */
    binaryResponse?: string[];
    /** Request body content types for routes that parse their body themselves (documented in OpenAPI). */
    requestContent?: Record<string, unknown>;
  }
}

export interface AppDeps {
  logger?: FastifyServerOptions['logger'];
  metrics?: Metrics;
  runtime?: ModelRuntime;
}

/**
 * jsonSchemaTransform, plus what zod schemas can't say: binary alternatives (image/png, …) for 200 responses, and
 * the content types of bodies a route parses itself.
 */
const documentBinaryResponses: typeof jsonSchemaTransform = (args) => {
  const out = jsonSchemaTransform(args);
  const config = args.route.config as
    | { binaryResponse?: string[]; requestContent?: Record<string, unknown>; inference?: boolean }
    | undefined;
  if (config?.inference) {
    // API keys (GAN_API_KEYS) and rate limits (GAN_RATE_LIMIT_PER_MINUTE) apply here, when configured.
    const schema = out.schema as Record<string, unknown>;
    schema.security = [{}, { bearer: [] }];
    const responses = schema.response as Record<string, unknown> | undefined;
    if (responses?.['400']) {
      responses['401'] = responses['400'];
      responses['429'] = responses['400'];
    }
  }
  const binary = config?.binaryResponse;
  if (config?.requestContent) {
    (out.schema as Record<string, unknown>).body = { content: config.requestContent };
  }
  const response = out.schema.response as Record<string, unknown> | undefined;
  if (binary && response?.['200']) {
    const json = response['200'] as { description?: string };
    const content: Record<string, unknown> = { 'application/json': { schema: json } };
    for (const type of binary) content[type] = { schema: { type: 'string', format: 'binary' } };
    response['200'] = { description: json.description ?? 'OK', content };
  }
  return out;
};

/** Node HTTP server timeouts from the configuration (0 disables a timeout, as in Node). */
export function httpServerOptions(config: Config): ServerOptions {
  const requestTimeout = config.GAN_HTTP_REQUEST_TIMEOUT_MS;
  return {
    requestTimeout,
    // Headers must arrive sooner than the whole request; Node requires headersTimeout ≤ requestTimeout.
    headersTimeout: requestTimeout === 0 ? 60_000 : Math.min(requestTimeout, 10_000),
    keepAliveTimeout: config.GAN_KEEP_ALIVE_TIMEOUT_MS,
    // Node checks these timeouts every 30 s by default; check often enough that they mean what they say.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, requestTimeout / 4 || 1000)),
  };
}

/** GAN_TRUST_PROXY as Fastify's `trustProxy` (a hop count as the function Fastify builds from one at run time). */
function trustProxyOption(
  setting: Config['GAN_TRUST_PROXY'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting;
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? { level: config.GAN_LOG_LEVEL },
    // Two info lines per request cost more than some requests do: requests are logged at debug (below), errors by
    // the error handler.
    disableRequestLogging: true,
    bodyLimit: config.GAN_BODY_LIMIT_BYTES,
    // Whose X-Forwarded-For names the client (request.ip: rate limits, logs); none unless configured.
    trustProxy: trustProxyOption(config.GAN_TRUST_PROXY),
    // Reject prototype-poisoning keys instead of silently accepting them.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Path parameters are checked by the routes' schemas (model names: at most 200 characters), not cut off here.
    routerOptions: { maxParamLength: 1000 },
    // A malformed URL (bad %-encoding) or an over-long parameter, in the same error shape as everything else.
    frameworkErrors: (error, request, reply) => sendErrorFor(request, reply, toServiceError(error)),
    clientErrorHandler: answerClientError,
    // Slow or stalled clients are cut off by Node's own timers, without ever reaching an inference worker.
    serverFactory: (handler) => createServer(httpServerOptions(config), handler),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const metrics = deps.metrics ?? new Metrics();
  app.decorate('config', config);
  app.decorate('metrics', metrics);
  app.decorate('lifecycle', { shuttingDown: false });
  // Reads the model repository now; `app.loadModels()` loads it; closing the app releases it.
  await app.register(modelRuntime, deps.runtime ? { runtime: deps.runtime } : {});

  installErrorHandler(app);
  await app.register(securityHeaders);
  await app.register(bodyGuard);
  if (config.GAN_CORS_ORIGINS.length > 0) {
    const anyOrigin = config.GAN_CORS_ORIGINS.includes('*');
    await app.register(cors, {
      origin: anyOrigin ? true : config.GAN_CORS_ORIGINS,
      exposedHeaders: [
        'x-model',
        'x-seeds',
        'x-code',
        'x-oversample',
        'x-candidates',
        'x-seed-range',
        'x-count',
      ],
    });
  }
  app.addHook('onRequest', async (request) => {
    if (app.lifecycle.shuttingDown && request.routeOptions.config.inference) {
      throw new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
        retryAfter: 1,
      });
    }
  });
  // Before every route it guards, the API docs included.
  await app.register(access);
  // The Open Inference Protocol over gRPC: built here, listening only when src/server.ts binds GAN_GRPC_PORT.
  installGrpc(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gan-serve',
        description:
          'Serve GAN generators and discriminators from ONNX: sample images from seeds or latents, score images real-vs-fake.',
        version: API_VERSION,
      },
      tags: [
        { name: 'generate', description: 'Sampling' },
        { name: 'discriminate', description: 'Real-vs-fake scoring' },
        { name: 'models', description: 'Served models' },
        { name: 'health', description: 'Liveness, readiness, metrics' },
        {
          name: 'kserve-v2',
          description: 'KServe / Triton Open Inference Protocol (v2): JSON tensors or binary tensor data',
        },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: documentBinaryResponses,
  });
  // Swagger UI's pages carry their own Content-Security-Policy (script and style hashes of its inline code).
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const model = String(reply.getHeader('x-model') ?? '');
    metrics.httpRequests.inc({ route, model, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
    request.log.debug(
      { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request completed',
    );
  });

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(modelRoutes);
  await app.register(generateRoutes);
  await app.register(generateStreamRoutes);
  await app.register(discriminateRoutes);
  await app.register(diagnosticsRoutes);
  await app.register(interpolateRoutes);
  await app.register(kserveV2Routes);
  await app.register(repositoryRoutes);
  await app.register(playgroundRoutes);
  return app;
}
