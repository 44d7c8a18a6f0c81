/**
 * Diagnostics routes through app.inject() over fixture models and the fixture classifier: a collapsed generator
 * (it ignores z) is reported collapsed; with reference statistics built from the tiny generator's own samples
 * (the "real data" of this fixture world) the tiny generator is not, and every reference-based figure is there.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readClassifierManifest,
  referenceFromImages,
  writeReference,
} from '../../../scripts/evaluate/reference.ts';
import { buildApp } from '../../../src/app.ts';
import { testConfig } from '../../../src/config.ts';
import { classifierOf, classifyPixels } from '../../../src/diagnostics/run.ts';
import { codeOfRow } from '../../../src/latent/code.ts';
import { latentForSeed } from '../../../src/latent/random-state.ts';
import { seededLatents, seedRange } from '../../../src/latent/sampling.ts';
import { generatePixels } from '../../../src/services/images.ts';
import { writeFixtureClassifier, writeFixtureModel } from '../../fixtures/models.ts';
import { json, PNG_SIGNATURE, startTestApp, type TestApp, tempDir } from '../../helpers/app.ts';

const diagnose = (app: FastifyInstance, name: string, body: unknown = {}) =>
  app.inject({ method: 'POST', url: `/v1/models/${name}/diagnostics`, ...json(body) });

describe('diagnostics without reference statistics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      models: [
        {},
        { conditional: true },
        { name: 'tiny-collapsed', collapsed: true },
        { name: 'tiny-fashion', dataset: 'fashion-mnist' },
        { name: 'tiny-coded', latentCode: 4 },
        { name: 'tiny-collapsed-coded', collapsed: true, latentCode: 4, latentCodeSupervised: true },
      ],
      classifier: true,
    });
  });
  afterAll(async () => t?.close());

  it('reports a generator that ignores z as collapsed: one class, KL ln 10', async () => {
    const res = await diagnose(t.app, 'tiny-collapsed', { samples: 500, seed: 3 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-model']).toBe('tiny-collapsed');
    const r = res.json();
    expect(r.samples).toBe(500);
    expect(r.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(500);
    expect(Math.max(...r.histogram.counts)).toBe(500);
    expect(r.modesCovered).toBe(1);
    expect(r.klToUniform).toBeCloseTo(Math.log(10), 10);
    expect(r.verdict.collapsed).toBe(true);
    expect(r.verdict.summary).toMatch(
      /^mode collapse suspected: 1 of 10 classes cover 100% of samples \(\d\)$/,
    );
    expect(r.verdict.thresholds).toMatchObject({ modeShare: 0.02, minModesCovered: 8, baseline: 'uniform' });
    expect(r.frechetDistance).toBeNull();
    expect(r.precision).toBeNull();
    expect(r.discriminator).toBeNull();
    expect(r.referenceProblem).toBe(
      "classifier 'classifier' has no reference statistics (npm run evaluate -- --reference --classifier <dir>)",
    );
  });

  it('defaults to 2000 samples from seed 0 and repeats exactly for the same seed', async () => {
    const a = (await diagnose(t.app, 'tiny')).json();
    const b = (await diagnose(t.app, 'tiny', { samples: 2000, seed: 0 })).json();
    expect(a.samples).toBe(2000);
    expect(a.seed).toBe(0);
    expect(b.histogram).toEqual(a.histogram);
    expect(b.meanConfidence).toBe(a.meanConfidence);
    const c = (await diagnose(t.app, 'tiny', { samples: 2000, seed: 1 })).json();
    expect(c.histogram.counts).not.toEqual(a.histogram.counts);
    // The tiny generator spreads over more classes than the collapsed one, whatever this classifier calls them.
    expect(a.modesCovered).toBeGreaterThan(1);
    expect(a.klToUniform).toBeLessThan(Math.log(10) - 0.5);
    expect(a.labelAgreement).toBeNull();
    // Unclear samples: a share of all, pairs (smaller class first) no larger than it in total.
    expect(a.unclear.threshold).toBe(0.9);
    expect(a.unclear.share).toBeGreaterThanOrEqual(0);
    expect(a.unclear.share).toBeLessThanOrEqual(1);
    const pairShares = a.unclear.pairs.map((p: { classes: [number, number]; share: number }) => {
      expect(p.classes[0]).toBeLessThan(p.classes[1]);
      return p.share;
    });
    expect(pairShares.reduce((x: number, y: number) => x + y, 0)).toBeLessThanOrEqual(
      a.unclear.share + 1e-12,
    );
  });

  it('truncation: the same seeds pulled toward the mean give their own report, cached apart', async () => {
    const plain = (await diagnose(t.app, 'tiny', { samples: 500, seed: 5 })).json();
    const truncated = (await diagnose(t.app, 'tiny', { samples: 500, seed: 5, truncation: 0.25 })).json();
    expect(plain.truncation).toBe(1);
    expect(truncated.truncation).toBe(0.25);
    expect(truncated.histogram.counts).not.toEqual(plain.histogram.counts);
    // Again: the cached result, not the untruncated one.
    const again = (await diagnose(t.app, 'tiny', { samples: 500, seed: 5, truncation: 0.25 })).json();
    expect(again.histogram).toEqual(truncated.histogram);
    const png = await t.app.inject(
      '/v1/models/tiny/diagnostics/histogram.png?samples=500&seed=5&truncation=0.25',
    );
    expect(png.statusCode).toBe(200);
    expect(png.rawPayload.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    // The pictures use ψ too: the truncated run's grid and histogram differ from the untruncated ones.
    for (const picture of ['histogram.png', 'grid.png']) {
      const at = (q: string) =>
        t.app
          .inject(`/v1/models/tiny/diagnostics/${picture}?samples=500&seed=5${q}`)
          .then((r) => r.rawPayload);
      expect((await at('&truncation=0.25')).equals(await at('')), picture).toBe(false);
    }
    for (const bad of ['0', '1.5', 'abc', '', '1e-1']) {
      const res = await t.app.inject(`/v1/models/tiny/diagnostics/histogram.png?truncation=${bad}`);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.field, bad).toBe('truncation');
    }
  });

  it('conditional models: labels i mod 10 and per-label agreement', async () => {
    const r = (await diagnose(t.app, 'tiny-conditional', { samples: 1000 })).json();
    expect(r.conditional).toBe(true);
    expect(r.labelAgreement.perLabel).toHaveLength(10);
    for (const l of r.labelAgreement.perLabel) expect(l.samples).toBe(100);
    const mean =
      r.labelAgreement.perLabel.reduce((s: number, l: { agreement: number }) => s + l.agreement, 0) / 10;
    expect(r.labelAgreement.overall).toBeCloseTo(mean, 12);
  });

  it('models with a code read from z: its purity, and for a supervised code how often the class is the code', async () => {
    const plain = (await diagnose(t.app, 'tiny', { samples: 500 })).json();
    expect(plain.code).toBeNull();
    const coded = (await diagnose(t.app, 'tiny-coded', { samples: 500 })).json();
    expect(coded.code).toMatchObject({ categories: 4, supervised: false, agreement: null });
    // At least the largest class share (every code's commonest class holds at least that share of its samples
    // on average), at most 1.
    expect(coded.code.purity).toBeGreaterThanOrEqual(Math.max(...coded.histogram.shares) - 1e-12);
    expect(coded.code.purity).toBeLessThanOrEqual(1);
    // One image for every z: each code draws that one class (purity 1), and the class equals the code for exactly
    // the samples whose code is that class.
    const r = (await diagnose(t.app, 'tiny-collapsed-coded', { samples: 500, seed: 3 })).json();
    const cls = r.histogram.counts.indexOf(500);
    const codes = Array.from({ length: 500 }, (_, i) => codeOfRow(latentForSeed(3 + i, 16), 0, 4));
    expect(r.code).toEqual({
      categories: 4,
      supervised: true,
      purity: 1,
      agreement: codes.filter((c) => c === cls).length / 500,
    });
  });

  it('bad input: each with its code and field', async () => {
    const cases: Array<[string, unknown, number, string, string | undefined]> = [
      ['tiny', { samples: 99 }, 400, 'GAN_ERR_VALIDATION', 'samples'],
      ['tiny', { samples: 10_001 }, 400, 'GAN_ERR_VALIDATION', 'samples'],
      ['tiny', { samples: 150.5 }, 400, 'GAN_ERR_VALIDATION', 'samples'],
      ['tiny', { seed: -1 }, 400, 'GAN_ERR_VALIDATION', 'seed'],
      ['tiny', { truncation: 0 }, 400, 'GAN_ERR_VALIDATION', 'truncation'],
      ['tiny', { truncation: 1.01 }, 400, 'GAN_ERR_VALIDATION', 'truncation'],
      ['tiny', { count: 3 }, 400, 'GAN_ERR_VALIDATION', undefined],
      ['nope', {}, 404, 'GAN_ERR_MODEL_NOT_FOUND', 'name'],
      ['tiny-fashion', {}, 409, 'GAN_ERR_NO_CLASSIFIER', undefined],
    ];
    for (const [name, body, status, code, field] of cases) {
      const res = await diagnose(t.app, name, body);
      expect({ name, body, status: res.statusCode, code: res.json().error.code }).toEqual({
        name,
        body,
        status,
        code,
      });
      if (field) expect(res.json().error.field).toBe(field);
    }
    const msg = (await diagnose(t.app, 'tiny-fashion')).json().error.message;
    expect(msg).toBe(
      "model 'tiny-fashion' has no classifier for dataset 'fashion-mnist': add one (classifier.json, dataset 'fashion-mnist') to the models folder",
    );
  });

  it('grid.png: one row per class; a collapsed generator fills one row and leaves the others empty', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/models/tiny-collapsed/diagnostics/grid.png?samples=200&seed=0&perClass=5&scale=1',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.rawPayload.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const { data, info } = await sharp(res.rawPayload)
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // 150 px label column + 5 tiles of 28 px with 2 px gaps; 10 rows.
    expect(info.width).toBe(150 + 5 * 30 + 2);
    expect(info.height).toBe(10 * 30 + 2);
    const report = (await diagnose(t.app, 'tiny-collapsed', { samples: 200, seed: 0 })).json();
    const full = report.histogram.counts.indexOf(200);
    const tileMean = (row: number, col: number) => {
      let s = 0;
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) s += data[(2 + row * 30 + y) * info.width + 150 + 2 + col * 30 + x]!;
      return s / 784;
    };
    for (let row = 0; row < 10; row++) {
      if (row === full) expect(tileMean(row, 4)).not.toBe(24);
      else expect(tileMean(row, 0)).toBe(24); // empty slot grey
    }
    // Every tile of the full row is the same image: the generator ignores z.
    expect(tileMean(full, 0)).toBe(tileMean(full, 4));
  });

  it('histogram.png: a 720×420 chart; validation applies to the query', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/models/tiny/diagnostics/histogram.png?samples=300',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    const meta = await sharp(res.rawPayload).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 720, 420]);
    const bad = await t.app.inject({
      method: 'GET',
      url: '/v1/models/tiny/diagnostics/grid.png?perClass=33',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.field).toBe('perClass');
    const none = await t.app.inject({
      method: 'GET',
      url: '/v1/models/tiny-fashion/diagnostics/histogram.png',
    });
    expect(none.statusCode).toBe(409);
  });
});

describe('diagnostics with reference statistics', () => {
  let dir: string;
  let app: FastifyInstance;
  const start = async () => {
    const a = await buildApp(testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1' }));
    await a.loadModels();
    await a.ready();
    return a;
  };

  beforeAll(async () => {
    dir = await tempDir();
    await writeFixtureModel(dir, {});
    await writeFixtureModel(dir, { name: 'tiny-collapsed', collapsed: true });
    // The same generator without its discriminator (as most published generators come).
    const only = await writeFixtureModel(dir, { name: 'tiny-generator-only' });
    const manifest = JSON.parse(await readFile(join(only, 'model.json'), 'utf8'));
    await writeFile(join(only, 'model.json'), JSON.stringify({ ...manifest, discriminator: null }));
    await rm(join(only, 'discriminator.onnx'));
    const classifierDir = await writeFixtureClassifier(dir);
    // "Real data" of the fixture world: 4000 samples of the tiny generator from seeds far from the diagnostics'.
    const first = await start();
    const model = first.runtime.model('tiny');
    const count = 4000;
    const images = new Uint8Array(count * 784);
    for (let from = 0; from < count; from += 1000) {
      const latents = seededLatents(seedRange(500_000 + from, 1000), 16);
      images.set(await generatePixels(first.runtime, model, { latents, labels: null }), from * 784);
    }
    const classifier = classifierOf(model);
    const built = await referenceFromImages(
      await readClassifierManifest(classifierDir),
      { images, labels: new Array<number>(count).fill(0), count, source: 'tiny samples' },
      (p) => classifyPixels(first.runtime, classifier, p),
      'test',
    );
    await writeReference(classifierDir, built);
    await first.close();
    app = await start();
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the statistics beside the classifier, small, and points classifier.json at them', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'classifier', 'classifier.json'), 'utf8'));
    expect(manifest.referenceStats).toBe('reference-stats.json');
    const stats = JSON.parse(await readFile(join(dir, 'classifier', 'reference-stats.json'), 'utf8'));
    expect(stats.split).toEqual({ reference: 'tiny samples[0, 2000)', heldOut: 'tiny samples[2000, 4000)' });
    expect(stats.reference.mean).toHaveLength(32);
    expect(stats.reference.covariance).toHaveLength(32 * 32);
    expect(stats.features.count).toBe(1000);
    expect(stats.heldOut.count).toBe(500);
    expect(stats.floor.map((f: { samples: number }) => f.samples)).toEqual([100, 500, 1000, 2000]);
    const sizes = await Promise.all(
      ['reference-stats.json', 'reference-features.bin', 'reference-heldout.bin'].map(
        async (f) => (await readFile(join(dir, 'classifier', f))).length,
      ),
    );
    expect(sizes[1]).toBe(1000 * 32 * 4);
    expect(sizes[2]).toBe(500 * 784);
    for (const s of sizes) expect(s).toBeLessThan(1024 * 1024);
  });

  it('the tiny generator matches its own distribution: not collapsed, distance near the real floor', async () => {
    const r = (await diagnose(app, 'tiny', { samples: 2000, seed: 0 })).json();
    expect(r.referenceProblem).toBeNull();
    expect(r.floor.samples).toBe(2000);
    expect(r.verdict.thresholds.baseline).toBe('real held-out data');
    expect(r.verdict.collapsed).toBe(false);
    expect(r.verdict.findings).toEqual([]);
    expect(r.frechetDistance).toBeGreaterThan(0);
    // Same distribution, same sample size: within a factor of the floor's own sampling noise.
    expect(r.frechetDistance).toBeLessThan(3 * r.floor.frechetDistance + 1e-3);
    expect(r.precision).toBeGreaterThan(0.8 * r.floor.precision);
    expect(r.recall).toBeGreaterThan(0.8 * r.floor.recall);
    // The discriminator sees real and generated images of one distribution: it cannot tell them apart.
    expect(r.discriminator.realImages).toBe(500);
    expect(Math.abs(r.discriminator.auc - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(r.discriminator.meanRealScore - r.discriminator.meanFakeScore)).toBeLessThan(0.05);
  });

  it('a generator-only model gets every figure but the discriminator balance', async () => {
    const res = await diagnose(app, 'tiny-generator-only', { samples: 500, seed: 0 });
    expect(res.statusCode).toBe(200);
    const r = res.json();
    const withD = (await diagnose(app, 'tiny', { samples: 500, seed: 0 })).json();
    expect(r.discriminator).toBeNull();
    expect(withD.discriminator.auc).toBeGreaterThan(0);
    expect(r.frechetDistance).toBe(withD.frechetDistance);
    expect(r.histogram).toEqual(withD.histogram);
  });

  it('the collapsed generator: collapsed, far from the reference, recall near 0', async () => {
    const good = (await diagnose(app, 'tiny', { samples: 1000 })).json();
    const r = (await diagnose(app, 'tiny-collapsed', { samples: 1000 })).json();
    expect(r.verdict.collapsed).toBe(true);
    expect(r.frechetDistance).toBeGreaterThan(10 * good.frechetDistance);
    expect(r.recall).toBeLessThan(0.05);
    expect(r.floor.samples).toBe(1000);
  });

  it('refuses statistics computed with another classifier (probe features differ)', async () => {
    const file = join(dir, 'classifier', 'reference-stats.json');
    const stats = JSON.parse(await readFile(file, 'utf8'));
    stats.probe[0][0] += 1;
    await writeFile(file, JSON.stringify(stats));
    const other = await start();
    try {
      const r = (await diagnose(other, 'tiny', { samples: 100 })).json();
      expect(r.frechetDistance).toBeNull();
      expect(r.referenceProblem).toBe(
        "reference statistics of 'classifier' were computed with a different classifier (probe features differ): recompute them",
      );
    } finally {
      await other.close();
    }
  });
});
