/**
 * One catalog of coded errors and the one error handler that turns any thrown error into
 * `{"error": {"code", "message", "field"?}}`. 4xx are logged at info, 5xx at error with the message hidden.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export const ERRORS = {
  GAN_ERR_VALIDATION: 400,
  GAN_ERR_UNAUTHORIZED: 401,
  GAN_ERR_MODEL_NOT_FOUND: 404,
  GAN_ERR_NOT_FOUND: 404,
  GAN_ERR_METHOD_NOT_ALLOWED: 405,
  /** The model has no dataset classifier, so it cannot be diagnosed. */
  GAN_ERR_NO_CLASSIFIER: 409,
  GAN_ERR_PAYLOAD_TOO_LARGE: 413,
  GAN_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  GAN_ERR_UNDECODABLE_IMAGE: 422,
  GAN_ERR_RATE_LIMITED: 429,
  GAN_ERR_INTERNAL: 500,
  GAN_ERR_INFERENCE_FAILED: 500,
  GAN_ERR_WORKER_CRASHED: 500,
  GAN_ERR_NOT_READY: 503,
  GAN_ERR_MODEL_UNAVAILABLE: 503,
  GAN_ERR_OVERLOADED: 503,
  GAN_ERR_SHUTTING_DOWN: 503,
  GAN_ERR_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly statusCode: number;
  /** Seconds, for 503/429 answers. */
  retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = ERRORS[code];
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export const invalid = (field: string, message: string) =>
  new ServiceError('GAN_ERR_VALIDATION', message, field);

/** Fastify's own error codes for bad requests, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'GAN_ERR_VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'GAN_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'GAN_ERR_VALIDATION',
  FST_ERR_CTP_EMPTY_TYPE: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_REQ_FILE_TOO_LARGE: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_PROTO_VIOLATION: 'GAN_ERR_VALIDATION',
  FST_ERR_VALIDATION: 'GAN_ERR_VALIDATION',
};

/** Turn a zod issue path into the field name a client sees: `latents[0][3]`, `body.seed`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc ? `${acc}.${String(key)}` : String(key);
  }, '');
}

/** Any thrown value as a ServiceError: ours as they are, Fastify's and zod's mapped, the rest a hidden 500. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err !== null && typeof err === 'object') {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      const params = first?.params as { issue?: { path?: PropertyKey[]; message?: string } } | undefined;
      const path = params?.issue?.path ?? [];
      const context = (err as { validationContext?: string }).validationContext;
      const fromInstance = (first?.instancePath ?? '')
        .split('/')
        .filter((seg) => seg !== '')
        .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
      const field = fieldPath(path.length > 0 ? path : fromInstance) || context;
      const message = params?.issue?.message ?? first?.message ?? 'invalid request';
      const named = field !== undefined && field !== context;
      return new ServiceError(
        'GAN_ERR_VALIDATION',
        `${named ? `${field}: ` : ''}${message}`,
        field || undefined,
      );
    }
    const fe = err as Partial<FastifyError> & { part?: unknown };
    const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (mapped) {
      const field =
        mapped === 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE'
          ? 'content-type'
          : mapped === 'GAN_ERR_VALIDATION'
            ? 'body'
            : 'body';
      return new ServiceError(mapped, fe.message ?? 'bad request', field);
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code: ErrorCode =
        fe.statusCode === 413
          ? 'GAN_ERR_PAYLOAD_TOO_LARGE'
          : fe.statusCode === 415
            ? 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE'
            : fe.statusCode === 429
              ? 'GAN_ERR_RATE_LIMITED'
              : fe.statusCode === 404
                ? 'GAN_ERR_NOT_FOUND'
                : 'GAN_ERR_VALIDATION';
      const out = new ServiceError(code, fe.message ?? 'bad request');
      (out as { statusCode: number }).statusCode = fe.statusCode;
      return out;
    }
  }
  return new ServiceError('GAN_ERR_INTERNAL', 'internal error', undefined, { cause: err });
}

export function errorBody(err: ServiceError): ErrorBody {
  const message = err.statusCode >= 500 && err.code === 'GAN_ERR_INTERNAL' ? 'internal error' : err.message;
  return { error: { code: err.code, message, ...(err.field ? { field: err.field } : {}) } };
}

export function sendError(reply: FastifyReply, err: ServiceError): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  return reply.code(err.statusCode).type('application/json').send(errorBody(err));
}

/** The one error handler (and 404 handler) of the app. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toServiceError(raw);
    if (err.statusCode >= 500) {
      request.log.error({ err: raw, code: err.code }, 'request failed');
    } else {
      request.log.info({ code: err.code, field: err.field, msg: err.message }, 'request rejected');
    }
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new ServiceError('GAN_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
