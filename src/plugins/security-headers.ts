/**
 * Security headers on every response, in one place. Pages that set their own policy keep it (the playground's
 * static files, Swagger UI under /docs); everything else — JSON, images, errors — is never sniffed, framed, cached
 * or allowed to load anything.
 */
import { unscoped } from './unscoped.ts';

/** For API responses: they are data, never a document that loads or runs anything. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

const DEFAULTS: Readonly<Record<string, string>> = {
  // Browsers take a body for what content-type says, never for what it looks like.
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Answers depend on the request body and the model loaded: no cache or proxy may keep them.
  'cache-control': 'no-store',
  'content-security-policy': API_CONTENT_SECURITY_POLICY,
};

export const securityHeaders = unscoped(async (app) => {
  // Set as each request arrives, so whatever answers it later (a route, a static file, Swagger UI) replaces the
  // ones it has its own value for. Not an onSend hook: any onSend hook takes every reply off Fastify's direct
  // path to the socket.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(DEFAULTS);
    done();
  });
});
