/**
 * The playground page at GET /: static files from public/ (plain ES modules and CSS, no build step), calling
 * the public API from the browser. Not an inference route: no API key or rate limit to load the page.
 */
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** public/ beside src/ (and beside dist/ in a build). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public', import.meta.url));

/** The page loads only its own files and calls only its own origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const playgroundRoutes: FastifyPluginAsync = async (app) => {
  // The page holds no data and must load for a visitor to type a key: keys and rate limits never apply to it.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, publicAsset: true };
  });
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/',
    // One route per file, found at start-up: API routes can't be shadowed by a catch-all, and unknown paths
    // fall through to the app's JSON 404.
    wildcard: false,
    index: 'index.html',
    dotfiles: 'ignore',
    schemaHide: true,
    // The page's own policy; the app's security headers (nosniff, …) fill in the rest.
    setHeaders: (reply) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    },
  });
};
