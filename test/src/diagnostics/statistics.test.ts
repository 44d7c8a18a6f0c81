/**
 * Mode-collapse metrics on inputs with known answers.
 */
import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import {
  classHistogram,
  codePurity,
  collapseVerdict,
  fitGaussian,
  frechetDistance,
  headClasses,
  klToUniform,
  labelAgreement,
  meanConfidence,
  modesCovered,
  perLabelAgreement,
  precisionRecall,
  predictedClasses,
  rocAuc,
  softmaxRows,
  sqrtPsd,
  unclearSamples,
} from '../../../src/diagnostics/statistics.ts';
import { RandomState } from '../../../src/latent/random-state.ts';

const gaussian = (mean: number[], cov: number[][]) => ({ mean, covariance: new Matrix(cov) });

describe('class histogram, modes, KL', () => {
  it('uniform histogram: KL 0, every mode covered', () => {
    const classes = Array.from({ length: 1000 }, (_, i) => i % 10);
    const h = classHistogram(classes, 10);
    expect(h.counts).toEqual(new Array(10).fill(100));
    expect(klToUniform(h)).toBeCloseTo(0, 12);
    expect(modesCovered(h)).toBe(10);
  });

  it('one class takes all: KL ln 10, one mode', () => {
    const h = classHistogram(new Array(500).fill(3), 10);
    expect(klToUniform(h)).toBeCloseTo(Math.log(10), 12);
    expect(modesCovered(h)).toBe(1);
    expect(headClasses(h)).toEqual({ classes: 1, share: 1 });
  });

  it('two classes equally: KL ln 5; a class under the 2% share is not covered', () => {
    expect(klToUniform(classHistogram([0, 1, 0, 1], 10))).toBeCloseTo(Math.log(5), 12);
    const classes = [...new Array(99).fill(0), 1]; // class 1 holds 1%
    expect(modesCovered(classHistogram(classes, 10))).toBe(1);
  });

  it('unclear samples: share below the threshold, how much the top two hold, the blended pairs', () => {
    // 5 samples over 4 classes: two clear, two 1/3 blends, one spread over everything.
    const probs = Float32Array.of(
      ...[0.95, 0.05, 0, 0],
      ...[0, 0.55, 0, 0.45],
      ...[0, 0.4, 0, 0.6],
      ...[0.25, 0.25, 0.3, 0.2],
      ...[0, 0, 1, 0],
    );
    const u = unclearSamples(probs, 5, 4);
    expect(u.threshold).toBe(0.9);
    expect(u.share).toBeCloseTo(3 / 5, 12);
    expect(u.meanTopTwo).toBeCloseTo((1 + 1 + 0.55) / 3, 6);
    expect(u.pairs).toEqual([
      { classes: [1, 3], share: 2 / 5 },
      { classes: [0, 2], share: expect.closeTo(1 / 5, 12) }, // top 2 (0.3), second 0 (0.25, the first of the ties)
    ]);
    expect(unclearSamples(probs, 5, 4, 0.5).share).toBeCloseTo(1 / 5, 12); // only the spread-out one
    expect(unclearSamples(new Float32Array(0), 0, 4)).toEqual({
      threshold: 0.9,
      share: 0,
      meanTopTwo: 0,
      pairs: [],
    });
    expect(() => unclearSamples(probs, 4, 4)).toThrow('expected 4x4 probabilities, got 20');
  });

  it('rejects class ids out of range', () => {
    expect(() => classHistogram([0, 10], 10)).toThrow('class 10 at 1 is not in 0..9');
  });

  it('argmax, confidence, softmax, label agreement', () => {
    const probs = Float32Array.of(0.1, 0.9, 0.7, 0.3, 0.5, 0.5);
    expect(Array.from(predictedClasses(probs, 3, 2))).toEqual([1, 0, 0]);
    expect(meanConfidence(probs, 3, 2)).toBeCloseTo((0.9 + 0.7 + 0.5) / 3, 6);
    const sm = softmaxRows(Float32Array.of(0, Math.log(3)), 1, 2);
    expect(sm[0]).toBeCloseTo(0.25, 6);
    expect(sm[1]).toBeCloseTo(0.75, 6);
    expect(labelAgreement([0, 1, 2, 3], [0, 1, 0, 0])).toBe(0.5);
    expect(perLabelAgreement([0, 0, 1, 1], [0, 1, 1, 1], 3)).toEqual([
      { label: 0, samples: 2, agreement: 0.5 },
      { label: 1, samples: 2, agreement: 1 },
      { label: 2, samples: 0, agreement: 0 },
    ]);
  });
});

describe('codePurity', () => {
  it('is 1 when each code draws one class, the majority share when codes mix classes', () => {
    expect(codePurity([0, 0, 1, 1, 2], [4, 4, 7, 7, 1], 10, 3)).toBe(1);
    // code 0 draws 4, 4, 9 (majority 2 of 3); code 1 draws 7 and 1 (1 of 2): 3 of 5.
    expect(codePurity([0, 0, 0, 1, 1], [4, 4, 9, 7, 1], 10, 2)).toBeCloseTo(0.6, 12);
    expect(() => codePurity([0, 1], [0], 10, 2)).toThrow(RangeError);
  });
});

describe('Fréchet distance', () => {
  it('fits the unbiased covariance (numpy.cov)', () => {
    // x = [1, 2, 3, 4], y = 2x: var x = 5/3, cov = 10/3, var y = 20/3
    const g = fitGaussian(Float32Array.of(1, 2, 2, 4, 3, 6, 4, 8), 4, 2);
    expect(g.mean).toEqual([2.5, 5]);
    expect(g.covariance.to2DArray().flat()).toEqual(
      [5 / 3, 10 / 3, 10 / 3, 20 / 3].map((v) => expect.closeTo(v, 10)),
    );
  });

  it('square root of a PSD matrix squares back', () => {
    const c = new Matrix([
      [2, 1],
      [1, 2],
    ]);
    const s = sqrtPsd(c);
    expect(s.mmul(s).to2DArray().flat()).toEqual([2, 1, 1, 2].map((v) => expect.closeTo(v, 12)));
  });

  it('identical Gaussians are at distance 0', () => {
    const rng = new RandomState(3);
    const n = 400;
    const d = 16;
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = rng.standardNormal() * (1 + (i % d) / 4);
    const g = fitGaussian(x, n, d);
    expect(frechetDistance(g, g)).toBeLessThan(1e-9);
  });

  it('diagonal Gaussians: ‖μ₁−μ₂‖² + Σ(√a − √b)²', () => {
    const a = gaussian(
      [0, 0, 0],
      [
        [1, 0, 0],
        [0, 4, 0],
        [0, 0, 9],
      ],
    );
    const b = gaussian(
      [1, 2, 2],
      [
        [4, 0, 0],
        [0, 4, 0],
        [0, 0, 1],
      ],
    );
    expect(frechetDistance(a, b)).toBeCloseTo(9 + 1 + 0 + 4, 10);
  });

  it('non-commuting covariances: Tr √(C₁C₂) = √(tr + 2√det) in 2-D', () => {
    // C1C2 = [[2,3],[1,6]]: trace 8, det 9, so Tr √(C1C2) = √14.
    const a = gaussian(
      [0, 0],
      [
        [2, 1],
        [1, 2],
      ],
    );
    const b = gaussian(
      [1, 2],
      [
        [1, 0],
        [0, 3],
      ],
    );
    const expected = 5 + 4 + 4 - 2 * Math.sqrt(14);
    expect(frechetDistance(a, b)).toBeCloseTo(expected, 10);
    expect(frechetDistance(b, a)).toBeCloseTo(expected, 10);
  });

  it('rejects Gaussians of different dimensions', () => {
    expect(() =>
      frechetDistance(
        gaussian([0], [[1]]),
        gaussian(
          [0, 0],
          [
            [1, 0],
            [0, 1],
          ],
        ),
      ),
    ).toThrow('same dimension');
  });
});

describe('precision and recall (k = 3)', () => {
  const f = (xs: number[]) => Float32Array.from(xs);

  it('identical sets: precision 1, recall 1', () => {
    const pts = f([0, 1, 2, 3, 4, 5]);
    expect(precisionRecall(pts, 6, pts, 6, 1)).toEqual({ precision: 1, recall: 1 });
  });

  it('disjoint sets: precision 0, recall 0', () => {
    expect(precisionRecall(f([0, 1, 2, 3, 4, 5]), 6, f([100, 101, 102, 103]), 4, 1)).toEqual({
      precision: 0,
      recall: 0,
    });
  });

  it('mode dropping: fakes in one of two real clusters give precision 1, recall 0.5', () => {
    const real = f([0, 0.1, 0.2, 0.3, 10, 10.1, 10.2, 10.3]);
    const fake = f([0.05, 0.15, 0.25, 0.35]);
    expect(precisionRecall(real, 8, fake, 4, 1)).toEqual({ precision: 1, recall: 0.5 });
  });

  it('an outlying fake lowers precision; its huge ball covers every real point', () => {
    // Real balls cover [−3, 8]; 20 lies outside. The fake 0.5's third neighbour is 20, so its ball covers [−19, 20].
    expect(precisionRecall(f([0, 1, 2, 3, 4, 5]), 6, f([0.5, 1.5, 7, 20]), 4, 1)).toEqual({
      precision: 0.75,
      recall: 1,
    });
  });

  it('works in several dimensions', () => {
    // Square corners (real) vs the same corners shifted by 0.1: every point within its set's 3rd-NN radius.
    const real = f([0, 0, 1, 0, 0, 1, 1, 1]);
    const fake = f([0.1, 0, 1.1, 0, 0.1, 1, 1.1, 1]);
    expect(precisionRecall(real, 4, fake, 4, 2)).toEqual({ precision: 1, recall: 1 });
  });
});

describe('ROC AUC', () => {
  it('perfect, reversed, chance', () => {
    expect(rocAuc([3, 4, 5], [0, 1, 2])).toBe(1);
    expect(rocAuc([0, 1, 2], [3, 4, 5])).toBe(0);
    expect(rocAuc([1, 1, 1], [1, 1])).toBe(0.5);
    expect(rocAuc([1, 3], [2])).toBe(0.5);
  });

  it('counts ordered pairs: 5 of 6', () => {
    expect(rocAuc([0.9, 0.8, 0.3], [0.4, 0.2])).toBeCloseTo(5 / 6, 12);
  });
});

describe('collapseVerdict', () => {
  it('names the head classes of a collapsed histogram', () => {
    const classes = [
      ...new Array(50).fill(3),
      ...new Array(30).fill(7),
      ...new Array(14).fill(1),
      0,
      2,
      4,
      5,
      6,
      8,
    ];
    const h = classHistogram(classes, 10);
    const v = collapseVerdict({ histogram: h, modesCovered: modesCovered(h), klToUniform: klToUniform(h) });
    expect(v.collapsed).toBe(true);
    expect(v.status).toBe('collapsed');
    expect(v.summary).toBe('mode collapse suspected: 3 of 10 classes cover 94% of samples (3, 7, 1)');
    expect(v.findings[0]).toBe('only 3 of 10 classes hold at least 2% of samples, expected ≥ 8');
    expect(v.thresholds.minModesCovered).toBe(8);
    expect(v.thresholds.baseline).toBe('uniform');
  });

  it('judges against real data when its figures are known', () => {
    // A classifier that sees real data in 6 classes with KL 0.75: a generator matching that is not collapsed.
    const classes = [
      ...new Array(40).fill(0),
      ...new Array(30).fill(1),
      ...new Array(10).fill(2),
      ...new Array(10).fill(3),
      ...new Array(5).fill(4),
      ...new Array(5).fill(5),
    ];
    const h = classHistogram(classes, 10);
    const floor = { modesCovered: 6, klToUniform: 0.75, precision: 0.8, recall: 0.8 };
    const v = collapseVerdict({
      histogram: h,
      modesCovered: modesCovered(h),
      klToUniform: klToUniform(h),
      floor,
    });
    expect(v.collapsed).toBe(false);
    expect(v.thresholds).toMatchObject({
      minModesCovered: 5,
      maxKlToUniform: 0.75 + 0.3,
      baseline: 'real held-out data',
    });
    const one = classHistogram(new Array(100).fill(0), 10);
    const w = collapseVerdict({ histogram: one, modesCovered: 1, klToUniform: klToUniform(one), floor });
    expect(w.collapsed).toBe(true);
    expect(w.findings).toEqual([
      'only 1 of 10 classes hold at least 2% of samples (real data: 6), expected ≥ 5',
      'KL(histogram ‖ uniform) is 2.303 nats, limit 1.050 (real data 0.750 + 0.3)',
    ]);
  });

  it('a uniform histogram is not collapsed; imbalance and mode dropping are still reported', () => {
    const h = classHistogram(
      Array.from({ length: 100 }, (_, i) => i % 10),
      10,
    );
    const v = collapseVerdict({
      histogram: h,
      modesCovered: 10,
      klToUniform: 0,
      precisionRecall: { precision: 0.7, recall: 0.2 },
      floor: { modesCovered: 10, klToUniform: 0.004, precision: 0.75, recall: 0.75 },
      discriminatorAuc: 0.999,
    });
    expect(v.collapsed).toBe(false);
    expect(v.findings).toHaveLength(2);
    expect(v.summary).toMatch(
      /^no mode collapse: 10 of 10 classes covered, KL to uniform 0\.000; mode dropping/,
    );
  });
});

describe('epochFigures (the trainer hook)', () => {
  it('one-hot probabilities of a known histogram, agreement, distance 0 against its own Gaussian', async () => {
    const { epochFigures } = await import('../../../src/diagnostics/epoch.ts');
    const classes = [0, 0, 1, 1, 2, 2, 3, 3];
    const probs = new Float32Array(8 * 4);
    classes.forEach((c, i) => {
      probs[i * 4 + c] = 1;
    });
    const features = Float32Array.from({ length: 8 * 2 }, (_, i) => (i * 7919) % 13);
    const figures = epochFigures({
      probs,
      features,
      samples: 8,
      numClasses: 4,
      featureDim: 2,
      requested: Int32Array.from([0, 1, 1, 1, 2, 2, 3, 0]),
      reference: fitGaussian(features, 8, 2),
    });
    expect(figures).toEqual({
      modesCovered: 4,
      klToUniform: 0,
      meanConfidence: 1,
      labelAgreement: 0.75,
      frechetDistance: expect.closeTo(0, 9),
    });
  });
});

describe('precisionRecallYielding', () => {
  it('gives the same answer as precisionRecall and pauses between slices', async () => {
    const { precisionRecallYielding } = await import('../../../src/diagnostics/statistics.ts');
    const rng = new RandomState(5);
    const a = Float32Array.from({ length: 200 * 3 }, () => rng.standardNormal());
    const b = Float32Array.from({ length: 150 * 3 }, () => rng.standardNormal() + 0.5);
    let pauses = 0;
    const got = await precisionRecallYielding(
      a,
      200,
      b,
      150,
      3,
      async () => {
        pauses++;
      },
      50,
    );
    expect(got).toEqual(precisionRecall(a, 200, b, 150, 3));
    expect(pauses).toBe(4 + 3 + 3 + 4);
  });
});
