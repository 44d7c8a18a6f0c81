/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: every model loaded and warmed, every
 * worker up, not shutting down).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const readySchema = z.object({
  status: z.enum(['ready', 'loading', 'degraded', 'shutting-down']),
  models: z.record(z.string(), z.enum(['loading', 'ready', 'failed'])),
  workers: z.object({ ready: z.number(), total: z.number() }),
});

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 503 until every model is loaded and warmed up, and while shutting down',
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const runtime = app.runtime;
      const models = Object.fromEntries([...runtime.models.values()].map((m) => [m.name, m.status]));
      const workers = runtime.workerStatus;
      const status = app.lifecycle.shuttingDown
        ? 'shutting-down'
        : runtime.ready
          ? 'ready'
          : workers.total > 0 && workers.ready < workers.total
            ? 'degraded'
            : 'loading';
      return reply.code(status === 'ready' ? 200 : 503).send({ status, models, workers });
    },
  );
};
