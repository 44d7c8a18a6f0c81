/** The generator's weight average: exact update rule, BatchNorm statistics included, no tensor leak. */
import type * as tfTypes from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGenerator } from '../../../trainer/models/gan.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';
import { GeneratorAverage } from '../../../trainer/training/average.ts';

const OPTS = { arch: 'dcgan' as const, latentDim: 8, numClasses: null, width: 2 };

beforeAll(async () => {
  await initTf();
});

function weights(model: tfTypes.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync()));
}

/** Sets every weight of `model` to a deterministic pattern that depends on `salt`. */
function fill(model: tfTypes.LayersModel, salt: number): void {
  model.setWeights(
    model.weights.map((w, i) =>
      tf.tensor(
        Float32Array.from({ length: w.read().size }, (_, j) => Math.sin(j * 0.37 + i + salt)),
        w.shape as number[],
      ),
    ),
  );
}

describe('GeneratorAverage', () => {
  it('starts as a copy and moves (1 − decay) of the way towards the trained weights', () => {
    const source = buildGenerator(OPTS);
    fill(source, 1);
    const average = new GeneratorAverage(source, buildGenerator(OPTS), 0.75, true);
    expect(weights(average.model)).toEqual(weights(source));
    const start = weights(source);
    fill(source, 2); // as if an optimizer step changed every weight, BatchNorm statistics included
    const target = weights(source);
    const before = tf.memory().numTensors;
    average.update();
    average.update();
    expect(tf.memory().numTensors).toBe(before);
    const got = weights(average.model);
    // Two steps of a ← a + 0.25 (t − a) from a = s: a = t + 0.75² (s − t).
    const names = average.model.weights.map((w) => w.name);
    expect(names.some((n) => n.includes('moving_mean'))).toBe(true);
    got.forEach((w, i) => {
      const expected = target[i]!.map((t, j) => t + 0.5625 * (start[i]![j]! - t));
      for (let j = 0; j < w.length; j++) expect(w[j]).toBeCloseTo(expected[j]!, 5);
    });
    expect(weights(source)).toEqual(target); // the trained generator is untouched
    average.dispose();
    source.dispose();
  });

  it('warms up: the decay is min(decay, (1 + step) / (10 + step))', () => {
    const source = buildGenerator(OPTS);
    fill(source, 1);
    const average = new GeneratorAverage(source, buildGenerator(OPTS), 0.999, true);
    expect(average.decayAt(0)).toBeCloseTo(0.1, 12);
    expect(average.decayAt(90)).toBeCloseTo(0.91, 12);
    expect(average.decayAt(100_000)).toBe(0.999);
    expect(average.decayAt(Number.POSITIVE_INFINITY)).toBe(0.999);
    const start = weights(source);
    fill(source, 2);
    const target = weights(source);
    average.update(0); // d = 0.1: 90% of the way to the trained weights
    weights(average.model).forEach((w, i) => {
      for (let j = 0; j < w.length; j += 7) {
        expect(w[j]).toBeCloseTo(target[i]![j]! + 0.1 * (start[i]![j]! - target[i]![j]!), 5);
      }
    });
    average.dispose();
    source.dispose();
  });

  it('keeps a resumed average instead of copying the generator', () => {
    const source = buildGenerator(OPTS);
    fill(source, 1);
    const saved = buildGenerator(OPTS);
    fill(saved, 3);
    const expected = weights(saved);
    const average = new GeneratorAverage(source, saved, 0.9, false);
    expect(weights(average.model)).toEqual(expected);
    average.dispose();
    source.dispose();
  });

  it('rejects a decay outside (0, 1) and a model of another shape', () => {
    const source = buildGenerator(OPTS);
    expect(() => new GeneratorAverage(source, buildGenerator(OPTS), 1, true)).toThrow(
      'EMA decay must lie in (0, 1), got 1',
    );
    expect(() => new GeneratorAverage(source, buildGenerator({ ...OPTS, width: 3 }), 0.9, true)).toThrow(
      /averaged generator: weight shapes/,
    );
    source.dispose();
  });
});
