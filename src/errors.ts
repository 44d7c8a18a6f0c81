/**
 * One catalog of coded errors and the one error handler that turns any thrown error into
 * `{"error": {"code", "message", "field"?}}`. 4xx are logged at info, 5xx at error with the message hidden.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export const ERRORS = {
  GAN_ERR_VALIDATION: 400,
  /** A model load or reload through the repository API failed (the old version, if any, keeps serving). */
  GAN_ERR_MODEL_LOAD_FAILED: 400,
  /** The answer would pass GAN_MAX_RESPONSE_BYTES: ask for fewer rows, or a binary format. */
  GAN_ERR_RESPONSE_TOO_LARGE: 400,
  GAN_ERR_UNAUTHORIZED: 401,
  GAN_ERR_MODEL_NOT_FOUND: 404,
  GAN_ERR_NOT_FOUND: 404,
  GAN_ERR_METHOD_NOT_ALLOWED: 405,
  /** The client took longer than GAN_HTTP_REQUEST_TIMEOUT_MS to send its request. */
  GAN_ERR_REQUEST_TIMEOUT: 408,
  /** The model has no dataset classifier, so it cannot be diagnosed. */
  GAN_ERR_NO_CLASSIFIER: 409,
  /** The model is generator-only: nothing can score images for it. */
  GAN_ERR_NO_DISCRIMINATOR: 409,
  GAN_ERR_PAYLOAD_TOO_LARGE: 413,
  GAN_ERR_URI_TOO_LONG: 414,
  GAN_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  GAN_ERR_UNDECODABLE_IMAGE: 422,
  /** An upload's aspect ratio is further from the model's than GAN_MAX_IMAGE_ASPECT_RATIO allows. */
  GAN_ERR_IMAGE_ASPECT_RATIO: 422,
  /** A network answered NaN or ±Infinity (inputs far outside its range), which JSON cannot carry. */
  GAN_ERR_NON_FINITE_OUTPUT: 422,
  GAN_ERR_RATE_LIMITED: 429,
  GAN_ERR_HEADERS_TOO_LARGE: 431,
  /**
   * The client closed its connection before the answer was ready (nginx's 499): its queued work is dropped. Never
   * reaches the client; logged at info.
   */
  GAN_ERR_CLIENT_CLOSED: 499,
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
  FST_REQ_FILE_TOO_LARGE: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'GAN_ERR_PAYLOAD_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_PROTO_VIOLATION: 'GAN_ERR_VALIDATION',
  FST_ERR_VALIDATION: 'GAN_ERR_VALIDATION',
  FST_ERR_BAD_URL: 'GAN_ERR_VALIDATION',
  FST_ERR_MAX_PARAM_LENGTH: 'GAN_ERR_URI_TOO_LONG',
};

/** The request field each mapped Fastify error is about (the body unless named here). */
const FASTIFY_FIELDS: Record<string, string> = {
  FST_REQ_FILE_TOO_LARGE: 'images',
  FST_FILES_LIMIT: 'images',
  FST_PARTS_LIMIT: 'images',
  FST_ERR_BAD_URL: 'url',
  FST_ERR_MAX_PARAM_LENGTH: 'url',
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
      // fastify-type-provider-zod: the zod issue's path as instancePath, its code as keyword, the rest as params.
      const params = first?.params as { keys?: string[] } | undefined;
      const context = (err as { validationContext?: string }).validationContext;
      const fromInstance: PropertyKey[] = (first?.instancePath ?? '')
        .split('/')
        .filter((seg) => seg !== '')
        .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
      // An unknown key is the field at fault, not the object that holds it.
      const unknownKey = first?.keyword === 'unrecognized_keys' ? params?.keys?.[0] : undefined;
      if (unknownKey !== undefined) fromInstance.push(unknownKey);
      const field = fieldPath(fromInstance) || context;
      const message = first?.message ?? 'invalid request';
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
        mapped === 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE' ? 'content-type' : (FASTIFY_FIELDS[fe.code!] ?? 'body');
      return new ServiceError(mapped, fe.message ?? 'bad request', field);
    }
    // @fastify/static answers a path that escapes its root (`..`) or names a dotfile 403: for the client, no such file.
    if (fe.statusCode === 403) return new ServiceError('GAN_ERR_NOT_FOUND', 'no file at this path');
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

/**
 * Headers every error answer carries: Retry-After when the error has one, and `Connection: close` when the request's
 * body was never read (refused from its headers: too large, compressed, unauthorised, rate-limited, draining), since
 * the unread rest of it means the connection cannot carry another request (nor a later 408 for this one). Every
 * other answer is sent after its body was read in full.
 */
function errorHeaders(reply: FastifyReply, err: ServiceError): void {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  if (!reply.request.raw.complete) reply.header('connection', 'close');
}

export function sendError(reply: FastifyReply, err: ServiceError): FastifyReply {
  errorHeaders(reply, err);
  return reply.code(err.statusCode).type('application/json').send(errorBody(err));
}

/** The KServe v2 protocol's error body, `{"error": "<message>"}`, used for everything under /v2. */
export function sendV2Error(reply: FastifyReply, err: ServiceError): FastifyReply {
  errorHeaders(reply, err);
  const message = err.code === 'GAN_ERR_INTERNAL' ? 'internal error' : err.message;
  return reply.code(err.statusCode).type('application/json').send({ error: message });
}

const isV2Path = (url: string) => url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');

/** An error answered outside any route (unknown path, wrong method, bad URL), in the shape its path promises. */
export function sendErrorFor(request: FastifyRequest, reply: FastifyReply, err: ServiceError): FastifyReply {
  return isV2Path(request.url) ? sendV2Error(reply, err) : sendError(reply, err);
}

/**
 * Node's `clientError` (a malformed request line or header, headers too large, a client too slow to send its
 * request) answered in the same JSON shape as every other error, then the connection closed. Fastify's default
 * writes a body of its own.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ServiceError('GAN_ERR_REQUEST_TIMEOUT', 'the request did not arrive in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new ServiceError('GAN_ERR_HEADERS_TOO_LARGE', 'request headers are too large', 'headers')
        : new ServiceError('GAN_ERR_VALIDATION', `malformed HTTP request (${err.code ?? 'parse error'})`);
  const body = JSON.stringify(errorBody(e));
  // A response already under way on this socket (e.g. a 415 sent before the body stalled) is not followed by a
  // second one; as Node's own handler, only close the connection then.
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !current?.headersSent) {
    socket.write(
      `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Answers that say the service is busy or not yet (or no longer) serving, not that anything broke: a load spike
 * makes thousands, so they are logged at warn, one line without a stack, and at most once per SHED_LOG_INTERVAL_MS
 * per code (the next line counts the ones left out).
 */
const SHED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'GAN_ERR_OVERLOADED',
  'GAN_ERR_TIMEOUT',
  'GAN_ERR_NOT_READY',
  'GAN_ERR_MODEL_UNAVAILABLE',
  'GAN_ERR_SHUTTING_DOWN',
]);
export const SHED_LOG_INTERVAL_MS = 10_000;
/** Per HTTP server (one per app; every plugin context of an app shares it). */
const shedLogState = new WeakMap<object, Map<ErrorCode, { at: number; leftOut: number }>>();

/**
 * Log a failed request: 4xx at info, expected refusals under load (503s, queue timeouts) at warn and throttled,
 * other 5xx at error with the cause.
 */
export function logRequestError(request: FastifyRequest, raw: unknown, err: ServiceError): void {
  if (SHED_CODES.has(err.code)) {
    let state = shedLogState.get(request.server.server);
    if (!state) {
      state = new Map();
      shedLogState.set(request.server.server, state);
    }
    const now = Date.now();
    const last = state.get(err.code);
    if (last && now - last.at < SHED_LOG_INTERVAL_MS) {
      last.leftOut++;
      return;
    }
    state.set(err.code, { at: now, leftOut: 0 });
    request.log.warn(
      { code: err.code, route: request.routeOptions.url, leftOut: last?.leftOut ?? 0 },
      `request refused: ${err.message}`,
    );
  } else if (err.statusCode >= 500) {
    request.log.error({ err: raw, code: err.code }, 'request failed');
  } else {
    request.log.info({ code: err.code, field: err.field, msg: err.message }, 'request rejected');
  }
}

/** The one error handler (and 404 handler) of the app. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toServiceError(raw);
    logRequestError(request, raw, err);
    return sendError(reply, err);
  });
  // Every route's methods by path pattern, to tell "no such path" (404) from "not with this method" (405).
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    if (route.url === '*') return; // a catch-all (CORS preflight) says nothing about which paths exist
    const pattern = new RegExp(
      `^${route.url
        .split('/')
        .map((seg) =>
          seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}$`,
    );
    routes.push({ pattern, methods });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
    // A route that takes this method found nothing (a missing file under a static prefix): that is a 404.
    if (allowed.includes(request.method)) {
      return sendErrorFor(request, reply, new ServiceError('GAN_ERR_NOT_FOUND', `no file at ${path}`));
    }
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendErrorFor(
        request,
        reply,
        new ServiceError(
          'GAN_ERR_METHOD_NOT_ALLOWED',
          `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`,
        ),
      );
    }
    return sendErrorFor(
      request,
      reply,
      new ServiceError('GAN_ERR_NOT_FOUND', `no route ${request.method} ${path}`),
    );
  });
}
