/**
 * Build and start the real app over fixture models in a temp folder, for route tests through `app.inject()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { type Config, testConfig } from '../../src/config.ts';
import { type FixtureModelOptions, writeFixtureClassifier, writeFixtureModel } from '../fixtures/models.ts';

export interface TestApp {
  app: FastifyInstance;
  dir: string;
  close: () => Promise<void>;
}

export async function tempDir(prefix = 'gan-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface StartOptions {
  models?: FixtureModelOptions[];
  classifier?: boolean;
  config?: Partial<Record<keyof Config, string>>;
}

/** Fixture models (default: 'tiny' and 'tiny-conditional'), app built, scanned, started. */
export async function startTestApp(options: StartOptions = {}): Promise<TestApp> {
  const dir = await tempDir();
  for (const m of options.models ?? [{}, { conditional: true }]) await writeFixtureModel(dir, m);
  if (options.classifier) await writeFixtureClassifier(dir);
  const config = testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1', ...options.config });
  const app = await buildApp(config);
  await app.loadModels();
  await app.ready();
  return {
    app,
    dir,
    close: async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A `startTestApp` whose apps are closed after each test (registers the afterEach hook): for files that start an app
 * per test with its own settings.
 */
export function startPerTest(defaults: StartOptions = {}): (options?: StartOptions) => Promise<TestApp> {
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });
  return async (options = {}) => {
    const t = await startTestApp({ ...defaults, ...options });
    apps.push(t);
    return t;
  };
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function json(body: unknown) {
  return { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) };
}
