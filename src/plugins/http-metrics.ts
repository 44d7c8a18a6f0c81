/**
 * Every answered request counted by route, model and status (gan_http_requests_total) and timed by route, and
 * logged at debug.
 */
import { unscoped } from './unscoped.ts';

export const httpMetrics = unscoped(async (app) => {
  const metrics = app.metrics;
  const debug = app.log.level === 'debug' || app.log.level === 'trace';
  // Callback-style hooks: on the path of every request, an async hook's promise is overhead for nothing.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const model = String(reply.getHeader('x-model') ?? '');
    metrics.httpRequests.inc({ route, model, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
    if (debug) {
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request completed',
      );
    }
    done();
  });
});
