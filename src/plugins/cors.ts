/**
 * CORS for the origins in GAN_CORS_ORIGINS (none: no CORS headers at all), exposing every header the API reports.
 */
import cors from '@fastify/cors';
import { unscoped } from './unscoped.ts';

export const corsPolicy = unscoped(async (app) => {
  const config = app.config;
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
});
