/**
 * Diagnostics with rejection sampling: the samples judged are exactly the images /generate keeps with the same
 * option (POST …/diagnostics over app.inject(), and the evaluator's library path), the cost counts against the
 * diagnostics budget, and bad options get a 4xx naming the field.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateModelDir, reportTable } from '../../../scripts/evaluate/cli.ts';
import { writeDcganModel } from '../../../scripts/onnx/family-models.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { classifierOf, classifyPixels } from '../../../src/diagnostics/run.ts';
import { classHistogram, predictedClasses } from '../../../src/diagnostics/statistics.ts';
import { generatePixels } from '../../../src/services/images.ts';
import { prepareGeneration } from '../../../src/services/latents.ts';
import { writeFixtureClassifier, writeFixtureModel } from '../../fixtures/models.ts';
import { json, startTestApp, type TestApp, tempDir } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ classifier: true });
});
afterAll(async () => t?.close());

const diagnose = (name: string, body: unknown) =>
  t.app.inject({ method: 'POST', url: `/v1/models/${name}/diagnostics`, ...json(body) });

/** The class histogram of the images of these seeds, classified as the diagnostics do. */
async function histogramOf(modelName: string, seeds: number[], labels?: number[]) {
  const model = t.app.runtime.model(modelName);
  const classifier = classifierOf(model);
  const prepared = prepareGeneration(model, { seeds, ...(labels ? { labels } : {}) });
  const pixels = await generatePixels(t.app.runtime, model, prepared.input);
  const { probs } = await classifyPixels(t.app.runtime, classifier, pixels);
  const k = classifier.manifest.classNames.length;
  return classHistogram(predictedClasses(probs, seeds.length, k), k).counts;
}

describe('POST /v1/models/:name/diagnostics with rejection', () => {
  it.each(['top-k', 'drs'] as const)(
    '%s: judges the images /generate keeps for the same seeds',
    async (method) => {
      const rejection = { method, oversample: 3 };
      const res = await diagnose('tiny-conditional', { samples: 200, seed: 50, rejection });
      expect(res.statusCode).toBe(200);
      const r = res.json();
      expect(r.rejection).toMatchObject({ method, oversample: 3 });
      if (method === 'top-k') expect(r.rejection.candidates).toBe(600);
      else expect(r.rejection.acceptedByDraw).toBeGreaterThan(0);
      // the same samples through /generate: label i mod 10 for sample i, as the diagnostics ask
      const labels = Array.from({ length: 200 }, (_, i) => i % 10);
      const kept = await t.app.inject({
        method: 'POST',
        url: '/generate',
        ...json({ model: 'tiny-conditional', seed: 50, count: 200, labels, format: 'json', rejection }),
      });
      const seeds = kept.json<{ images: Array<{ seed: number }> }>().images.map((i) => i.seed);
      expect(r.histogram.counts).toEqual(await histogramOf('tiny-conditional', seeds, labels));
      // and not those of the requested seeds themselves (some candidate other than 0 was kept)
      expect(seeds.some((s, i) => s !== 50 + i)).toBe(true);
      const plain = (await diagnose('tiny-conditional', { samples: 200, seed: 50 })).json();
      expect(plain.rejection).toBeNull();
    },
  );

  it('counts samples × oversample against GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT', async () => {
    const res = await diagnose('tiny', { samples: 4000, rejection: { method: 'top-k', oversample: 3 } });
    expect(res.statusCode).toBe(400);
    const err = res.json().error;
    expect(err.field).toBe('samples');
    expect(err.message).toContain('4000 × oversample 3 = 12000');
  });

  it.each([
    [{ method: 'drs', oversample: 9 }, 'rejection.oversample'],
    [{ method: 'top-k', oversample: 2, gamma: 0 }, 'rejection.gamma'],
    [{ method: 'nope' }, 'rejection.method'],
  ])('refuses %j with a 400 naming %s', async (rejection, field) => {
    const res = await diagnose('tiny', { samples: 100, rejection });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.field).toBe(field);
  });

  it('answers 409 naming rejection for a generator-only model', async () => {
    const dir = await tempDir('gan-diagnostics-generator-only-');
    await writeDcganModel(dir, { name: 'generator-only', discriminator: false });
    const app = await buildApp(testConfig({ GAN_MODELS_DIR: dir }));
    try {
      await app.loadModels();
      const res = await app.inject({
        method: 'POST',
        url: '/v1/models/generator-only/diagnostics',
        ...json({ rejection: { method: 'top-k', oversample: 2 } }),
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'GAN_ERR_NO_DISCRIMINATOR', field: 'rejection' });
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run evaluate --rejection (the library path)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeFixtureModel(dir, { name: 'tiny' });
    await writeFixtureClassifier(dir);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('judges the kept samples and says so in the table', async () => {
    const result = await evaluateModelDir(join(dir, 'tiny'), dir, 150, 9, 1, {
      method: 'top-k',
      oversample: 2,
    });
    expect(result.report.rejection).toMatchObject({ method: 'top-k', oversample: 2, candidates: 300 });
    expect(reportTable(result.report).split('\n')[0]).toBe(
      'tiny (mnist), judged by classifier; seeds 9..158, rejection top-k ×2 (300 candidates)',
    );
    const kept = await t.app.inject({
      method: 'POST',
      url: '/generate',
      ...json({ seed: 9, count: 150, format: 'json', rejection: { method: 'top-k', oversample: 2 } }),
    });
    const seeds = kept.json<{ images: Array<{ seed: number }> }>().images.map((i) => i.seed);
    expect(result.report.histogram.counts).toEqual(await histogramOf('tiny', seeds));
  });
});
