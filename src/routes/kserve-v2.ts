/**
 * The KServe / Triton Open Inference Protocol (v2) over REST: health, server and model metadata, and inference
 * with JSON tensors or Triton's binary tensor data extension. Each served network is a v2 model
 * `<model>-<network>` (src/services/v2-infer.ts, shared with the gRPC service). Errors use the protocol's
 * `{"error": "<message>"}` body.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseContentType } from '../content-type.ts';
import { ServiceError, sendV2Error, toServiceError } from '../errors.ts';
import { noQuerySchema } from '../schemas/common.ts';
import {
  decodeInferBody,
  encodeInferResult,
  HEADER_LENGTH,
  inferRequestSchema,
} from '../services/v2-http-codec.ts';
import { infer, modelMetadata, modelReady, serverMetadata } from '../services/v2-infer.ts';
import { sendJson } from './reply.ts';

const tensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number()) });
const v2Error = z.object({ error: z.string() });
const v2Errors = {
  400: v2Error,
  404: v2Error,
  413: v2Error,
  415: v2Error,
  422: v2Error,
  503: v2Error,
  504: v2Error,
};
const nameParams = z.object({ name: z.string().min(1).max(200) });
const versionParams = nameParams.extend({ version: z.string().min(1).max(64) });
const readiness = z.object({ name: z.string(), ready: z.boolean() });

const metadataResponse = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(tensorMetadata),
  outputs: z.array(tensorMetadata),
});

const inferResponse = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional(),
  outputs: z.array(
    tensorMetadata.extend({
      parameters: z.object({ binary_data_size: z.number() }).optional(),
      data: z.array(z.union([z.number(), z.boolean()])).optional(),
    }),
  ),
});

/** Infer bodies: JSON, or a JSON header plus binary tensors; Triton's clients may send no content type at all. */
const INFER_CONTENT_TYPES = ['', 'application/json', 'application/octet-stream'];

export const kserveV2Routes: FastifyPluginAsyncZod = async (app) => {
  // The protocol's error body for everything under /v2.
  app.setErrorHandler((raw, request, reply) => {
    const err = toServiceError(raw);
    if (err.statusCode >= 500) request.log.error({ err: raw, code: err.code }, 'v2 request failed');
    else request.log.info({ code: err.code, msg: err.message }, 'v2 request rejected');
    return sendV2Error(reply, err);
  });

  app.get(
    '/v2/health/live',
    { schema: { tags: ['kserve-v2'], response: { 200: z.object({ live: z.boolean() }) } } },
    async () => ({ live: true }),
  );

  app.get(
    '/v2/health/ready',
    {
      schema: {
        tags: ['kserve-v2'],
        response: { 200: z.object({ ready: z.boolean() }), 503: z.object({ ready: z.boolean() }) },
      },
    },
    async (_request, reply) => {
      const ready = app.runtime.ready && !app.lifecycle.shuttingDown;
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );

  app.get(
    '/v2',
    {
      schema: {
        tags: ['kserve-v2'],
        summary: 'Server metadata: name, version, the protocol extensions implemented',
        response: {
          200: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }),
        },
      },
    },
    async () => serverMetadata(),
  );

  for (const [url, params] of [
    ['/v2/models/:name', nameParams],
    ['/v2/models/:name/versions/:version', versionParams],
  ] as const) {
    app.get(
      url,
      {
        schema: {
          tags: ['kserve-v2'],
          summary: 'Model metadata (<model>-generator or <model>-discriminator)',
          params,
          response: { 200: metadataResponse, ...v2Errors },
        },
      },
      async (request) => {
        const { name, version } = request.params as { name: string; version?: string };
        return modelMetadata(app.runtime, name, version);
      },
    );
    app.get(
      `${url}/ready`,
      {
        schema: {
          tags: ['kserve-v2'],
          params,
          response: {
            ...v2Errors,
            200: readiness.describe('The model is ready'),
            503: readiness.describe('Not ready yet (still loading, or the runtime is not started)'),
          },
        },
      },
      async (request, reply) => {
        const { name, version } = request.params as { name: string; version?: string };
        const ready = modelReady(app.runtime, name, version);
        return reply.code(ready ? 200 : 503).send({ name, ready });
      },
    );
  }

  // Inference reads its body as bytes: JSON, or a JSON header plus binary tensors (split by the codec).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      const { type } = parseContentType(request.headers['content-type'] ?? '');
      if (!INFER_CONTENT_TYPES.includes(type)) {
        done(
          new ServiceError(
            'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
            `content-type '${type}' is not taken here; send application/json, or application/octet-stream with ${HEADER_LENGTH}`,
            'content-type',
          ),
          undefined,
        );
        return;
      }
      done(null, body);
    });

    for (const [url, params] of [
      ['/v2/models/:name/infer', nameParams],
      ['/v2/models/:name/versions/:version/infer', versionParams],
    ] as const) {
      scope.post(
        url,
        {
          config: {
            inference: true,
            binaryResponse: ['application/octet-stream'],
            requestContent: {
              'application/json': { schema: z.toJSONSchema(inferRequestSchema, { io: 'input' }) },
              // A JSON header of inference-header-content-length bytes, then the binary inputs back to back.
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          schema: {
            tags: ['kserve-v2'],
            summary: 'Inference with JSON tensors or binary tensor data',
            params,
            querystring: noQuerySchema,
            headers: z.object({ [HEADER_LENGTH]: z.string().optional() }),
            response: { 200: inferResponse, ...v2Errors },
          },
        },
        async (request, reply) => {
          const { name, version } = request.params as { name: string; version?: string };
          const body = request.body as Buffer | undefined;
          if (body === undefined || body.length === 0) {
            throw new ServiceError(
              'GAN_ERR_VALIDATION',
              'the body is empty; send a JSON infer request',
              'body',
            );
          }
          const decoded = decodeInferBody(body, request.headers[HEADER_LENGTH]);
          const result = await infer(app.runtime, name, decoded.request, version);
          const { json, binary } = encodeInferResult(result, decoded.binaryOutput);
          // Serialised here: the answer is built by the codec, and checking tens of thousands of numbers against
          // the response schema again cost more than JSON.stringify itself (batch 64 of a 28×28 generator). A few
          // milliseconds at a time, within GAN_MAX_RESPONSE_BYTES: 1,024 rows of 28×28 are 16 MB of JSON.
          if (binary.length === 0) {
            return sendJson(reply, json, {
              field: 'inputs',
              hint: 'ask for fewer rows, or for binary outputs (binary_data_output)',
            });
          }
          const header = Buffer.from(JSON.stringify(json));
          return reply
            .header(HEADER_LENGTH, String(header.length))
            .type('application/octet-stream')
            .send(Buffer.concat([header, ...binary]));
        },
      );
    }
  });
};
