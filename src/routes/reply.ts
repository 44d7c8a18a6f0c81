/**
 * Reply helpers shared by routes.
 */
import type { FastifyReply } from 'fastify';
import { type JsonResponseOptions, serializeJson } from '../http/json-response.ts';

/** Send a binary body (PNG, GIF, WebP) from a route whose declared 200 schema is its JSON form. */
export function sendBinary(reply: FastifyReply, contentType: string, body: Buffer): FastifyReply {
  // The zod type provider types send() by the JSON response schema; a Buffer bypasses serialisation.
  return reply.type(contentType).send(body as never);
}

/**
 * Send a JSON body that may be large (many images, many numbers): serialised a few milliseconds at a time so the
 * event loop keeps serving, and refused with 400 GAN_ERR_RESPONSE_TOO_LARGE past GAN_MAX_RESPONSE_BYTES. The
 * value is not checked against the route's response schema: its type is.
 */
export async function sendJson<T>(
  reply: FastifyReply,
  value: T,
  options: Omit<JsonResponseOptions, 'maxBytes'> = {},
): Promise<FastifyReply> {
  const body = await serializeJson(value, {
    maxBytes: reply.server.config.GAN_MAX_RESPONSE_BYTES,
    ...options,
  });
  return reply.type('application/json; charset=utf-8').send(body as never);
}
