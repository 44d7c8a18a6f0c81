/**
 * Model listing: manifest facts, execution provider in use, readiness.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceError } from '../errors.ts';
import type { NetworkState, ServedModel } from '../inference/runtime.ts';
import { latentCodeSchema, truncationMode } from '../models/manifest.ts';
import { errorResponses, modelNameSchema } from '../schemas/common.ts';

const providerSchema = z.object({
  generator: z.string().nullable(),
  mapping: z.string().nullable().optional(),
  discriminator: z.string().nullable(),
  skipped: z.array(z.object({ network: z.string(), provider: z.string(), reason: z.string() })),
});

const inputInfoSchema = z.object({
  name: z.string(),
  role: z.enum([
    'latent',
    'class-index',
    'class-onehot',
    'truncation',
    'w-latent',
    'constant',
    'noise',
    'image',
  ]),
  dtype: z.string(),
  shape: z.array(z.union([z.number(), z.string()])).describe("As fed, with 'N' for the batch axis"),
});

const networkInfoSchema = z.object({
  file: z.string(),
  inputs: z.array(inputInfoSchema),
  output: z.string(),
});

const networksSchema = z
  .object({
    generator: networkInfoSchema.extend({
      outputRange: z.tuple([z.number(), z.number()]),
      outputLayout: z.enum(['NHWC', 'NCHW']),
    }),
    mapping: networkInfoSchema
      .extend({
        wAvg: z
          .object({
            source: z.enum(['file', 'estimated']),
            file: z.string().nullable(),
            samples: z.number().nullable().describe("Seeded z's averaged, when estimated at load"),
          })
          .nullable(),
      })
      .nullable(),
    discriminator: networkInfoSchema
      .extend({
        inputRange: z.tuple([z.number(), z.number()]),
        inputLayout: z.enum(['NHWC', 'NCHW']),
        outputKind: z.enum(['logit', 'probability']),
      })
      .nullable(),
  })
  .describe('Each network: its inputs by role with their names, dtypes and shapes');

function networkInfo(
  file: string,
  spec: { inputs: ReadonlyArray<{ name: string; role: string; dtype: string }>; output: string },
  state: NetworkState | null,
) {
  return {
    file,
    inputs: spec.inputs.map((i) => {
      const resolved = state?.inputs.find((r) => r.spec.name === i.name);
      const shape: Array<number | string> = resolved
        ? resolved.batched
          ? ['N', ...resolved.dims]
          : resolved.dims
        : [];
      return { name: i.name, role: i.role as z.infer<typeof inputInfoSchema>['role'], dtype: i.dtype, shape };
    }),
    output: spec.output,
  };
}

export const modelInfoSchema = z
  .object({
    name: z.string(),
    title: z.string(),
    description: z.string().optional(),
    dataset: z.string().nullable(),
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
    discriminator: z
      .boolean()
      .describe('Whether the model has a discriminator (/discriminate answers 409 without)'),
    discriminatorOutput: z.enum(['logit', 'probability']).nullable(),
    truncation: z
      .enum(['z', 'w', 'input'])
      .describe(
        "What a request's truncation ψ acts on: z, w (mapping network) or the model's truncation input",
      ),
    networks: networksSchema,
    executionProvider: providerSchema,
    diagnostics: z.boolean().describe('Whether a dataset classifier is loaded, so diagnostics are available'),
    provenance: z.record(z.string(), z.unknown()).nullable(),
  })
  .describe('Model');

export function describeModel(m: ServedModel, isDefault: boolean): z.infer<typeof modelInfoSchema> {
  const man = m.manifest;
  const skipped = [
    ...m.generator.skipped.map((s) => ({ network: 'generator', ...s })),
    ...(m.mapping?.skipped ?? []).map((s) => ({ network: 'mapping', ...s })),
    ...(m.discriminator?.skipped ?? []).map((s) => ({ network: 'discriminator', ...s })),
  ];
  const g = man.generator;
  const map = man.mapping;
  const d = man.discriminator;
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
    outputRange: g.outputRange,
    discriminator: d !== null,
    discriminatorOutput: d?.outputKind ?? null,
    truncation: truncationMode(man),
    networks: {
      generator: {
        ...networkInfo(g.file, g, m.generator),
        outputRange: g.outputRange,
        outputLayout: g.outputLayout,
      },
      mapping: map
        ? {
            ...networkInfo(map.file, map, m.mapping),
            wAvg: m.wAvg ? { source: m.wAvg.source, file: m.wAvg.file, samples: m.wAvg.samples } : null,
          }
        : null,
      discriminator: d
        ? {
            ...networkInfo(d.file, d, m.discriminator),
            inputRange: d.inputRange,
            inputLayout: d.inputLayout,
            outputKind: d.outputKind,
          }
        : null,
    },
    executionProvider: {
      generator: m.generator.provider,
      ...(m.mapping ? { mapping: m.mapping.provider } : {}),
      discriminator: m.discriminator?.provider ?? null,
      skipped,
    },
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
