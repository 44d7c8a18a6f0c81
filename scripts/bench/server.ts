/**
 * The service as the benchmark runs it: the real app built and started as src/server.ts does, plus one extra route,
 * `GET /bench/png`, that returns a fixed 28×28 PNG from memory (the HTTP ceiling: no inference, no encoding).
 * Started by scripts/bench/cli.ts in its own process; configured by the usual GAN_* variables.
 */
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { encodePng } from '../../src/imaging/codec.ts';

const config = loadConfig(process.env);
const app = await buildApp(config, { logger: { level: 'warn' } });
const png = await encodePng({ data: new Uint8Array(28 * 28).fill(128), width: 28, height: 28, channels: 1 });
app.get('/bench/png', { schema: { hide: true } }, async (_request, reply) =>
  reply.type('image/png').send(png),
);
await app.listen({ host: config.GAN_HOST, port: config.GAN_PORT });
await app.loadModels();
process.stdout.write('bench server ready\n');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
