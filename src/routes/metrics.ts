/**
 * GET /metrics in Prometheus text format.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

export const metricsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      const registry = app.metrics.registry;
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
};
