import { describe, expect, it } from 'vitest';
import { epochFigures } from '../../../src/diagnostics/epoch.ts';
import { classHistogram, predictedClasses } from '../../../src/diagnostics/statistics.ts';

/** One-hot-ish probabilities: sample i is class classes[i] with confidence conf. */
function probs(classes: number[], conf = 0.9): Float32Array {
  const p = new Float32Array(classes.length * 10).fill((1 - conf) / 9);
  classes.forEach((c, i) => {
    p[i * 10 + c] = conf;
  });
  return p;
}

/** The class figures evaluateEpoch reports, from probabilities float32 [n, 10] (no features, no reference). */
function histogramStats(p: Float32Array, n: number, requested: Int32Array | null) {
  return {
    counts: classHistogram(predictedClasses(p, n, 10), 10).counts,
    ...epochFigures({
      probs: p,
      features: null,
      samples: n,
      numClasses: 10,
      featureDim: 0,
      requested,
      reference: null,
    }),
  };
}

describe('class figures of an epoch (epochFigures, as evaluateEpoch computes them)', () => {
  it('gives KL 0 and 10 modes for a uniform histogram', () => {
    const classes = Array.from({ length: 100 }, (_, i) => i % 10);
    const s = histogramStats(probs(classes), 100, null);
    expect(s.counts).toEqual(new Array(10).fill(10));
    expect(s.klToUniform).toBeCloseTo(0, 12);
    expect(s.modesCovered).toBe(10);
    expect(s.meanConfidence).toBeCloseTo(0.9, 6);
    expect(s.labelAgreement).toBeNull();
  });

  it('gives KL ln 10 and one mode when a single class takes all', () => {
    const s = histogramStats(probs(new Array(50).fill(3), 0.6), 50, null);
    expect(s.klToUniform).toBeCloseTo(Math.log(10), 12);
    expect(s.modesCovered).toBe(1);
    expect(s.meanConfidence).toBeCloseTo(0.6, 6);
  });

  it('measures label agreement against the requested labels', () => {
    const s = histogramStats(probs([0, 1, 2, 3]), 4, Int32Array.from([0, 1, 5, 3]));
    expect(s.labelAgreement).toBe(0.75);
  });
});

describe('evaluateEpoch with real models', () => {
  it('measures a tiny generator with a tiny classifier, Fréchet distance included', async () => {
    const { initTf, tf } = await import('../../../trainer/tfjs/backend.ts');
    const { evaluateEpoch, referenceGaussian } = await import('../../../trainer/training/evaluate.ts');
    const { buildGenerator } = await import('../../../trainer/models/gan.ts');
    const { buildClassifier } = await import('../../../trainer/models/classifier.ts');
    const { firstImages, loadDataset } = await import('../../../trainer/data/datasets.ts');
    await initTf();
    const test = await loadDataset('mnist', 'test');
    const real = firstImages(test, 300);
    const classifier = buildClassifier(10);
    const reference = referenceGaussian(classifier, real);
    expect(reference!.mean).toHaveLength(128);
    const generator = buildGenerator({ arch: 'mlp', latentDim: 8, numClasses: 10, width: 8 });
    const before = tf.memory().numTensors;
    const e = evaluateEpoch(generator, classifier, { latentDim: 8, numClasses: 10, samples: 300, reference });
    expect(tf.memory().numTensors).toBe(before);
    expect(e.samples).toBe(300);
    expect(e.modesCovered).toBeGreaterThanOrEqual(1);
    expect(e.klToUniform).toBeGreaterThanOrEqual(0);
    expect(e.klToUniform).toBeLessThanOrEqual(Math.log(10) + 1e-9);
    expect(e.meanConfidence).toBeGreaterThanOrEqual(0.1 - 1e-6);
    expect(e.labelAgreement).toBeGreaterThanOrEqual(0);
    expect(e.frechetDistance).toBeGreaterThan(0); // untrained noise is far from real digits
    expect(e.codePurity).toBeUndefined();
    // An InfoGAN code model: purity is at least 1/10 (Σ over codes of a max ≥ N ÷ 10 classes) and at most 1.
    const coded = buildGenerator({ arch: 'mlp', latentDim: 8, numClasses: null, latentCode: 4, width: 8 });
    const c = evaluateEpoch(coded, classifier, {
      latentDim: 8,
      numClasses: null,
      samples: 300,
      latentCode: 4,
    });
    expect(c.codePurity).toBeGreaterThanOrEqual(0.1);
    expect(c.codePurity).toBeLessThanOrEqual(1);
    expect(c.labelAgreement).toBeNull();
    expect(c.codeAgreement).toBeUndefined();
    // Trained with labels on the code: class = code is measured too, and can never beat the purity (each code's
    // own class is at most its commonest one).
    const s = evaluateEpoch(coded, classifier, {
      latentDim: 8,
      numClasses: null,
      samples: 300,
      latentCode: 4,
      codeLabels: true,
    });
    expect(s.codePurity).toBe(c.codePurity);
    expect(s.codeAgreement).toBeGreaterThanOrEqual(0);
    expect(s.codeAgreement).toBeLessThanOrEqual(s.codePurity!);
    generator.dispose();
    coded.dispose();
  }, 180_000);
});
