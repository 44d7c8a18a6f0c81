/**
 * What fastify-plugin does, for our own cross-cutting plugins: register a plugin in its parent's scope, so that its
 * hooks, parsers and decorators apply to every route of the app rather than only to routes it registers itself.
 */
import type { FastifyPluginAsync } from 'fastify';

export function unscoped<Options extends Record<string, unknown> = Record<never, never>>(
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
