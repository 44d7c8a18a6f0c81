/**
 * The service's entry point: the only file that reads process.env, listens, sets server timeouts and installs
 * graceful shutdown. `node dist/server.js` (or `npm start`).
 */
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { StartupError } from './inference/runtime.ts';

function fail(message: string): never {
  process.stderr.write(`gan-serve: ${message}\n`);
  process.exit(1);
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  let app: Awaited<ReturnType<typeof buildApp>>;
  try {
    // Reads and checks every manifest: a broken repository stops here, before anything listens.
    app = await buildApp(config);
  } catch (err) {
    if (err instanceof StartupError) fail(`cannot start:\n${err.message}`);
    throw err;
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.lifecycle.shuttingDown = true;
    app.log.info({ signal }, 'shutting down: readiness is now 503, finishing accepted requests');
    const timer = setTimeout(() => {
      app.log.error(
        `requests still running after GAN_SHUTDOWN_TIMEOUT_MS=${config.GAN_SHUTDOWN_TIMEOUT_MS}; exiting`,
      );
      process.exit(1);
    }, config.GAN_SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    try {
      // Drains the gRPC server (preClose), stops accepting connections, waits for in-flight requests, then runs
      // onClose (releases workers/sessions).
      await app.close();
      app.log.info('shut down cleanly');
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ host: config.GAN_HOST, port: config.GAN_PORT });
  if (config.GAN_GRPC_PORT !== 0) {
    await app.grpc.listen(config.GAN_HOST, config.GAN_GRPC_PORT);
    app.log.info(`gRPC (inference.GRPCInferenceService) on ${config.GAN_HOST}:${config.GAN_GRPC_PORT}`);
  }
  try {
    // Probes answer while the models load: /healthz 200, /readyz 503 until every model is warm.
    await app.loadModels();
  } catch (err) {
    if (err instanceof StartupError) {
      await app.close().catch(() => {});
      fail(`cannot start:\n${err.message}`);
    }
    throw err;
  }
  app.log.info(
    { models: [...app.runtime.models.keys()], default: app.runtime.defaultModel },
    `ready on http://${config.GAN_HOST}:${config.GAN_PORT}`,
  );
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
});
