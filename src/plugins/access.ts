/**
 * Who may call what, and how often: rate limits (GAN_RATE_LIMIT_PER_MINUTE) and API keys (GAN_API_KEYS), in that
 * order, on the routes they guard. Counting comes first so that requests refused for a missing or wrong key count
 * too: an unauthenticated flood is limited like any other. Register before the routes it guards.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import type { Config } from '../config.ts';
import { ServiceError } from '../errors.ts';
import { unscoped } from './unscoped.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Static files anyone may load (the playground's): keys and rate limits never apply. */
    publicAsset?: boolean;
  }
}

/** Liveness and readiness probes: orchestrators call them without credentials. */
const PROBES = new Set(['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready']);

/**
 * Whether keys and rate limits apply to a route: inference routes always; with GAN_API_KEYS_SCOPE=all every route
 * but the probes, the playground's files and CORS preflights (which never carry credentials).
 */
export function isGuarded(
  scope: Config['GAN_API_KEYS_SCOPE'],
  route: Pick<RouteOptions, 'url' | 'method' | 'config'>,
): boolean {
  if (route.config?.inference) return true;
  if (scope !== 'all') return false;
  const methods = ([] as string[]).concat(route.method);
  if (methods.every((m) => m === 'OPTIONS')) return false;
  return !PROBES.has(route.url) && !route.config?.publicAsset;
}

export const access = unscoped(async (app) => {
  const config = app.config;
  const scope = config.GAN_API_KEYS_SCOPE;
  // Decided per request, from the route's final config: a plugin may mark its routes public after this one saw them.
  const guarded = (request: FastifyRequest) =>
    isGuarded(scope, {
      url: request.routeOptions.url ?? '',
      method: request.method,
      config: request.routeOptions.config,
    });
  if (config.GAN_RATE_LIMIT_PER_MINUTE > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.GAN_RATE_LIMIT_PER_MINUTE,
      timeWindow: 60_000,
      // Per client address (request.ip: behind a proxy, GAN_TRUST_PROXY says whose X-Forwarded-For to believe).
      allowList: (request) => request.routeOptions.url === undefined || !guarded(request),
      errorResponseBuilder: (_req, ctx) =>
        new ServiceError(
          'GAN_ERR_RATE_LIMITED',
          `rate limit of ${ctx.max} requests per minute exceeded`,
          undefined,
          { retryAfter: Math.ceil(ctx.ttl / 1000) },
        ),
    });
  }

  const keys = new Set(config.GAN_API_KEYS);
  const checkKey: onRequestAsyncHookHandler = async (request) => {
    if (!guarded(request)) return;
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!match || !keys.has(match[1]!.trim())) {
      throw new ServiceError(
        'GAN_ERR_UNAUTHORIZED',
        'missing or unknown API key (Authorization: Bearer <key>)',
        'authorization',
      );
    }
  };

  // onRoute hooks run in the order they were added: the rate limiter's (added as it registered, above) appends its
  // onRequest hook first, this one the key check after it.
  app.addHook('onRoute', (route) => {
    if (keys.size === 0 || (scope === 'inference' && !route.config?.inference)) return;
    const hooks = route.onRequest ?? [];
    route.onRequest = [...(Array.isArray(hooks) ? hooks : [hooks]), checkKey];
  });
});
