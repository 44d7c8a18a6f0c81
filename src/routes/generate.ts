/**
 * POST /generate: seeds, latents or w-space latents in; PNG, JPEG or WebP (one image, or a grid) or JSON out.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clientGoneSignal } from '../http/client-gone.ts';
import { encodeImage, IMAGE_FORMATS, type ImageFormat, MEDIA_TYPES } from '../imaging/codec.ts';
import { defaultColumns, tileGrid } from '../imaging/pixels.ts';
import {
  errorResponses,
  errorSchema,
  generationTruncationSchema,
  labelSchema,
  latentSchema,
  MAX_COUNT,
  modelNameSchema,
  noQuerySchema,
  qualitySchema,
  scaleSchema,
  seedSchema,
  wLatentSchema,
} from '../schemas/common.ts';
import { rejectionImageSchema, rejectionSchema, rejectionSummarySchema } from '../schemas/rejection.ts';
import {
  checkPixelBudget,
  encodeEach,
  generatePixels,
  generatePngs,
  mapLatents,
} from '../services/images.ts';
import { prepareGeneration } from '../services/latents.ts';
import { type RejectionResult, sampleWithRejection } from '../services/rejection.ts';
import { sendBinary, sendJson } from './reply.ts';

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
    ws: z
      .array(wLatentSchema)
      .min(1)
      .max(MAX_COUNT)
      .optional()
      .describe(
        'One w-space latent per image, for models with a mapping network (StyleGAN): numWs × wDim values, or wDim repeated for every layer; sets count',
      ),
    truncation: generationTruncationSchema,
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
    format: z
      .enum([...IMAGE_FORMATS, 'json'])
      .default('png')
      .describe('png, jpeg or webp: one image or a grid; json: each image base64-encoded in imageFormat'),
    imageFormat: z
      .enum(IMAGE_FORMATS)
      .optional()
      .describe('Encoding of each image in JSON output (default png)'),
    quality: qualitySchema,
    scale: scaleSchema,
    columns: z.number().int().min(1).max(MAX_COUNT).optional().describe('Grid columns (default ≈ √count)'),
    returnLatents: z.boolean().default(false).describe('Include each latent in JSON output'),
    rejection: rejectionSchema.optional(),
  })
  .superRefine((b, ctx) => {
    const sources = (['seed', 'seeds', 'latents', 'ws'] as const).filter((k) => b[k] !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [sources[1]!],
        message: `give only one of seed, seeds, latents, ws (got ${sources.join(', ')})`,
      });
    }
    if (b.rejection && (b.latents !== undefined || b.ws !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rejection'],
        message: `rejection draws its candidates from seeds; give seed or seeds, not ${b.latents ? 'latents' : 'ws'}`,
      });
    }
    const listed = b.seeds?.length ?? b.latents?.length ?? b.ws?.length;
    if (listed !== undefined && b.count !== undefined && b.count !== listed) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `count is ${b.count} but ${listed} ${b.seeds ? 'seeds' : b.latents ? 'latents' : 'ws'} were given`,
      });
    }
    if (b.imageFormat !== undefined && b.format !== 'json') {
      ctx.addIssue({
        code: 'custom',
        path: ['imageFormat'],
        message: 'imageFormat sets the encoding inside JSON output; with an image format, use format itself',
      });
    }
    const encoding = b.format === 'json' ? (b.imageFormat ?? 'png') : b.format;
    if (b.quality !== undefined && encoding === 'png') {
      ctx.addIssue({
        code: 'custom',
        path: ['quality'],
        message: 'quality applies to jpeg and webp; PNG is lossless',
      });
    }
    if (b.label !== undefined && b.labels !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'give label or labels, not both' });
    }
    if (b.returnLatents && b.format !== 'json') {
      ctx.addIssue({
        code: 'custom',
        path: ['returnLatents'],
        message: 'returnLatents needs format "json" (an image has nowhere to carry them)',
      });
    }
    if (b.columns !== undefined && b.format === 'json') {
      ctx.addIssue({
        code: 'custom',
        path: ['columns'],
        message: 'columns lays out a grid image; format "json" returns each image separately',
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
  png: z.string().optional().describe('PNG, base64 (imageFormat png)'),
  jpeg: z.string().optional().describe('JPEG, base64 (imageFormat jpeg)'),
  webp: z.string().optional().describe('WebP, base64 (imageFormat webp)'),
  latent: z.array(z.number()).optional().describe('The latent fed: z, or w for requests that gave ws'),
  w: z
    .array(z.number())
    .optional()
    .describe('The w this z was mapped to, truncated (models with a mapping network, with returnLatents)'),
  rejection: rejectionImageSchema.optional(),
});

export const generateJsonSchema = z.object({
  model: z.string(),
  images: z.array(imageJsonSchema),
  rejection: rejectionSummarySchema.optional(),
});

/** The JSON report of image i's kept candidate (its seed is the image's `seed`). */
function rejectionImage(result: RejectionResult, i: number) {
  const { seed: _seed, ...choice } = result.choices[i]!;
  return choice;
}

/** A Buffer view of the same bytes (no copy). */
const asBuffer = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.length);

export const generateRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/generate',
    {
      config: { inference: true, binaryResponse: ['image/png', 'image/jpeg', 'image/webp'] },
      schema: {
        tags: ['generate'],
        summary: 'Generate images from seeds or latent vectors',
        description:
          'Returns image/png, image/jpeg or image/webp (one image for count 1, else a grid) with x-model and x-seeds headers (and x-code when a code was set), or JSON with format=json. Seeds map to latents exactly as numpy.random.RandomState(seed).randn(latentDim). Requests past GAN_MAX_REQUEST_PIXELS (count × width × height, × oversample with rejection) get 413. With rejection, x-seeds lists the seeds of the kept candidates (each regenerates its image without rejection), x-oversample and x-candidates say what it cost, and a model without a discriminator gets 409.',
        querystring: noQuerySchema,
        body: generateBodySchema,
        response: {
          200: generateJsonSchema.describe('format=json; png, jpeg and webp return the image'),
          ...errorResponses,
          409: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const model = app.runtime.model(body.model);
      reply.header('x-model', model.name);
      const count = body.seeds?.length ?? body.latents?.length ?? body.ws?.length ?? body.count ?? 1;
      checkPixelBudget(model, count, app.config.GAN_MAX_REQUEST_PIXELS);
      const json = body.format === 'json';
      // A client that hangs up takes its queued rows out of the batches.
      const signal = clientGoneSignal(request);
      const options = { keep: body.returnLatents, withCodes: json };
      let prepared = prepareGeneration(model, body, options);
      // Rejection picks a candidate seed per image; the kept seeds then go the plain way, as a client's would.
      let rejection: RejectionResult | null = null;
      if (body.rejection) {
        checkPixelBudget(
          model,
          count * body.rejection.oversample,
          app.config.GAN_MAX_REQUEST_PIXELS,
          'rejection.oversample',
        );
        rejection = await sampleWithRejection(
          app.runtime,
          model,
          {
            seeds: prepared.seeds as number[],
            labels: prepared.labels,
            truncation: body.truncation,
            code: body.code,
          },
          body.rejection,
          { maxOversample: app.config.GAN_MAX_OVERSAMPLE, metrics: app.metrics, signal },
        );
        const seeds = rejection.choices.map((c) => c.seed);
        prepared = prepareGeneration(model, { ...body, seed: undefined, count: undefined, seeds }, options);
      }
      prepared.input.signal = signal;
      // With a code the seeds alone no longer give the image: say which code was set.
      if (body.code !== undefined) reply.header('x-code', String(body.code));
      const { width, height, channels } = model.manifest.image;
      // Set once the images exist: an error response (503, 504, 500) carries no seeds.
      const seedsHeader = () => {
        if (prepared.seeds.every((s) => s !== null)) reply.header('x-seeds', prepared.seeds.join(','));
        if (rejection) {
          reply.header('x-oversample', String(rejection.summary.oversample));
          reply.header('x-candidates', String(rejection.summary.candidates));
        }
      };
      // A mapping model asked for its latents also reports each w: map here, then synthesise from those ws.
      let mapped: Float32Array | null = null;
      if (body.returnLatents && model.manifest.mapping && prepared.input.latents) {
        const { latents, labels, truncation } = prepared.input;
        const ws = await mapLatents(app.runtime, model, latents.slice(), labels, truncation ?? 1, signal);
        mapped = ws.slice();
        prepared.input = { ws, labels, signal };
      }
      const encoding: ImageFormat = json ? (body.imageFormat ?? 'png') : (body.format as ImageFormat);
      const quality = body.quality;

      // One image per row (JSON, or a single image): small PNGs are encoded by the inference worker.
      if (json || prepared.count === 1) {
        const images =
          encoding === 'png'
            ? await generatePngs(app.runtime, model, prepared.input, body.scale)
            : await encodeEach(await generatePixels(app.runtime, model, prepared.input), model, encoding, {
                scale: body.scale,
                quality,
              });
        seedsHeader();
        if (!json) return sendBinary(reply, MEDIA_TYPES[encoding], asBuffer(images[0]!));
        const kept = prepared.returned;
        const size = kept ? kept.length / prepared.count : 0;
        // Serialised a slice at a time and capped (GAN_MAX_RESPONSE_BYTES): 256 images with latents run to megabytes.
        const answer = {
          model: model.name,
          images: prepared.seeds.map((seed, i) => ({
            seed,
            ...(prepared.labels ? { label: prepared.labels[i]! } : {}),
            ...(prepared.codes ? { code: prepared.codes[i]! } : {}),
            ...(rejection ? { rejection: rejectionImage(rejection, i) } : {}),
            [encoding]: asBuffer(images[i]!).toString('base64'),
            ...(kept ? { latent: Array.from(kept.subarray(i * size, (i + 1) * size)) } : {}),
            ...(mapped
              ? {
                  w: Array.from(
                    mapped.subarray(
                      (i * mapped.length) / prepared.count,
                      ((i + 1) * mapped.length) / prepared.count,
                    ),
                  ),
                }
              : {}),
          })),
          ...(rejection ? { rejection: rejection.summary } : {}),
        };
        return sendJson(reply, answer, {
          field: 'count',
          hint: 'ask for fewer images, or one grid image (format png, jpeg or webp)',
        });
      }
      const pixels = await generatePixels(app.runtime, model, prepared.input);
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
      const image = await encodeImage({ ...grid, channels }, encoding, { scale: body.scale, quality });
      return sendBinary(reply, MEDIA_TYPES[encoding], image);
    },
  );
};
