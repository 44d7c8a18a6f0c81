/**
 * The model runtime as a plugin: built and decorated as `app.runtime`, its repository read when the app is built
 * (a bad manifest fails `buildApp` with a StartupError naming it), its models loaded and warmed by `app.loadModels()`
 * (the server calls it once it listens, so probes answer while models load; tests, benchmarks and evaluate call it
 * right away), and everything released when the app closes. Every caller builds the app the same way.
 */
import type { FastifyInstance } from 'fastify';
import { ModelRuntime } from '../inference/runtime.ts';
import { unscoped } from './unscoped.ts';

declare module 'fastify' {
  interface FastifyInstance {
    runtime: ModelRuntime;
    /** Load, check and warm up every model the configuration asks for (throws StartupError when it cannot). */
    loadModels(): Promise<void>;
  }
}

export interface ModelRuntimeOptions extends Record<string, unknown> {
  /** A runtime built elsewhere (tests); by default one over the app's configuration and metrics. */
  runtime?: ModelRuntime;
}

export const modelRuntime = unscoped<ModelRuntimeOptions>(async (app: FastifyInstance, options) => {
  const runtime = options.runtime ?? new ModelRuntime(app.config, app.log, app.metrics);
  app.decorate('runtime', runtime);
  app.decorate('loadModels', () => runtime.start());
  app.addHook('onClose', async () => {
    await runtime.close();
  });
  await runtime.scan();
});
