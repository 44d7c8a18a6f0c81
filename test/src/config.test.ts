import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has defaults for every setting', () => {
    const c = loadConfig({});
    expect(c.GAN_PORT).toBe(8080);
    expect(c.GAN_MODELS_DIR).toBe('./models');
    expect(c.GAN_EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
    expect(c.GAN_MAX_BATCH).toBe(64);
    expect(c.GAN_BATCH_DELAY_MS).toBe(0);
    expect(c.GAN_SHUTDOWN_TIMEOUT_MS).toBe(30_000);
    expect(c.GAN_API_KEYS).toEqual([]);
    expect(c.GAN_INTRA_OP_THREADS).toBe(1);
    expect(c.GAN_INTRA_OP_SPINNING).toBe(false);
    expect(c.GAN_WORKERS).toBeGreaterThanOrEqual(1);
    expect(c.GAN_WORKERS).toBeLessThanOrEqual(4);
  });

  it('parses lists, numbers and booleans', () => {
    const c = loadConfig({
      GAN_EXECUTION_PROVIDERS: 'webgpu, cpu',
      GAN_PORT: '9000',
      GAN_SKIP_BROKEN_MODELS: 'true',
      GAN_API_KEYS: 'a,b',
      GAN_INTRA_OP_SPINNING: 'yes',
      PATH: '/usr/bin',
    });
    expect(c.GAN_EXECUTION_PROVIDERS).toEqual(['webgpu', 'cpu']);
    expect(c.GAN_PORT).toBe(9000);
    expect(c.GAN_SKIP_BROKEN_MODELS).toBe(true);
    expect(c.GAN_API_KEYS).toEqual(['a', 'b']);
    expect(c.GAN_INTRA_OP_SPINNING).toBe(true);
  });

  it('reads GAN_TRUST_PROXY as Fastify takes it: false, true, a hop count or addresses and ranges', () => {
    expect(loadConfig({}).GAN_TRUST_PROXY).toBe(false);
    expect(loadConfig({ GAN_TRUST_PROXY: 'true' }).GAN_TRUST_PROXY).toBe(true);
    expect(loadConfig({ GAN_TRUST_PROXY: '2' }).GAN_TRUST_PROXY).toBe(2);
    expect(loadConfig({ GAN_TRUST_PROXY: '0' }).GAN_TRUST_PROXY).toBe(false);
    expect(loadConfig({ GAN_TRUST_PROXY: '10.0.0.0/8, loopback, ::1' }).GAN_TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
  });

  it.each([
    [{ GAN_PORT: 'eighty' }, /GAN_PORT/],
    [{ GAN_PORT: '70000' }, /GAN_PORT/],
    [{ GAN_EXECUTION_PROVIDERS: 'tpu' }, /GAN_EXECUTION_PROVIDERS/],
    [{ GAN_EXECUTION_PROVIDERS: ' , ' }, /GAN_EXECUTION_PROVIDERS/],
    [{ GAN_MAX_BATCH: '0' }, /GAN_MAX_BATCH/],
    [{ GAN_SKIP_BROKEN_MODELS: 'maybe' }, /GAN_SKIP_BROKEN_MODELS/],
    [
      { GAN_MAX_QUEUE: '8', GAN_MAX_BATCH: '64' },
      /GAN_MAX_QUEUE \(8\) must be at least GAN_MAX_BATCH \(64\)/,
    ],
    [{ GAN_MAX_BACTH: '8' }, /unknown setting: GAN_MAX_BACTH/],
    [
      { GAN_TRUST_PROXY: 'proxy.example' },
      /GAN_TRUST_PROXY: 'proxy.example' is not true, false, a hop count/,
    ],
    [{ GAN_TRUST_PROXY: '10.0.0.0/33' }, /GAN_TRUST_PROXY/],
    [{ GAN_API_KEYS_SCOPE: 'some' }, /GAN_API_KEYS_SCOPE/],
    [{ GAN_MAX_IMAGE_ASPECT_RATIO: '0.5' }, /GAN_MAX_IMAGE_ASPECT_RATIO/],
  ])('rejects %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('docs/configuration.md', () => {
  it('documents every GAN_* setting in its table', async () => {
    const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of Object.keys(configSchema.shape)) expect(doc).toContain(`| \`${key}\` |`);
  });
});
