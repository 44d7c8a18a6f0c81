/**
 * What a request body may be, checked once for every route: JSON (one parser whose errors say what is wrong and
 * where, refusing repeated keys), images or multipart where a route takes them, nothing compressed or in another
 * charset, and nothing larger than GAN_BODY_LIMIT_BYTES. Refusals that need only the headers are answered before
 * the body is read, and such an answer closes the connection (src/errors.ts `errorHeaders`).
 */
import type { FastifyRequest } from 'fastify';
import { parseContentType } from '../content-type.ts';
import { ServiceError } from '../errors.ts';
import { parseJsonBody } from '../http/json-body.ts';
import { unscoped } from './unscoped.ts';

const ACCEPTED_TRANSFER_CODINGS = new Set(['chunked', 'identity']);

/**
 * Why a request's body is refused from its headers alone, or null: a compressed (gzip, br, …) or non-UTF-8 text body
 * would be misread, and a declared length over the limit is refused before a byte of it is read.
 */
function refusal(request: FastifyRequest, limit: number): ServiceError | null {
  const h = request.headers;
  const transferEncoding = h['transfer-encoding'];
  const hasBody = (h['content-length'] !== undefined && h['content-length'] !== '0') || !!transferEncoding;
  if (!hasBody) return null;
  const declared = Number(h['content-length']);
  if (declared > limit) {
    return new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `the body is ${declared} bytes; the limit is ${limit} (GAN_BODY_LIMIT_BYTES)`,
      'body',
    );
  }
  const encoding = (h['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    return new ServiceError(
      'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
      `content-encoding '${h['content-encoding']}' is not supported; send the body uncompressed`,
      'content-encoding',
    );
  }
  // Node removes `chunked` and hands over what is left as it is: `gzip, chunked` would arrive still compressed.
  if (transferEncoding) {
    const coding = transferEncoding
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .find((c) => c !== '' && !ACCEPTED_TRANSFER_CODINGS.has(c));
    if (coding !== undefined) {
      return new ServiceError(
        'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
        `transfer-encoding '${coding}' is not supported; send the body uncompressed (chunked is fine)`,
        'transfer-encoding',
      );
    }
  }
  // A charset can only come after a `;`: a bare media type (the common case) has nothing more to check.
  const contentType = h['content-type'];
  if (contentType === undefined || !contentType.includes(';')) return null;
  const { type, params } = parseContentType(contentType);
  const charset = params.get('charset');
  const textual = type === 'application/json' || type.endsWith('+json') || type.startsWith('text/');
  if (textual && charset !== undefined && !/^(utf-?8|us-ascii)$/i.test(charset)) {
    return new ServiceError(
      'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
      `charset '${charset}' is not supported; send UTF-8`,
      'content-type',
    );
  }
  return null;
}

export const bodyGuard = unscoped(async (app) => {
  const limit = app.config.GAN_BODY_LIMIT_BYTES;
  // Bodies are JSON, images or multipart; anything else is a 415, not a string handed to a JSON schema.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser drops the parser's message; this one names the problem and refuses repeated keys.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as ServiceError, undefined);
    }
  });

  // Bodies are read as they arrive: a compressed (gzip, br, …) or non-UTF-8 text body would be misread, so refuse
  // it; and a declared length over the limit is refused before a byte of it is read, whatever the content type.
  app.addHook('onRequest', (request, _reply, done) => done(refusal(request, limit) ?? undefined));
});
