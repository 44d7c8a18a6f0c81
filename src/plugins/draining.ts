/**
 * Once shutdown begins (src/server.ts sets `app.lifecycle.shuttingDown`), new inference requests get 503 with
 * Retry-After while accepted ones finish.
 */
import { ServiceError } from '../errors.ts';
import { unscoped } from './unscoped.ts';

export const draining = unscoped(async (app) => {
  app.addHook('onRequest', (request, _reply, done) => {
    if (app.lifecycle.shuttingDown && request.routeOptions.config.inference) {
      done(
        new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
          retryAfter: 1,
        }),
      );
      return;
    }
    done();
  });
});
