/**
 * Builds the Fastify app from plugins, then routes: the model runtime, the error handler, security headers, the
 * body guard, CORS, draining on shutdown, access (keys, rate limits), gRPC, the OpenAPI document, HTTP metrics
 * (src/plugins/), then one plugin per route group (src/routes/). Never listens (src/server.ts does), so tests
 * drive it with `app.inject()`.
 */
import { createServer, type ServerOptions } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config.ts';
import { answerClientError, installErrorHandler, sendErrorFor, toServiceError } from './errors.ts';
import { installGrpc } from './grpc/server.ts';
import type { ModelRuntime } from './inference/runtime.ts';
import { access } from './plugins/access.ts';
import { bodyGuard } from './plugins/body-guard.ts';
import { corsPolicy } from './plugins/cors.ts';
import { draining } from './plugins/draining.ts';
import { httpMetrics } from './plugins/http-metrics.ts';
import { modelRuntime } from './plugins/model-runtime.ts';
import { openapi } from './plugins/openapi.ts';
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
    // Two info lines per request cost more than some requests do: requests are logged at debug (plugins/http-metrics),
    // errors by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
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
  await app.register(corsPolicy);
  await app.register(draining);
  // Before every route it guards, the API docs included.
  await app.register(access);
  // The Open Inference Protocol over gRPC: built here, listening only when src/server.ts binds GAN_GRPC_PORT.
  installGrpc(app);

  await app.register(openapi);

  await app.register(httpMetrics);

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
