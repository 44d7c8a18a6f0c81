/**
 * POST /interpolate: a latent walk between two seeds or latents, generated in one batched run, as a PNG or JPEG
 * strip, an animated GIF or WebP, or JSON frames. The walk's ends are exactly the latents /generate uses for the
 * same seeds (and truncation), so its first and last frames are /generate's images. Models with a mapping network
 * can also walk in w space (`space: "w"`), as StyleGAN's videos do.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.ts';
import { clientGoneSignal } from '../http/client-gone.ts';
import { encodeAnimation } from '../imaging/animation.ts';
import { encodeImage, encodePng } from '../imaging/codec.ts';
import { tileGrid } from '../imaging/pixels.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { INTERPOLATION_METHODS, path, pathTimes } from '../latent/interpolation.ts';
import { seededLatents, truncate } from '../latent/sampling.ts';
import {
  errorResponses,
  generationTruncationSchema,
  labelSchema,
  latentSchema,
  modelNameSchema,
  noQuerySchema,
  scaleSchema,
  seedSchema,
  wLatentSchema,
} from '../schemas/common.ts';
import { checkPixelBudget, type GenerationInput, generatePixels, mapLatents } from '../services/images.ts';
import { resolveLabels, wsFromRequest, zTruncation } from '../services/latents.ts';
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
    w: wLatentSchema.optional().describe('A w-space latent (space "w" only)'),
  })
  .superRefine((e, ctx) => {
    const given = (['seed', 'latent', 'w'] as const).filter((k) => e[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `give exactly one of seed, latent, w (got ${given.length === 0 ? 'none' : given.join(', ')})`,
      });
    }
  })
  .describe(
    'An end of the walk: {"seed": n} (the latent /generate uses for that seed), {"latent": [...]} or, in w space, {"w": [...]}',
  );

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
  space: z
    .enum(['z', 'w'])
    .default('z')
    .describe(
      'z: walk between latents; w: map both ends to w (models with a mapping network) and walk there',
    ),
  truncation: generationTruncationSchema.describe(
    'Truncation ψ in (0, 1], applied to both ends as in /generate (default: none, or the model truncation input default)',
  ),
  format: z
    .enum(['png', 'jpeg', 'gif', 'webp', 'json'])
    .default('png')
    .describe(
      'png, jpeg: a strip (or grid with columns); gif, webp: an animation; json: per-step images and latents (z, or w in w space)',
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
      latent: z.array(z.number()).describe('The latent of this frame: z, or w in space "w"'),
    }),
  ),
});

/** One end of the walk → its z, truncated in z when the model truncates there, as /generate makes it. */
function endpointLatent(
  model: ServedModel,
  end: InterpolateBody['from'],
  field: string,
  psi: number | undefined,
): Float32Array {
  const dim = model.manifest.latentDim;
  if (end.w !== undefined) throw invalid(`${field}.w`, 'w ends need space "w"');
  if (end.latent !== undefined) {
    if (end.latent.length !== dim) {
      throw invalid(`${field}.latent`, `expected latent of length ${dim}, got ${end.latent.length}`);
    }
    return truncate(Float32Array.from(end.latent), zTruncation(model, psi));
  }
  return seededLatents([end.seed!], dim, zTruncation(model, psi));
}

/** Both ends of a w-space walk: given ws, or z's mapped (and truncated in w) exactly as /generate maps them. */
async function endpointWs(
  app: { runtime: Parameters<typeof mapLatents>[0] },
  model: ServedModel,
  body: InterpolateBody,
  labels: number[] | null,
  signal: AbortSignal,
): Promise<[Float32Array, Float32Array]> {
  if (!model.manifest.mapping)
    throw invalid('space', `model '${model.name}' has no mapping network; walk in space "z"`);
  const ends = [body.from, body.to] as const;
  return Promise.all(
    ends.map(async (end, i) => {
      const field = i === 0 ? 'from' : 'to';
      if (end.w !== undefined) return wsFromRequest(model, [end.w], `${field}.w`);
      const z = endpointLatent(model, end, field, body.truncation);
      return mapLatents(app.runtime, model, z, labels ? [labels[0]!] : null, body.truncation, signal);
    }),
  ) as Promise<[Float32Array, Float32Array]>;
}

export const interpolateRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/interpolate',
    {
      config: { inference: true, binaryResponse: ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] },
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
      checkPixelBudget(model, body.steps, app.config.GAN_MAX_REQUEST_PIXELS, 'steps');
      const labels = resolveLabels(model, body.steps, body.label, undefined);
      const signal = clientGoneSignal(request);
      let input: GenerationInput;
      let latents: Float32Array;
      if (body.space === 'w') {
        const [from, to] = await endpointWs(app, model, body, labels, signal);
        latents = path(from, to, body.steps, body.method);
        input = { ws: body.format === 'json' ? latents.slice() : latents, labels };
      } else {
        const from = endpointLatent(model, body.from, 'from', body.truncation);
        const to = endpointLatent(model, body.to, 'to', body.truncation);
        latents = path(from, to, body.steps, body.method);
        // generatePixels transfers its input to the worker (the buffer detaches); JSON returns the latents.
        input = {
          latents: body.format === 'json' ? latents.slice() : latents,
          labels,
          ...(body.truncation !== undefined ? { truncation: body.truncation } : {}),
        };
      }
      const pixels = await generatePixels(app.runtime, model, { ...input, signal });
      const { width, height, channels } = model.manifest.image;
      const perImage = width * height * channels;

      if (body.format === 'json') {
        const dim = latents.length / body.steps;
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
      const format = body.format === 'jpeg' ? 'jpeg' : 'png';
      const image = await encodeImage({ ...strip, channels }, format, { scale: body.scale });
      return sendBinary(reply, `image/${format}`, image);
    },
  );
};
