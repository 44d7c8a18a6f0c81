/**
 * POST /generate/stream: bulk generation (an evaluation's 50,000 samples, a synthetic data set) as one streamed tar
 * of `<seed>.png` files or NDJSON lines, generated a batch at a time at the pace the client reads; a client that
 * disconnects cancels the rest.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.ts';
import { clientGoneSignal } from '../http/client-gone.ts';
import { IMAGE_FORMATS } from '../imaging/codec.ts';
import { MAX_SEED } from '../latent/random-state.ts';
import {
  errorResponses,
  generationTruncationSchema,
  labelSchema,
  modelNameSchema,
  noQuerySchema,
  qualitySchema,
  scaleSchema,
  seedSchema,
} from '../schemas/common.ts';
import { bulkBatchSize, bulkStream, seedAt, streamDepth } from '../services/bulk.ts';

const MEDIA_TYPES = { tar: 'application/x-tar', ndjson: 'application/x-ndjson' } as const;

export const streamBodySchema = z
  .strictObject({
    model: modelNameSchema.optional(),
    seed: seedSchema.describe('First seed; the images are seeds seed, seed+1, … (mod 2^32)'),
    count: z
      .number()
      .int()
      .min(1)
      .max(MAX_SEED + 1)
      .describe('Number of images, at most GAN_MAX_STREAM_COUNT (default 1,000,000)'),
    format: z
      .enum(['tar', 'ndjson'])
      .default('tar')
      .describe(
        'tar: one <seed>.png (.jpg, .webp) file per image; ndjson: one {"seed", "<imageFormat>"} line each',
      ),
    imageFormat: z.enum(IMAGE_FORMATS).default('png').describe('Encoding of each image'),
    quality: qualitySchema,
    truncation: generationTruncationSchema,
    label: labelSchema.optional().describe('Class label for every image (conditional models)'),
    scale: scaleSchema,
  })
  .superRefine((b, ctx) => {
    if (b.quality !== undefined && b.imageFormat === 'png') {
      ctx.addIssue({
        code: 'custom',
        path: ['quality'],
        message: 'quality applies to jpeg and webp; PNG is lossless',
      });
    }
  });

/**
 * The route's OpenAPI entry: its 200 is a binary stream only (no JSON form, unlike the routes whose `binaryResponse`
 * adds image types beside their JSON), and API keys and rate limits apply as on every inference route.
 */
const documentStream: typeof jsonSchemaTransform = (args) => {
  const out = jsonSchemaTransform(args);
  const schema = out.schema as Record<string, unknown>;
  schema.security = [{}, { bearer: [] }];
  const responses = schema.response as Record<string, unknown>;
  responses['401'] = responses['400'];
  responses['429'] = responses['400'];
  responses['200'] = {
    description:
      'The images in seed order, streamed as they are generated, with x-model, x-seed-range (first-last) and x-count headers. An error after the first batch cuts the stream short (no end-of-archive blocks, an unterminated chunked body).',
    content: {
      [MEDIA_TYPES.tar]: { schema: { type: 'string', format: 'binary' } },
      [MEDIA_TYPES.ndjson]: {
        schema: { type: 'string', description: 'One JSON object per line: {"seed": n, "png": "<base64>"}' },
      },
    },
  };
  return out;
};

export const generateStreamRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/generate/stream',
    {
      config: { inference: true, swaggerTransform: documentStream },
      schema: {
        tags: ['generate'],
        summary: 'Stream many images as a tar or NDJSON',
        description:
          'Generates count images (up to GAN_MAX_STREAM_COUNT) from seeds seed, seed+1, … one batch at a time, at the pace the client reads: a client that stops reading pauses generation, one that disconnects cancels it. Errors found before the first batch (validation, an unknown model, a full queue) get the usual JSON error.',
        querystring: noQuerySchema,
        body: streamBodySchema,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const body = request.body;
      const config = app.config;
      if (body.count > config.GAN_MAX_STREAM_COUNT) {
        throw invalid(
          'count',
          `count must be at most ${config.GAN_MAX_STREAM_COUNT} (GAN_MAX_STREAM_COUNT), got ${body.count}`,
        );
      }
      const model = app.runtime.model(body.model);
      reply.header('x-model', model.name);
      const signal = clientGoneSignal(request);
      const chunks = bulkStream(app.runtime, model, {
        ...body,
        batch: bulkBatchSize(model, config),
        depth: streamDepth(config.GAN_WORKERS),
        mtime: Math.floor(Date.now() / 1000),
        retryOverloadedMs: config.GAN_REQUEST_TIMEOUT_MS,
        signal,
      });
      // The first batch before any header: a bad label, a full queue or a failed run is still a JSON error.
      const first = await chunks.next();
      const last = seedAt(body.seed, body.count - 1);
      const name = `${model.name}-${body.seed}-${last}`;
      reply
        .header('x-seed-range', `${body.seed}-${last}`)
        .header('x-count', String(body.count))
        .header(
          'content-disposition',
          `attachment; filename="${name}.${body.format === 'tar' ? 'tar' : 'ndjson'}"`,
        )
        .type(MEDIA_TYPES[body.format]);
      async function* all() {
        if (!first.done) yield first.value;
        yield* chunks;
      }
      // Byte mode: the stream buffers one piece beyond what the socket holds before it asks for the next.
      return reply.send(Readable.from(all(), { objectMode: false }) as never);
    },
  );
};
