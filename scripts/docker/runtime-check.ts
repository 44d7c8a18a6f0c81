/**
 * Proves the Docker image's runtime stage without a Docker engine: replays it into a temp folder (only what the
 * Dockerfile copies, its `npm ci --omit=dev`), starts its CMD as its USER with its ENV, waits for /readyz, generates
 * an image, runs its HEALTHCHECK, then stops it with SIGTERM as `docker stop` would.
 *
 *   npx tsx scripts/docker/runtime-check.ts [--keep]     (--keep leaves the replayed image folder for a look)
 *
 * It needs a model in models/; test/scripts/docker/runtime-stage.test.ts does the same with a fixture model.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { freePort } from '../service-process.ts';
import {
  modelFolders,
  pngDimensions,
  type RunningImage,
  replayStage,
  runHealthcheck,
  startImage,
  stopImage,
  waitForStatus,
} from './replay.ts';

const READY_TIMEOUT_MS = 180_000;
/** GAN_SHUTDOWN_TIMEOUT_MS's default plus slack: what `docker stop -t 35` would allow. */
const STOP_GRACE_MS = 35_000;

export const runtimeCheckFlags = z.object({
  keep: z.boolean().default(false).describe('leave the replayed image folder for a look'),
});

export type RuntimeCheckOptions = z.output<typeof runtimeCheckFlags>;

export const cli: CliSpec<typeof runtimeCheckFlags> = {
  command: 'npx tsx scripts/docker/runtime-check.ts',
  description:
    "Proves the Docker image's runtime stage without a Docker engine: replays it into a temp folder, starts its " +
    'CMD, waits for /readyz, generates an image, runs its HEALTHCHECK and stops it with SIGTERM. Needs a model in ' +
    'models/.',
  flags: runtimeCheckFlags,
};

/** Replays, starts, checks and stops the image; rejects at the first step that fails. */
export async function run(o: RuntimeCheckOptions): Promise<void> {
  const keep = o.keep;
  const root = resolve(import.meta.dirname, '../..');
  const workDir = await mkdtemp(join(tmpdir(), 'gan-runtime-check-'));
  let running: RunningImage | null = null;
  try {
    const image = await replayStage({ root, workDir, log: (m) => console.log(m) });
    const modelsDir = image.env.GAN_MODELS_DIR ?? join(image.appDir, 'models');
    const models = await modelFolders(modelsDir);
    if (models.length === 0) {
      throw new Error(`the image's models/ holds no model (${modelsDir}): the service would refuse to start`);
    }
    console.log(`models in the image: ${models.join(', ')}`);
    const port = await freePort();
    running = await startImage(image, port);
    await waitForStatus(running, '/readyz', READY_TIMEOUT_MS);
    console.log('/readyz: 200');

    const res = await fetch(`${running.baseUrl}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seed: 42 }),
    });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) {
      throw new Error(`POST /generate: HTTP ${res.status}: ${body.toString().slice(0, 500)}`);
    }
    const { width, height } = pngDimensions(body);
    console.log(
      `POST /generate {"seed":42}: ${res.headers.get('content-type')}, ${width}×${height}, ${body.length} B`,
    );

    const health = await runHealthcheck(image, port);
    if (health !== 0) throw new Error(`HEALTHCHECK exited ${health}`);
    console.log('HEALTHCHECK: exit 0');

    const stopped = await stopImage(running, STOP_GRACE_MS);
    running = null;
    if (stopped.code !== 0) {
      throw new Error(`after SIGTERM the server exited ${stopped.code ?? stopped.signal}`);
    }
    console.log('SIGTERM: exit 0');
    console.log('runtime stage OK');
  } finally {
    if (running) await stopImage(running, 5_000);
    if (keep) console.log(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
