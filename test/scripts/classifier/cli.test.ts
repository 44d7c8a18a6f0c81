/**
 * The classifier CLI in-process on a few steps: the checkpoint, classifier.json and metrics it writes, a
 * continuation from its checkpoint, and its flags.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifierCli, run } from '../../../scripts/classifier/cli.ts';
import { parseArgv } from '../../../scripts/cli-args.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

let dir: string;
beforeAll(async () => {
  await initTf();
  dir = await mkdtemp(path.join(tmpdir(), 'classifier-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run train:classifier', () => {
  it('trains, measures test accuracy per class and continues from its checkpoint', {
    timeout: 300_000,
  }, async () => {
    const out = path.join(dir, 'run');
    const lines: string[] = [];
    const argv = [
      '--out',
      out,
      '--epochs',
      '1',
      '--batch-size',
      '16',
      '--steps-per-epoch',
      '3',
      '--seed',
      '7',
    ];
    const parsed = parseArgv(classifierCli, argv);
    if (parsed.help) throw new Error('unexpected --help');
    const before = tf.memory().numTensors;
    const summary = await run(parsed.options, { argv, log: (line) => lines.push(line) });
    expect(tf.memory().numTensors).toBe(before);
    expect(existsSync(path.join(out, 'checkpoint', 'classifier', 'model.json'))).toBe(true);
    const written = JSON.parse(await readFile(path.join(out, 'classifier.json'), 'utf8'));
    expect(written).toEqual(summary);
    expect(written).toMatchObject({
      dataset: 'mnist',
      testCount: 10_000,
      epochs: 1,
      batchSize: 16,
      seed: 7,
      featureDim: 128,
      initFrom: null,
      command: `npm run train:classifier -- ${argv.join(' ')}`,
    });
    expect(written.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(written.testAccuracy).toBeLessThanOrEqual(1);
    expect(written.perClass).toHaveLength(10);
    expect(written.perClass.reduce((n: number, c: { count: number }) => n + c.count, 0)).toBe(10_000);
    expect(lines.at(-1)).toMatch(/^test accuracy [0-9.]+% → .*classifier\.json$/);
    const metrics = (await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(metrics.map((l) => JSON.parse(l).epoch)).toEqual([1]);

    // A continuation appends to the history and counts the earlier epochs.
    const more = await run(
      {
        out,
        epochs: 1,
        batchSize: 16,
        stepsPerEpoch: 2,
        lr: 1e-4,
        init: path.join(out, 'checkpoint', 'classifier'),
      },
      { log: () => {} },
    );
    expect(more).toMatchObject({ epochs: 2, epochsPlanned: 2, initFrom: { epochs: 1 } });
    expect(more?.command).toContain('--init ');
    expect((await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('names the flag it refuses', () => {
    const refusal = (argv: string[]) => {
      try {
        parseArgv(classifierCli, argv);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refusal([])).toBe('--out: is required');
    expect(refusal(['--out', 'x', '--epochs', '0'])).toBe('--epochs: expected at least 1, got 0');
    expect(refusal(['--out', 'x', '--lr', '0'])).toBe('--lr: expected more than 0, got 0');
    expect(refusal(['--out', 'x', '--dataset', 'cifar10'])).toBe(
      '--dataset: expected mnist or fashion-mnist, got cifar10',
    );
    expect(parseArgv(classifierCli, ['--out', 'x'])).toEqual({
      help: false,
      options: { dataset: 'mnist', out: 'x', epochs: 4, batchSize: 128, lr: 1e-3, seed: 1 },
    });
  });
});
