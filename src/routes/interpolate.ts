/**
 * POST /interpolate: a latent walk between two seeds or latents, generated in one batched run, as a PNG strip,
 * an animated GIF or WebP, or JSON frames. The walk's ends are exactly the latents /generate uses for the same
 * seeds (and truncation), so its first and last frames are /generate's images.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.ts';
import { encodeAnimation } from '../imaging/animation.ts';
import { encodePng } from '../imaging/codec.ts';
import { tileGrid } from '../imaging/pixels.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { INTERPOLATION_METHODS, path, pathTimes } from '../latent/interpolation.ts';
import { seededLatents, truncate } from '../latent/sampling.ts';
import {
  errorResponses,
  labelSchema,
  latentSchema,
  modelNameSchema,
  noQuerySchema,
  scaleSchema,
  seedSchema,
  truncationSchema,
} from '../schemas/common.ts';
import { generatePixels } from '../services/images.ts';
import { resolveLabels } from './generate.ts';
import { sendBinary } from './reply.ts';

export const MAX_STEPS = 64;
/** Browsers show GIF frames shorter than 20 ms at 100 ms, so shorter delays would play slower, not faster. */
const MIN_FRAME_DELAY_MS = 20;
/** Pixels between frames of a PNG strip, as /generate's grids. */
const STRIP_GAP = 2;

const endpointSchema = z
  .strictObject({
    seed: seedSchema.optional(),
    latent: latentSchema.optional(),
  })
  .superRefine((e, ctx) => {
    if ((e.seed === undefined) === (e.latent === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `give exactly one of seed, latent (got ${e.seed === undefined ? 'neither' : 'both'})`,
      });
    }
  })
  .describe('An end of the walk: {"seed": n} (the latent /generate uses for that seed) or {"latent": [...]}');

export const interpolateBodySchema = z.strictObject({
  model: modelNameSchema.optional(),
  from: endpointSchema,
  to: endpointSchema,
  steps: z
    .number()
    .int()
    .min(2)
    .max(MAX_STEPS)
    .default(8)
    .describe('Images along the walk, both ends included'),
  method: z
    .enum(INTERPOLATION_METHODS)
    .default('slerp')
    .describe('slerp follows the sphere Gaussian latents live near; lerp is a straight line'),
  label: labelSchema.optional().describe('Class label for every frame (conditional models)'),
  truncation: truncationSchema.describe('Truncation ψ in (0, 1], applied to both ends as in /generate'),
  format: z
    .enum(['png', 'gif', 'webp', 'json'])
    .default('png')
    .describe(
      'png: a strip (or grid with columns); gif, webp: an animation; json: per-step images and latents',
    ),
  scale: scaleSchema,
  columns: z
    .number()
    .int()
    .min(1)
    .max(MAX_STEPS)
    .optional()
    .describe('Grid columns of the PNG (default: steps, one row)'),
  frameDelayMs: z
    .number()
    .int()
    .min(MIN_FRAME_DELAY_MS)
    .max(60_000)
    .default(100)
    .describe(
      'Milliseconds per frame of a GIF or WebP; identical consecutive frames are merged into one shown for their summed delays',
    ),
});

export type InterpolateBody = z.infer<typeof interpolateBodySchema>;

export const interpolateJsonSchema = z.object({
  model: z.string(),
  method: z.enum(INTERPOLATION_METHODS),
  label: z.number().optional(),
  frames: z.array(
    z.object({
      t: z.number().describe('Position along the walk, 0 (from) to 1 (to)'),
      png: z.string().describe('PNG, base64'),
      latent: z.array(z.number()),
    }),
  ),
});

/** One end of the walk → its latent, truncated, exactly as /generate makes it. @returns float32 [latentDim] */
function endpointLatent(
  model: ServedModel,
  end: InterpolateBody['from'],
  field: string,
  psi: number,
): Float32Array {
  const dim = model.manifest.latentDim;
  if (end.latent !== undefined) {
    if (end.latent.length !== dim) {
      throw invalid(`${field}.latent`, `expected latent of length ${dim}, got ${end.latent.length}`);
    }
    return truncate(Float32Array.from(end.latent), psi);
  }
  return seededLatents([end.seed!], dim, psi);
}

export const interpolateRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/interpolate',
    {
      config: { inference: true, binaryResponse: ['image/png', 'image/gif', 'image/webp'] },
      schema: {
        tags: ['generate'],
        summary: 'Walk the latent space between two seeds or latents',
        description:
          'Generates `steps` images along a slerp (default) or lerp path, in one batched run. Returns image/png (a strip), image/gif or image/webp (an animation), or JSON with each step’s image and latent. The ends are /generate’s images for the same seeds.',
        querystring: noQuerySchema,
        body: interpolateBodySchema,
        response: {
          200: interpolateJsonSchema.describe('format=json; png, gif and webp return the image'),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const model = app.runtime.model(body.model);
      reply.header('x-model', model.name);
      const from = endpointLatent(model, body.from, 'from', body.truncation);
      const to = endpointLatent(model, body.to, 'to', body.truncation);
      const labels = resolveLabels(model, body.steps, body.label, undefined);
      const latents = path(from, to, body.steps, body.method);
      // generatePixels transfers its input to the worker (the buffer detaches); JSON returns the latents.
      const pixels = await generatePixels(
        app.runtime,
        model,
        body.format === 'json' ? latents.slice() : latents,
        labels,
      );
      const { width, height, channels } = model.manifest.image;
      const perImage = width * height * channels;

      if (body.format === 'json') {
        const dim = model.manifest.latentDim;
        const times = pathTimes(body.steps);
        const frames = await Promise.all(
          times.map(async (t, i) => ({
            t,
            png: (
              await encodePng(
                { data: pixels.subarray(i * perImage, (i + 1) * perImage), width, height, channels },
                body.scale,
              )
            ).toString('base64'),
            latent: Array.from(latents.subarray(i * dim, (i + 1) * dim)),
          })),
        );
        return {
          model: model.name,
          method: body.method,
          ...(body.label !== undefined ? { label: body.label } : {}),
          frames,
        };
      }
      if (body.format === 'gif' || body.format === 'webp') {
        const file = await encodeAnimation(pixels, body.steps, height, width, channels, {
          format: body.format,
          scale: body.scale,
          delayMs: body.frameDelayMs,
        });
        return sendBinary(reply, `image/${body.format}`, file);
      }
      const strip = tileGrid(
        pixels,
        body.steps,
        height,
        width,
        channels,
        body.columns ?? body.steps,
        STRIP_GAP,
      );
      return sendBinary(reply, 'image/png', await encodePng({ ...strip, channels }, body.scale));
    },
  );
};
