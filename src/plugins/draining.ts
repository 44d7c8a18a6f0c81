/**
 * Once shutdown begins (src/server.ts sets `app.lifecycle.shuttingDown`), new inference requests get 503 with
 * Retry-After while accepted ones finish.
 */
import { ServiceError } from '../errors.ts';
import { unscoped } from './unscoped.ts';

export const draining = unscoped(async (app) => {
  app.addHook('onRequest', async (request) => {
    if (app.lifecycle.shuttingDown && request.routeOptions.config.inference) {
      throw new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
        retryAfter: 1,
      });
    }
  });
});
