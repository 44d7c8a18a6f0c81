/**
 * Model control while serving, as Triton's model repository extension serves it: `POST /v2/repository/index`
 * lists every model folder with its version and state, `.../models/{name}/load` loads or reloads one,
 * `.../unload` unloads it (errors in the protocol's `{"error": "..."}` shape). The same actions under `/v1` for our
 * own clients (errors in the service's shape). Guarded by the API keys when keys are set.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceError, sendV2Error, toServiceError } from '../errors.ts';
import type { ModelRuntime } from '../inference/runtime.ts';
import { errorResponses, modelNameSchema } from '../schemas/common.ts';

const entrySchema = z.object({
  name: z.string(),
  version: z.string().describe("The version served (or last tried); '' for a folder never loaded"),
  state: z.enum(['READY', 'UNAVAILABLE', 'LOADING', 'UNLOADING']),
  reason: z.string().describe('Why it is not serving, or what happened to its last load'),
});
const indexBody = z
  .strictObject({ ready: z.boolean().optional().describe('Only models that are READY') })
  .nullish();
const nameParams = z.object({ name: modelNameSchema });
const v2Error = z.object({ error: z.string() });

async function listIndex(runtime: ModelRuntime, ready: boolean | undefined) {
  const all = await runtime.index();
  return ready ? all.filter((e) => e.state === 'READY') : all;
}

/** Load or reload; a failure is a 400 naming the model with every problem (the old version keeps serving). */
async function load(runtime: ModelRuntime, name: string) {
  const problems = await runtime.load(name);
  if (problems.length > 0) {
    throw new ServiceError(
      'GAN_ERR_MODEL_LOAD_FAILED',
      `failed to load '${name}': ${problems.join('; ')}`,
      'name',
    );
  }
}

const v2Repository: FastifyPluginAsyncZod = async (app) => {
  app.setErrorHandler((raw, request, reply) => {
    const err = toServiceError(raw);
    if (err.statusCode >= 500) request.log.error({ err: raw, code: err.code }, 'repository request failed');
    else request.log.info({ code: err.code, msg: err.message }, 'repository request rejected');
    return sendV2Error(reply, err);
  });
  app.post(
    '/v2/repository/index',
    {
      config: { inference: true },
      schema: {
        tags: ['repository'],
        summary: 'Every model folder with its version, state and reason (Triton model repository extension)',
        body: indexBody,
        response: { 200: z.array(entrySchema), 400: v2Error },
      },
    },
    async (request) => listIndex(app.runtime, request.body?.ready),
  );
  app.post(
    '/v2/repository/models/:name/load',
    {
      config: { inference: true },
      schema: {
        tags: ['repository'],
        summary:
          'Load a model from its folder, or reload it (the old version serves until the new one is ready)',
        params: nameParams,
        response: { 200: z.object({}), 400: v2Error, 503: v2Error },
      },
    },
    async (request) => {
      await load(app.runtime, request.params.name);
      return {};
    },
  );
  app.post(
    '/v2/repository/models/:name/unload',
    {
      config: { inference: true },
      schema: {
        tags: ['repository'],
        summary: 'Unload a model: running requests finish, new ones get 503 while it unloads and 404 after',
        params: nameParams,
        response: { 200: z.object({}), 400: v2Error, 404: v2Error },
      },
    },
    async (request) => {
      await app.runtime.unload(request.params.name);
      return {};
    },
  );
};

const v1Repository: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/repository',
    {
      config: { inference: true },
      schema: {
        tags: ['repository'],
        summary: 'Every model folder with its version, state and reason',
        response: { 200: z.object({ models: z.array(entrySchema) }) },
      },
    },
    async () => ({ models: await listIndex(app.runtime, false) }),
  );
  for (const action of ['load', 'unload'] as const) {
    app.post(
      `/v1/models/:name/${action}`,
      {
        config: { inference: true },
        schema: {
          tags: ['repository'],
          summary: action === 'load' ? 'Load or reload a model' : 'Unload a model',
          params: nameParams,
          response: { 200: entrySchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        if (action === 'load') await load(app.runtime, name);
        else await app.runtime.unload(name);
        return (await app.runtime.index()).find((e) => e.name === name)!;
      },
    );
  }
};

export const repositoryRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(v2Repository);
  await app.register(v1Repository);
};
