/**
 * POST /generate: seeds or latents in, PNG (one image, or a grid) or JSON out.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.ts';
import { encodePng } from '../imaging/codec.ts';
import { defaultColumns, tileGrid } from '../imaging/pixels.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { codesOf, setCode } from '../latent/code.ts';
import { freshSeeds, seededLatents, seedRange, truncate } from '../latent/sampling.ts';
import {
  errorResponses,
  labelSchema,
  latentSchema,
  MAX_COUNT,
  modelNameSchema,
  noQuerySchema,
  scaleSchema,
  seedSchema,
  truncationSchema,
} from '../schemas/common.ts';
import { generatePixels, generatePngs } from '../services/images.ts';
import { sendBinary } from './reply.ts';

export const generateBodySchema = z
  .strictObject({
    model: modelNameSchema.optional(),
    count: z.number().int().min(1).max(MAX_COUNT).optional().describe('Number of images (default 1)'),
    seed: seedSchema.optional().describe('First seed; with count, the seeds are seed, seed+1, … (mod 2^32)'),
    seeds: z.array(seedSchema).min(1).max(MAX_COUNT).optional().describe('One seed per image; sets count'),
    latents: z
      .array(latentSchema)
      .min(1)
      .max(MAX_COUNT)
      .optional()
      .describe('One latent per image; sets count'),
    truncation: truncationSchema,
    label: labelSchema.optional().describe('Class label for every image (conditional models)'),
    labels: z.array(labelSchema).min(1).max(MAX_COUNT).optional().describe('One class label per image'),
    code: z
      .number()
      .int()
      .min(0)
      .max(4095)
      .optional()
      .describe(
        "Code for every image (models with a latentCode, see /v1/models): each latent's largest code entry is swapped into this place, so it stays a draw from N(0, I); for a supervised code, the class",
      ),
    format: z.enum(['png', 'json']).default('png'),
    scale: scaleSchema,
    columns: z.number().int().min(1).max(MAX_COUNT).optional().describe('Grid columns (default ≈ √count)'),
    returnLatents: z.boolean().default(false).describe('Include each latent in JSON output'),
  })
  .superRefine((b, ctx) => {
    const sources = (['seed', 'seeds', 'latents'] as const).filter((k) => b[k] !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [sources[1]!],
        message: `give only one of seed, seeds, latents (got ${sources.join(', ')})`,
      });
    }
    const listed = b.seeds?.length ?? b.latents?.length;
    if (listed !== undefined && b.count !== undefined && b.count !== listed) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `count is ${b.count} but ${listed} ${b.seeds ? 'seeds' : 'latents'} were given`,
      });
    }
    if (b.label !== undefined && b.labels !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'give label or labels, not both' });
    }
    if (b.returnLatents && b.format !== 'json') {
      ctx.addIssue({
        code: 'custom',
        path: ['returnLatents'],
        message: 'returnLatents needs format "json" (a PNG has nowhere to carry them)',
      });
    }
    if (b.columns !== undefined && b.format === 'json') {
      ctx.addIssue({
        code: 'custom',
        path: ['columns'],
        message: 'columns lays out a grid PNG; format "json" returns each image separately',
      });
    }
    const count = listed ?? b.count ?? 1;
    if (b.labels !== undefined && b.labels.length !== count) {
      ctx.addIssue({
        code: 'custom',
        path: ['labels'],
        message: `expected ${count} labels (one per image), got ${b.labels.length}`,
      });
    }
  });

export type GenerateBody = z.infer<typeof generateBodySchema>;

const imageJsonSchema = z.object({
  seed: z.number().nullable().describe('The seed of this image; null when a latent was given'),
  label: z.number().optional(),
  code: z
    .number()
    .optional()
    .describe('The code the generator read from this latent (models with a latentCode)'),
  png: z.string().describe('PNG, base64'),
  latent: z.array(z.number()).optional(),
});

export const generateJsonSchema = z.object({
  model: z.string(),
  images: z.array(imageJsonSchema),
});

export interface PreparedLatents {
  latents: Float32Array;
  seeds: Array<number | null>;
  labels: number[] | null;
  /** The code each latent carries (models with a latentCode, JSON output: the only place they are reported). */
  codes: number[] | null;
  count: number;
}

/** Give every latent the requested code; refused for models without a latentCode or past its categories. */
export function applyCode(model: ServedModel, latents: Float32Array, count: number, code: number): void {
  const spec = model.manifest.latentCode;
  if (spec === null) throw invalid('code', `model '${model.name}' reads no code from z; remove code`);
  if (code >= spec.categories) {
    throw invalid('code', `code must be in 0..${spec.categories - 1}, got ${code}`);
  }
  for (let i = 0; i < count; i++) setCode(latents, i, model.manifest.latentDim, spec.categories, code);
}

/** Check a request's labels against the model: required for conditional models, refused otherwise. */
export function resolveLabels(
  model: ServedModel,
  count: number,
  label: number | undefined,
  labels: number[] | undefined,
): number[] | null {
  const classes = model.manifest.numClasses;
  if (classes === null) {
    if (label !== undefined) throw invalid('label', `model '${model.name}' is not conditional; remove label`);
    if (labels !== undefined)
      throw invalid('labels', `model '${model.name}' is not conditional; remove labels`);
    return null;
  }
  if (label === undefined && labels === undefined) {
    throw invalid('label', `model '${model.name}' is conditional: give label (0..${classes - 1}) or labels`);
  }
  const out = labels ?? new Array<number>(count).fill(label!);
  out.forEach((l, i) => {
    if (l >= classes) {
      throw invalid(labels ? `labels[${i}]` : 'label', `label must be in 0..${classes - 1}, got ${l}`);
    }
  });
  return out;
}

/** Seeds or latents of a request → the generator's latent batch, checked against the model. */
export function prepareLatents(model: ServedModel, body: GenerateBody): PreparedLatents {
  const dim = model.manifest.latentDim;
  let latents: Float32Array;
  let seeds: Array<number | null>;
  if (body.latents) {
    latents = new Float32Array(body.latents.length * dim);
    body.latents.forEach((z, i) => {
      if (z.length !== dim)
        throw invalid(`latents[${i}]`, `expected latent of length ${dim}, got ${z.length}`);
      latents.set(z, i * dim);
    });
    truncate(latents, body.truncation);
    seeds = body.latents.map(() => null);
  } else {
    const count = body.seeds?.length ?? body.count ?? 1;
    const list = body.seeds ?? (body.seed !== undefined ? seedRange(body.seed, count) : freshSeeds(count));
    latents = seededLatents(list, dim, body.truncation);
    seeds = list;
  }
  const count = seeds.length;
  const labels = resolveLabels(model, count, body.label, body.labels);
  if (body.code !== undefined) applyCode(model, latents, count, body.code);
  const spec = model.manifest.latentCode;
  const codes =
    spec && body.format === 'json' ? Array.from(codesOf(latents, count, dim, spec.categories)) : null;
  return { latents, seeds, count, labels, codes };
}

/** A Buffer view of the same bytes (no copy). */
const asBuffer = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.length);

export const generateRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/generate',
    {
      config: { inference: true, binaryResponse: ['image/png'] },
      schema: {
        tags: ['generate'],
        summary: 'Generate images from seeds or latent vectors',
        description:
          'Returns image/png (one image for count 1, else a grid) with x-model and x-seeds headers (and x-code when a code was set), or JSON with format=json. Seeds map to latents exactly as numpy.random.RandomState(seed).randn(latentDim).',
        querystring: noQuerySchema,
        body: generateBodySchema,
        response: {
          200: generateJsonSchema.describe('format=json; format=png returns image/png'),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const model = app.runtime.model(body.model);
      reply.header('x-model', model.name);
      const prepared = prepareLatents(model, body);
      // With a code the seeds alone no longer give the image: say which code was set.
      if (body.code !== undefined) reply.header('x-code', String(body.code));
      // Inputs are transferred to the inference worker (their buffers detach), so keep a copy to return.
      const latents = body.returnLatents ? prepared.latents.slice() : prepared.latents;
      const { width, height, channels } = model.manifest.image;
      // Set once the images exist: an error response (503, 504, 500) carries no seeds.
      const seedsHeader = () => {
        if (prepared.seeds.every((s) => s !== null)) reply.header('x-seeds', prepared.seeds.join(','));
      };

      // One PNG per image (JSON, or a single image): small ones are encoded by the inference worker.
      if (body.format === 'json' || prepared.count === 1) {
        const pngs = await generatePngs(app.runtime, model, prepared.latents, prepared.labels, body.scale);
        seedsHeader();
        if (body.format !== 'json') return sendBinary(reply, 'image/png', asBuffer(pngs[0]!));
        const dim = model.manifest.latentDim;
        const images = prepared.seeds.map((seed, i) => ({
          seed,
          ...(prepared.labels ? { label: prepared.labels[i]! } : {}),
          ...(prepared.codes ? { code: prepared.codes[i]! } : {}),
          png: asBuffer(pngs[i]!).toString('base64'),
          ...(body.returnLatents ? { latent: Array.from(latents.subarray(i * dim, (i + 1) * dim)) } : {}),
        }));
        return { model: model.name, images };
      }
      const pixels = await generatePixels(app.runtime, model, prepared.latents, prepared.labels);
      seedsHeader();
      const grid = tileGrid(
        pixels,
        prepared.count,
        height,
        width,
        channels,
        body.columns ?? defaultColumns(prepared.count),
        2,
      );
      const png = await encodePng({ ...grid, channels }, body.scale);
      return sendBinary(reply, 'image/png', png);
    },
  );
};
