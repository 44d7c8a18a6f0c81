/**
 * Every answered request counted by route, model and status (gan_http_requests_total) and timed by route, and
 * logged at debug.
 */
import { unscoped } from './unscoped.ts';

export const httpMetrics = unscoped(async (app) => {
  const metrics = app.metrics;
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
});
