/**
 * The Docker image's runtime stage, proven without a Docker engine. scripts/docker/replay.ts reads the
 * Dockerfile and replays its default target, build stage included, into a temp folder: only what the COPY lines
 * copy (through .dockerignore), the stage's own `npm ci --omit=dev`, its ENV, USER, CMD and HEALTHCHECK. A runtime
 * dependency left in devDependencies, a file the image forgot or an ENV the service rejects fails here.
 *
 * Slow by nature (tsc, an npm install from the local cache, a server start): about a minute on 2 cores. Until
 * trained models are committed, the image's models/ gets a fixture model, as a volume would provide.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  modelFolders,
  pngDimensions,
  type ReplayedImage,
  type RunningImage,
  replayStage,
  runHealthcheck,
  startImage,
  stopImage,
  waitForStatus,
} from '../../../scripts/docker/replay.ts';
import { freePort } from '../../../scripts/service-process.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';

const root = resolve(import.meta.dirname, '../../..');
const READY_TIMEOUT_MS = 180_000;

let workDir: string;
let image: ReplayedImage;
let running: RunningImage | null = null;
let port: number;
let model: { name: string; width: number; height: number };

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gan-runtime-stage-'));
  image = await replayStage({ root, workDir, missingAsEmpty: ['models'] });
  const modelsDir = image.env.GAN_MODELS_DIR;
  if (!modelsDir) throw new Error('the runtime stage sets no GAN_MODELS_DIR');
  if ((await modelFolders(modelsDir)).length === 0) await writeFixtureModel(modelsDir);
  const name = (await modelFolders(modelsDir))[0]!;
  const manifest = JSON.parse(await readFile(join(modelsDir, name, 'model.json'), 'utf8'));
  model = { name: manifest.name, width: manifest.image.width, height: manifest.image.height };
  port = await freePort();
  running = await startImage(image, port);
  await waitForStatus(running, '/readyz', READY_TIMEOUT_MS);
  // About a minute alone on 2 cores; several minutes when other heavy test files share the machine.
}, 900_000);

afterAll(async () => {
  if (running) await stopImage(running, 10_000);
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

describe('Dockerfile runtime stage, replayed outside Docker', () => {
  it('is the default target and holds only what its COPY lines bring', async () => {
    expect(image.stage.name).toBe('runtime');
    expect((await readdir(image.appDir)).sort()).toEqual(
      ['.npmrc', 'dist', 'models', 'node_modules', 'package-lock.json', 'package.json', 'public'].sort(),
    );
    expect(image.cmd).toEqual(['node', 'dist/server.js']);
  });

  it('installs production dependencies only, keeping sharp’s libvips and this platform’s onnxruntime', async () => {
    const modules = await readdir(join(image.appDir, 'node_modules'));
    for (const dev of ['typescript', 'vitest', '@tensorflow', '@biomejs', 'tsx'])
      expect(modules).not.toContain(dev);
    const img = await readdir(join(image.appDir, 'node_modules/@img'));
    expect(img).toContain(`sharp-${process.platform}-${process.arch}`);
    expect(img).toContain(`sharp-libvips-${process.platform}-${process.arch}`);
    const ortBin = join(image.appDir, 'node_modules/onnxruntime-node/bin/napi-v6');
    expect(await readdir(join(ortBin, process.platform))).toEqual([process.arch]);
    expect((await readdir(ortBin)).filter((p) => p !== process.platform)).toEqual([]);
  });

  it('declares a numeric non-root USER', () => {
    expect(image.user).toEqual({ uid: 1000, gid: 1000 });
  });

  // Only root can start the replayed stage under another uid: elsewhere this is reported skipped, not passed.
  it.skipIf(process.getuid?.() !== 0)('runs as that USER', async () => {
    const status = await readFile(`/proc/${running!.child.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+1000\s/m);
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${running!.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${running!.baseUrl}/readyz`)).status).toBe(200);
  });

  it('POST /generate {"seed":42} returns a PNG of the model’s size', async () => {
    const res = await fetch(`${running!.baseUrl}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seed: 42 }),
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status, body.toString().slice(0, 300)).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/png/);
    expect(pngDimensions(body)).toEqual({ width: model.width, height: model.height });
  });

  it('serves the playground page from the copied public/', async () => {
    const res = await fetch(`${running!.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('exports the queue-depth gauge the autoscaler alternative scales on', async () => {
    const text = await (await fetch(`${running!.baseUrl}/metrics`)).text();
    expect(text).toMatch(/^# TYPE gan_queue_depth gauge$/m);
  });

  it('HEALTHCHECK passes against the server and fails when nothing listens', async () => {
    expect(await runHealthcheck(image, port)).toBe(0);
    expect(await runHealthcheck(image, await freePort())).not.toBe(0);
  }, 120_000);

  it('exits 0 on SIGTERM, as `docker stop` and the kubelet send it', async () => {
    const stopped = await stopImage(running!, 40_000);
    running = null;
    expect(stopped).toEqual({ code: 0, signal: null });
  }, 60_000);
});
