/**
 * POST /discriminate: score images real-vs-fake with a model's discriminator. Accepts one raw image body
 * (image/png, image/jpeg, image/webp, image/gif), multipart/form-data with several files, or JSON
 * `{images: [<base64>]}`. Results come back in input order.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseContentType } from '../content-type.ts';
import { invalid, ServiceError } from '../errors.ts';
import { readMultipartFiles } from '../http/multipart.ts';
import { decodeAllToModel, type RawImage } from '../imaging/codec.ts';
import { DecodeQueue } from '../imaging/decode-queue.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { errorResponses, labelSchema, modelNameSchema, queryInt } from '../schemas/common.ts';
import { discriminatePixels } from '../services/images.ts';
import { resolveLabels } from './generate.ts';

export const IMAGE_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

const querySchema = z.strictObject({
  model: modelNameSchema.optional(),
  label: queryInt(labelSchema).optional().describe('Class label, for discriminators that take one'),
});

const jsonBodySchema = z.strictObject({
  model: modelNameSchema.optional(),
  images: z.array(z.string().min(1).describe('Image file (PNG, JPEG, WebP, GIF), base64')).min(1),
  labels: z.array(labelSchema).optional(),
});

const resultSchema = z.object({
  model: z.string(),
  results: z.array(
    z.object({
      probabilityReal: z.number().describe('D(x): the discriminator’s probability that the image is real'),
      logit: z.number().describe('The logit of that probability'),
    }),
  ),
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const discriminateRoutes: FastifyPluginAsyncZod = async (app) => {
  const config = app.config;
  app.addContentTypeParser([...IMAGE_CONTENT_TYPES], { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  // Multipart bodies are read only here: elsewhere a multipart body has no parser and gets 415.
  await app.register(multipart, {
    limits: {
      files: config.GAN_MAX_IMAGES_PER_REQUEST,
      fileSize: config.GAN_BODY_LIMIT_BYTES,
      fields: 16,
      parts: config.GAN_MAX_IMAGES_PER_REQUEST + 16,
      fieldSize: 64 * 1024,
    },
  });
  // One queue for the app's decodes: a burst of uploads leaves libuv's other threads to static files and zlib.
  const decodeQueue = new DecodeQueue(config.GAN_DECODE_CONCURRENCY);

  async function decodeAll(
    model: ServedModel,
    files: Array<{ data: Buffer; field: string }>,
  ): Promise<Uint8Array> {
    const { width, height, channels } = model.manifest.image;
    const images: RawImage[] = await decodeAllToModel(files, {
      width,
      height,
      channels,
      maxPixels: config.GAN_MAX_IMAGE_PIXELS,
      maxSide: config.GAN_MAX_IMAGE_SIDE,
      maxAspectRatio: config.GAN_MAX_IMAGE_ASPECT_RATIO,
      maxTotalPixels: config.GAN_MAX_DECODE_PIXELS,
      budgetField: files.length === 1 ? files[0]!.field : 'images',
      queue: decodeQueue,
    });
    const perImage = width * height * channels;
    const out = new Uint8Array(images.length * perImage);
    images.forEach((img, i) => {
      out.set(img.data, i * perImage);
    });
    return out;
  }

  app.post(
    '/discriminate',
    {
      config: {
        inference: true,
        requestContent: {
          ...Object.fromEntries(
            IMAGE_CONTENT_TYPES.map((t) => [t, { schema: { type: 'string', format: 'binary' } }]),
          ),
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: { file: { type: 'array', items: { type: 'string', format: 'binary' } } },
            },
          },
          'application/json': { schema: z.toJSONSchema(jsonBodySchema) },
        },
      },
      schema: {
        tags: ['discriminate'],
        summary: 'Score images real-vs-fake',
        description:
          'Body: one raw image (image/png, image/jpeg, image/webp, image/gif), multipart/form-data with one or more files, or JSON {"images": [<base64>]}. Images are converted to the model’s channels and size.',
        querystring: querySchema,
        response: { 200: resultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const contentType = parseContentType(request.headers['content-type'] ?? '').type;
      const files: Array<{ data: Buffer; field: string }> = [];
      let modelName = request.query.model;
      let labels: number[] | undefined;
      const max = config.GAN_MAX_IMAGES_PER_REQUEST;

      if ((IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) {
        files.push({ data: request.body as Buffer, field: 'body' });
      } else if (contentType === 'multipart/form-data') {
        files.push(...(await readMultipartFiles(request, config.GAN_BODY_LIMIT_BYTES)));
      } else if (contentType === 'application/json') {
        // Count before anything is decoded: a million tiny entries must not cost a million buffers.
        const images = (request.body as { images?: unknown } | null)?.images;
        if (Array.isArray(images) && images.length > max) {
          throw new ServiceError(
            'GAN_ERR_PAYLOAD_TOO_LARGE',
            `at most ${max} images per request, got ${images.length}`,
            'images',
          );
        }
        const parsed = jsonBodySchema.safeParse(request.body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          const field = ['body', ...issue.path.map(String)]
            .join('.')
            .replace(/\.(\d+)/g, '[$1]')
            .replace(/^body\./, '');
          throw invalid(field, `${field}: ${issue.message}`);
        }
        if (parsed.data.model !== undefined) {
          if (modelName !== undefined && modelName !== parsed.data.model) {
            throw invalid(
              'model',
              `model is '${modelName}' in the query but '${parsed.data.model}' in the body`,
            );
          }
          modelName = parsed.data.model;
        }
        labels = parsed.data.labels;
        parsed.data.images.forEach((b64, i) => {
          // A data: URL prefix, line breaks (what `base64` prints) and the URL-safe alphabet are all accepted.
          const clean = b64
            .replace(/^data:image\/[a-z]+;base64,/, '')
            .replace(/\s+/g, '')
            .replace(/-/g, '+')
            .replace(/_/g, '/');
          if (!BASE64.test(clean) || clean.replace(/=+$/, '').length % 4 === 1) {
            throw invalid(`images[${i}]`, `images[${i}] is not base64`);
          }
          files.push({ data: Buffer.from(clean, 'base64'), field: `images[${i}]` });
        });
      } else {
        throw new ServiceError(
          'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
          `content-type must be one of ${[...IMAGE_CONTENT_TYPES, 'multipart/form-data', 'application/json'].join(', ')}; got '${contentType || 'none'}'`,
          'content-type',
        );
      }
      if (files.length === 0) throw invalid('images', 'no image in the request');
      if (files.length > max) {
        throw new ServiceError(
          'GAN_ERR_PAYLOAD_TOO_LARGE',
          `at most ${max} images per request, got ${files.length}`,
          'images',
        );
      }
      const model = app.runtime.model(modelName);
      reply.header('x-model', model.name);
      const wantsLabel = model.manifest.discriminator.labelInput !== null;
      const resolved = wantsLabel ? resolveLabels(model, files.length, request.query.label, labels) : null;
      if (!wantsLabel && (request.query.label !== undefined || labels !== undefined)) {
        throw invalid(
          request.query.label !== undefined ? 'label' : 'labels',
          `the discriminator of '${model.name}' takes no label`,
        );
      }
      const pixels = await decodeAll(model, files);
      const results = await discriminatePixels(app.runtime, model, pixels, resolved);
      return { model: model.name, results };
    },
  );
};
