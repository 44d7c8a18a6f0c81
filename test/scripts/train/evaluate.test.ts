import { describe, expect, it } from 'vitest';
import { histogramStats } from '../../../scripts/train/evaluate.ts';

/** One-hot-ish probabilities: sample i is class classes[i] with confidence conf. */
function probs(classes: number[], conf = 0.9): Float32Array {
  const p = new Float32Array(classes.length * 10).fill((1 - conf) / 9);
  classes.forEach((c, i) => {
    p[i * 10 + c] = conf;
  });
  return p;
}

describe('histogramStats', () => {
  it('gives KL 0 and 10 modes for a uniform histogram', () => {
    const classes = Array.from({ length: 100 }, (_, i) => i % 10);
    const s = histogramStats(probs(classes), 100, 10, null);
    expect(s.counts).toEqual(new Array(10).fill(10));
    expect(s.klToUniform).toBeCloseTo(0, 12);
    expect(s.modesCovered).toBe(10);
    expect(s.meanConfidence).toBeCloseTo(0.9, 6);
    expect(s.labelAgreement).toBeNull();
  });

  it('gives KL ln 10 and one mode when a single class takes all', () => {
    const s = histogramStats(probs(new Array(50).fill(3), 0.6), 50, 10, null);
    expect(s.klToUniform).toBeCloseTo(Math.log(10), 12);
    expect(s.modesCovered).toBe(1);
    expect(s.meanConfidence).toBeCloseTo(0.6, 6);
  });

  it('measures label agreement against the requested labels', () => {
    const s = histogramStats(probs([0, 1, 2, 3]), 4, 10, Int32Array.from([0, 1, 5, 3]));
    expect(s.labelAgreement).toBe(0.75);
  });
});
