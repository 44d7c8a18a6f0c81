/**
 * The evaluator's library path (what `npm run evaluate -- --model` runs) over fixture models: the service runtime
 * without HTTP, the table, and the three files it writes.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateModelDir, reportTable, writeReport } from '../../../scripts/evaluate/cli.ts';
import { writeFixtureClassifier, writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';

describe('evaluate --model', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeFixtureModel(dir, { name: 'tiny-collapsed', collapsed: true });
    await writeFixtureModel(dir, { name: 'tiny-fashion', dataset: 'fashion-mnist' });
    await writeFixtureClassifier(dir);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reports the collapsed fixture as collapsed and writes report.json, grid.png, histogram.png', async () => {
    const result = await evaluateModelDir(join(dir, 'tiny-collapsed'), dir, 300, 7);
    const r = result.report;
    expect([r.model, r.samples, r.seed, r.modesCovered, r.verdict.collapsed]).toEqual([
      'tiny-collapsed',
      300,
      7,
      1,
      true,
    ]);
    const table = reportTable(r);
    expect(table.split('\n')[0]).toBe('tiny-collapsed (mnist), judged by classifier; seeds 7..306');
    expect(table).toMatch(/^modes covered +1\/10 {2}-$/m);
    expect(table).toContain(`verdict: ${r.verdict.summary}`);
    const out = join(dir, 'out');
    await writeReport(result, out);
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).histogram).toEqual(r.histogram);
    const grid = await sharp(join(out, 'grid.png')).metadata();
    expect([grid.format, grid.width, grid.height]).toEqual([
      'png',
      150 + (16 * 30 + 2) * 2,
      (10 * 30 + 2) * 2,
    ]);
    const hist = await sharp(join(out, 'histogram.png')).metadata();
    expect([hist.width, hist.height]).toEqual([720, 420]);
  });

  it('says which classifier is missing', async () => {
    await expect(evaluateModelDir(join(dir, 'tiny-fashion'), dir, 100, 0)).rejects.toThrow(
      `no classifier for dataset 'fashion-mnist'`,
    );
  });
});
