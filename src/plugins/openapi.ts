/**
 * The OpenAPI document, generated from the routes' zod schemas: served at /openapi.json, browsable at /docs (Swagger
 * UI), committed as openapi.yaml by `npm run openapi`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { API_VERSION } from '../version.ts';
import { unscoped } from './unscoped.ts';

/**
 * jsonSchemaTransform, plus what zod schemas can't say: binary alternatives (image/png, …) for 200 responses, and
 * the content types of bodies a route parses itself.
 */
const documentBinaryResponses: typeof jsonSchemaTransform = (args) => {
  const out = jsonSchemaTransform(args);
  const config = args.route.config as
    | { binaryResponse?: string[]; requestContent?: Record<string, unknown>; inference?: boolean }
    | undefined;
  if (config?.inference) {
    // API keys (GAN_API_KEYS) and rate limits (GAN_RATE_LIMIT_PER_MINUTE) apply here, when configured.
    const schema = out.schema as Record<string, unknown>;
    schema.security = [{}, { bearer: [] }];
    const responses = schema.response as Record<string, unknown> | undefined;
    if (responses?.['400']) {
      responses['401'] = responses['400'];
      responses['429'] = responses['400'];
    }
  }
  const binary = config?.binaryResponse;
  if (config?.requestContent) {
    (out.schema as Record<string, unknown>).body = { content: config.requestContent };
  }
  const response = out.schema.response as Record<string, unknown> | undefined;
  if (binary && response?.['200']) {
    const json = response['200'] as { description?: string };
    const content: Record<string, unknown> = { 'application/json': { schema: json } };
    for (const type of binary) content[type] = { schema: { type: 'string', format: 'binary' } };
    response['200'] = { description: json.description ?? 'OK', content };
  }
  return out;
};

export const openapi = unscoped(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gan-serve',
        description:
          'Serve GAN generators and discriminators from ONNX: sample images from seeds or latents, score images real-vs-fake.',
        version: API_VERSION,
      },
      tags: [
        { name: 'generate', description: 'Sampling' },
        { name: 'discriminate', description: 'Real-vs-fake scoring' },
        { name: 'models', description: 'Served models' },
        { name: 'health', description: 'Liveness, readiness, metrics' },
        { name: 'repository', description: 'Model control: load, reload and unload models while serving' },
        {
          name: 'kserve-v2',
          description: 'KServe / Triton Open Inference Protocol (v2): JSON tensors or binary tensor data',
        },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: documentBinaryResponses,
  });
  // Swagger UI's pages carry their own Content-Security-Policy (script and style hashes of its inline code).
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
