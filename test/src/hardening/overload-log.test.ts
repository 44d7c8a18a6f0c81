/**
 * Expected refusals under load (503 overloaded) are logged at warn, one line without a stack or file paths, and
 * throttled; a real failure is still logged at error with its cause.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { SHED_LOG_INTERVAL_MS } from '../../../src/errors.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { json, type TestApp, tempDir } from '../../helpers/app.ts';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  leftOut?: number;
  err?: { stack?: string };
}

const lines: LogLine[] = [];
let t: TestApp;
beforeAll(async () => {
  const dir = await tempDir();
  await writeFixtureModel(dir, {});
  const config = testConfig({
    GAN_MODELS_DIR: dir,
    GAN_LOG_LEVEL: 'info',
    // A request of 2 images never fits a queue of 1: refused at once, every time.
    GAN_MAX_BATCH: '1',
    GAN_MAX_QUEUE: '1',
  });
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const app = await buildApp(config, { logger: { level: 'info', stream } });
  await app.loadModels();
  await app.ready();
  t = { app, dir, close: () => app.close() };
});
afterAll(async () => {
  await t.close();
});

describe('logging of overload refusals', () => {
  it('logs a burst of 503s as one warn line without a stack, then counts the ones it left out', async () => {
    lines.length = 0;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1, count: 2 }) }),
      ),
    );
    for (const res of answers) {
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('GAN_ERR_OVERLOADED');
    }
    const refused = lines.filter((l) => l.code === 'GAN_ERR_OVERLOADED');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.level).toBe(40); // warn
    expect(refused[0]!.msg).toMatch(/^request refused: model 'tiny' has 0 images queued; the limit is 1$/);
    expect(JSON.stringify(refused[0])).not.toMatch(/stack|\.ts:|node_modules/);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    // The next line, once the interval has passed, says how many were left out.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + SHED_LOG_INTERVAL_MS + 1);
      await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1, count: 2 }) });
    } finally {
      vi.useRealTimers();
    }
    const next = lines.filter((l) => l.code === 'GAN_ERR_OVERLOADED');
    expect(next).toHaveLength(2);
    expect(next[1]).toMatchObject({ level: 40, leftOut: 19 });
  });
});
