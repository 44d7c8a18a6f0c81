/**
 * Reply helpers shared by routes.
 */
import type { FastifyReply } from 'fastify';

/** Send a binary body (PNG, GIF, WebP) from a route whose declared 200 schema is its JSON form. */
export function sendBinary(reply: FastifyReply, contentType: string, body: Buffer): FastifyReply {
  // The zod type provider types send() by the JSON response schema; a Buffer bypasses serialisation.
  return reply.type(contentType).send(body as never);
}
