/**
 * POST /discriminate: score images real-vs-fake with a model's discriminator. Accepts one raw image body
 * (image/png, image/jpeg, image/webp, image/gif), multipart/form-data with several files, or JSON
 * `{images: [<base64>]}`. Results come back in input order.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalid } from '../errors.ts';
import { IMAGE_CONTENT_TYPES, readImageUploads, uploadJsonSchema } from '../http/image-uploads.ts';
import { DecodeQueue } from '../imaging/decode-queue.ts';
import { errorResponses, labelSchema, modelNameSchema, queryInt } from '../schemas/common.ts';
import { scoreUploads } from '../services/discrimination.ts';

export { IMAGE_CONTENT_TYPES } from '../http/image-uploads.ts';

const querySchema = z.strictObject({
  model: modelNameSchema.optional(),
  label: queryInt(labelSchema).optional().describe('Class label, for discriminators that take one'),
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
          'application/json': { schema: z.toJSONSchema(uploadJsonSchema) },
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
      const uploads = await readImageUploads(request, {
        maxImages: config.GAN_MAX_IMAGES_PER_REQUEST,
        bodyLimitBytes: config.GAN_BODY_LIMIT_BYTES,
      });
      const { model: inQuery, label } = request.query;
      if (uploads.model !== undefined && inQuery !== undefined && uploads.model !== inQuery) {
        throw invalid('model', `model is '${inQuery}' in the query but '${uploads.model}' in the body`);
      }
      const model = app.runtime.model(uploads.model ?? inQuery);
      reply.header('x-model', model.name);
      const results = await scoreUploads(
        app.runtime,
        model,
        { files: uploads.files, label, labels: uploads.labels },
        config,
        decodeQueue,
      );
      return { model: model.name, results };
    },
  );
};
