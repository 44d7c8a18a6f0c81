/**
 * Rejection sampling: the acceptance function on hand-computed numbers, the seed stream, and the sampler over a
 * real fixture generator/discriminator pair (onnxruntime), checked against an independent pass over every
 * candidate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SEED } from '../../../src/latent/random-state.ts';
import { Metrics } from '../../../src/prometheus.ts';
import { discriminatePixels, generatePixels } from '../../../src/services/images.ts';
import { prepareGeneration } from '../../../src/services/latents.ts';
import {
  acceptanceDraw,
  CALIBRATION_SAMPLES,
  CALIBRATION_SEED,
  calibrationFor,
  calibrationFromLogits,
  candidateSeed,
  clampLogit,
  DRS_EPSILON,
  drsAcceptance,
  drsScore,
  LOGIT_LIMIT,
  percentile,
  sampleWithRejection,
} from '../../../src/services/rejection.ts';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

describe('the DRS acceptance function (Azadi et al. 2019, eq. 8)', () => {
  it('F̂ = logit − log(1 − exp(logit − max − ε)), by hand', () => {
    // e^-2 = 0.1353352832; −log(1 − 0.1353352832) = 0.1454134578
    expect(drsScore(0, 2)).toBeCloseTo(0.1454134578, 6);
    // far below the maximum the correction vanishes: F̂ ≈ logit
    expect(drsScore(-20, 5)).toBeCloseTo(-20, 9);
    // at the maximum itself only ε keeps it finite: max − log(1 − e^−ε) ≈ max − log ε
    expect(drsScore(3, 3)).toBeCloseTo(3 - Math.log(DRS_EPSILON), 4);
    // past max + ε: more real than anything calibrated, always accepted
    expect(drsScore(3.1, 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('acceptance = sigmoid(F̂ − γ), by hand', () => {
    expect(drsAcceptance(0, 2, 0)).toBeCloseTo(1 / (1 + Math.exp(-0.1454134578)), 6); // 0.5362895
    expect(drsAcceptance(0, 2, 0)).toBeCloseTo(0.5362895, 6);
    expect(drsAcceptance(0, 2, 1)).toBeCloseTo(1 / (1 + Math.exp(0.8545865422)), 6); // 0.2984311
    expect(drsAcceptance(-20, 5, 0)).toBeCloseTo(2.06e-9, 10);
    expect(drsAcceptance(3.1, 3, 50)).toBe(1);
    // monotone in the logit and falling in γ
    expect(drsAcceptance(1, 2, 0)).toBeGreaterThan(drsAcceptance(0, 2, 0));
    expect(drsAcceptance(1, 2, 1)).toBeLessThan(drsAcceptance(1, 2, 0));
  });

  it('percentile interpolates between order statistics as NumPy does', () => {
    expect(percentile([5, 1, 4, 2, 3], 80)).toBeCloseTo(4.2, 12);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([7], 80)).toBe(7);
    expect(() => percentile([], 80)).toThrow(RangeError);
  });

  it('calibrates D*max as the largest logit and γ as the 80th percentile of F̂', () => {
    const logits = [-3, -1, 0, 1, 2];
    const c = calibrationFromLogits(logits);
    expect(c.maxLogit).toBe(2);
    expect(c.samples).toBe(5);
    const scores = logits.map((l) => drsScore(l, 2));
    // sorted F̂: −2.9502, −0.9514, 0.1454, 1.4587, 15.8155; the 80th percentile lies between the last two
    expect(c.gamma).toBeCloseTo(scores[3]! + 0.2 * (scores[4]! - scores[3]!), 9);
  });

  it('clamps saturated and missing logits', () => {
    expect(clampLogit(Number.POSITIVE_INFINITY)).toBe(LOGIT_LIMIT);
    expect(clampLogit(Number.NEGATIVE_INFINITY)).toBe(-LOGIT_LIMIT);
    expect(clampLogit(Number.NaN)).toBe(-LOGIT_LIMIT);
    expect(clampLogit(1.5)).toBe(1.5);
  });
});

describe('the candidate seed stream', () => {
  it('starts at the seed itself and stays in uint32, distinct per candidate', () => {
    for (const s of [0, 1, 42, MAX_SEED]) {
      expect(candidateSeed(s, 0)).toBe(s);
      const seen = new Set<number>();
      for (let j = 0; j < 64; j++) {
        const c = candidateSeed(s, j);
        expect(Number.isInteger(c) && c >= 0 && c <= MAX_SEED).toBe(true);
        seen.add(c);
      }
      expect(seen.size).toBe(64);
    }
    // neighbouring seeds do not share candidates
    expect(candidateSeed(1, 1)).not.toBe(candidateSeed(2, 1));
    expect(candidateSeed(7, 3)).toBe(candidateSeed(7, 3));
  });

  it('gives accept draws uniform on [0, 1)', () => {
    const n = 20_000;
    let sum = 0;
    let outside = 0;
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) {
      const u = acceptanceDraw(i, i % 8);
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      bins[Math.min(9, Math.floor(u * 10))]!++;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    for (const b of bins) expect(Math.abs(b / n - 0.1)).toBeLessThan(0.01);
  });
});

describe('sampleWithRejection over a real generator and discriminator', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Logit and pixels of every candidate, scored independently of the sampler. */
  async function allCandidates(modelName: string, seeds: number[], k: number, labels: number[] | null) {
    const model = t.app.runtime.model(modelName);
    const out: number[][] = [];
    for (const s of seeds) {
      const list = Array.from({ length: k }, (_, j) => candidateSeed(s, j));
      const i = seeds.indexOf(s);
      const prepared = prepareGeneration(model, {
        seeds: list,
        ...(labels ? { labels: list.map(() => labels[i]!) } : {}),
      });
      const pixels = await generatePixels(t.app.runtime, model, prepared.input);
      const verdicts = await discriminatePixels(t.app.runtime, model, pixels, prepared.labels);
      out.push(verdicts.map((v) => v.logit));
    }
    return out;
  }

  it('top-k keeps each image’s best-scored candidate and counts the rest as rejected', async () => {
    const model = t.app.runtime.model('tiny');
    const metrics = new Metrics();
    const seeds = [3, 10, 11, 500];
    const result = await sampleWithRejection(
      t.app.runtime,
      model,
      { seeds, labels: null },
      { method: 'top-k', oversample: 5 },
      { maxOversample: 8, metrics },
    );
    const logits = await allCandidates('tiny', seeds, 5, null);
    result.choices.forEach((c, i) => {
      const best = logits[i]!.indexOf(Math.max(...logits[i]!));
      expect(c.candidate).toBe(best);
      expect(c.seed).toBe(candidateSeed(seeds[i]!, best));
      expect(c.requestedSeed).toBe(seeds[i]);
      expect(c.logit).toBeCloseTo(logits[i]![best]!, 5);
      expect(c.chosenBy).toBe('best');
      expect(c.acceptance).toBeNull();
    });
    expect(result.summary).toMatchObject({ method: 'top-k', oversample: 5, candidates: 20, gamma: null });
    const counts = await metrics.rejectionCandidates.get();
    const value = (outcome: string) =>
      counts.values.find((v) => v.labels.outcome === outcome && v.labels.model === 'tiny')?.value;
    expect(value('accepted')).toBe(4);
    expect(value('rejected')).toBe(16);
    // the kept pixels are the kept candidate's own image
    const again = prepareGeneration(model, { seeds: result.choices.map((c) => c.seed) });
    expect(Buffer.from(await generatePixels(t.app.runtime, model, again.input))).toEqual(
      Buffer.from(result.pixels),
    );
  });

  it('drs takes the first candidate whose seeded draw falls under sigmoid(F̂ − γ), else the best', async () => {
    const model = t.app.runtime.model('tiny-conditional');
    const metrics = new Metrics();
    const seeds = Array.from({ length: 24 }, (_, i) => 1000 + i);
    const labels = seeds.map((_, i) => i % 10);
    const k = 4;
    const result = await sampleWithRejection(
      t.app.runtime,
      model,
      { seeds, labels },
      { method: 'drs', oversample: k },
      { maxOversample: 8, metrics },
    );
    const calibration = await calibrationFor(t.app.runtime, model, {});
    expect(calibration.samples).toBe(CALIBRATION_SAMPLES);
    expect(result.summary.gamma).toBe(calibration.gamma);
    expect(result.summary.maxLogit).toBe(calibration.maxLogit);
    const logits = await allCandidates('tiny-conditional', seeds, k, labels);
    let drawn = 0;
    let byDraw = 0;
    seeds.forEach((s, i) => {
      const p = logits[i]!.map((l) => drsAcceptance(l, calibration.maxLogit, calibration.gamma));
      const first = p.findIndex((pj, j) => acceptanceDraw(s, j) < pj);
      const expected = first >= 0 ? first : logits[i]!.indexOf(Math.max(...logits[i]!));
      drawn += first >= 0 ? first + 1 : k;
      if (first >= 0) byDraw++;
      const c = result.choices[i]!;
      expect(c.candidate).toBe(expected);
      expect(c.chosenBy).toBe(first >= 0 ? 'acceptance' : 'best');
      expect(c.acceptance).toBeCloseTo(p[expected]!, 6);
    });
    // both outcomes occur on these seeds, so both paths are exercised
    expect(byDraw).toBeGreaterThan(0);
    expect(byDraw).toBeLessThan(seeds.length);
    expect(result.summary.acceptedByDraw).toBe(byDraw);
    expect(result.summary.candidates).toBe(drawn);
    // the first drs request on this model calibrated it, and counted the samples
    const calibrated = await metrics.rejectionCalibration.get();
    expect(calibrated.values[0]!.value).toBe(CALIBRATION_SAMPLES);
  });

  it('calibrates from fixed seeds, once per model and setting', async () => {
    const model = t.app.runtime.model('tiny');
    const metrics = new Metrics();
    const a = calibrationFor(t.app.runtime, model, { truncation: 0.7 }, metrics);
    const b = calibrationFor(t.app.runtime, model, { truncation: 0.7 }, metrics);
    expect(a).toBe(b);
    const c = await a;
    const prepared = prepareGeneration(model, {
      seeds: Array.from({ length: CALIBRATION_SAMPLES }, (_, i) => CALIBRATION_SEED + i),
      truncation: 0.7,
    });
    const pixels = await generatePixels(t.app.runtime, model, prepared.input);
    const logits = (await discriminatePixels(t.app.runtime, model, pixels, null)).map((v) => v.logit);
    expect(c.maxLogit).toBeCloseTo(Math.max(...logits), 5);
    expect(c.gamma).toBeCloseTo(calibrationFromLogits(logits).gamma, 5);
    const counted = await metrics.rejectionCalibration.get();
    expect(counted.values[0]!.value).toBe(CALIBRATION_SAMPLES);
    expect((await calibrationFor(t.app.runtime, model, { truncation: 0.5 })).gamma).not.toBe(c.gamma);
  });

  it('stops once its signal fires, and counts nothing', async () => {
    const model = t.app.runtime.model('tiny');
    const metrics = new Metrics();
    const gone = new AbortController();
    gone.abort(new Error('client gone'));
    await expect(
      sampleWithRejection(
        t.app.runtime,
        model,
        { seeds: [1, 2], labels: null },
        { method: 'top-k', oversample: 4 },
        { maxOversample: 8, metrics, signal: gone.signal },
      ),
    ).rejects.toThrow('client gone');
    expect((await metrics.rejectionCandidates.get()).values).toEqual([]);
  });

  it('refuses oversample past GAN_MAX_OVERSAMPLE, naming the field', async () => {
    const model = t.app.runtime.model('tiny');
    await expect(
      sampleWithRejection(
        t.app.runtime,
        model,
        { seeds: [1], labels: null },
        { method: 'top-k', oversample: 9 },
        { maxOversample: 8 },
      ),
    ).rejects.toMatchObject({ code: 'GAN_ERR_VALIDATION', field: 'rejection.oversample' });
  });
});
