/**
 * The shipped default model end to end: diagnostics over models/ (the real trained generator, the dataset
 * classifier and its reference statistics) must not report mode collapse.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateModelDir } from '../../scripts/evaluate/cli.ts';

const MODELS = process.env.GAN_MODELS_DIR ?? 'models';
const SHIPPED = process.env.GAN_DEFAULT_MODEL ?? 'mnist-dcgan';

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const model = readJson(join(MODELS, SHIPPED, 'model.json'));
const classifierReady =
  model !== null &&
  existsSync(MODELS) &&
  readdirSync(MODELS).some((d) => {
    const c = readJson(join(MODELS, d, 'classifier.json'));
    return (
      c !== null &&
      c.dataset === model.dataset &&
      typeof c.referenceStats === 'string' &&
      existsSync(join(MODELS, d, c.referenceStats))
    );
  });
const why =
  model === null
    ? `no ${MODELS}/${SHIPPED}/model.json yet`
    : 'no classifier with reference statistics for its dataset yet';

describe(`shipped model ${SHIPPED}`, () => {
  it('is not reported collapsed, and sits near the real floor', async () => {
    expect(classifierReady, why).toBe(true);
    const { report } = await evaluateModelDir(join(MODELS, SHIPPED), MODELS, 2000, 0);
    expect(report.referenceProblem).toBeNull();
    expect(report.verdict.collapsed, report.verdict.summary).toBe(false);
    expect(report.modesCovered).toBe(report.classNames.length);
    // A trained generator covers the data: recall well above zero (a collapsed one is near 0).
    expect(report.recall).toBeGreaterThan(0.1);
    expect(report.frechetDistance).toBeGreaterThan(report.floor!.frechetDistance);
  }, 600_000);
});
