/**
 * Model listing: manifest facts, execution provider in use, readiness.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceError } from '../errors.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { latentCodeSchema } from '../models/manifest.ts';
import { errorResponses, modelNameSchema } from '../schemas/common.ts';

const providerSchema = z.object({
  generator: z.string().nullable(),
  discriminator: z.string().nullable(),
  skipped: z.array(z.object({ network: z.string(), provider: z.string(), reason: z.string() })),
});

export const modelInfoSchema = z
  .object({
    name: z.string(),
    title: z.string(),
    description: z.string().optional(),
    dataset: z.string(),
    default: z.boolean(),
    status: z.enum(['loading', 'ready', 'failed']),
    ready: z.boolean(),
    error: z.string().nullable(),
    latentDim: z.number(),
    image: z.object({ width: z.number(), height: z.number(), channels: z.number() }),
    conditional: z.boolean(),
    numClasses: z.number().nullable(),
    latentCode: latentCodeSchema
      .nullable()
      .describe(
        "A code read from z (InfoGAN): /generate's `code` picks it; supervised = code k draws class k",
      ),
    classNames: z.array(z.string()).optional(),
    outputRange: z.tuple([z.number(), z.number()]),
    discriminatorOutput: z.enum(['logit', 'probability']),
    executionProvider: providerSchema,
    diagnostics: z.boolean().describe('Whether a dataset classifier is loaded, so diagnostics are available'),
    provenance: z.record(z.string(), z.unknown()),
  })
  .describe('Model');

export function describeModel(m: ServedModel, isDefault: boolean): z.infer<typeof modelInfoSchema> {
  const man = m.manifest;
  const skipped = [
    ...m.generator.skipped.map((s) => ({ network: 'generator', ...s })),
    ...m.discriminator.skipped.map((s) => ({ network: 'discriminator', ...s })),
  ];
  return {
    name: m.name,
    title: man.title,
    ...(man.description ? { description: man.description } : {}),
    dataset: man.dataset,
    default: isDefault,
    status: m.status,
    ready: m.status === 'ready',
    // Internal details (file paths, onnxruntime messages) stay in the logs.
    error: m.status === 'failed' ? 'model failed to load; see the service log' : null,
    latentDim: man.latentDim,
    image: man.image,
    conditional: man.numClasses !== null,
    numClasses: man.numClasses,
    latentCode: man.latentCode,
    ...(man.classNames ? { classNames: man.classNames } : {}),
    outputRange: man.generator.outputRange,
    discriminatorOutput: man.discriminator.outputKind,
    executionProvider: { generator: m.generator.provider, discriminator: m.discriminator.provider, skipped },
    diagnostics: m.classifier !== null,
    provenance: man.provenance,
  };
}

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List the served models',
        response: { 200: z.object({ default: z.string().nullable(), models: z.array(modelInfoSchema) }) },
      },
    },
    async () => {
      const rt = app.runtime;
      return {
        default: rt.defaultModel,
        models: [...rt.models.values()].map((m) => describeModel(m, m.name === rt.defaultModel)),
      };
    },
  );

  app.get(
    '/v1/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'One model',
        params: z.object({ name: modelNameSchema }),
        response: { 200: modelInfoSchema, ...errorResponses },
      },
    },
    async (request) => {
      const rt = app.runtime;
      const m = rt.models.get(request.params.name);
      if (!m)
        throw new ServiceError('GAN_ERR_MODEL_NOT_FOUND', `no model named '${request.params.name}'`, 'name');
      return describeModel(m, m.name === rt.defaultModel);
    },
  );
};
