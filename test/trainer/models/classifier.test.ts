import type * as tfTypes from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, toSignedUnit } from '../../../trainer/data/datasets.ts';
import {
  buildClassifier,
  classifierStep,
  FEATURE_DIM,
  predictClasses,
} from '../../../trainer/models/classifier.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

beforeAll(async () => {
  await initTf();
});

describe('buildClassifier', () => {
  it('has two outputs: class probabilities and non-negative penultimate features', () => {
    const model = buildClassifier(10);
    expect(model.outputNames).toEqual(['class_probs', 'features']);
    const [probs, features] = model.predict(
      tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 1),
    ) as tfTypes.Tensor[];
    expect(probs!.shape).toEqual([4, 10]);
    expect(features!.shape).toEqual([4, FEATURE_DIM]);
    expect(Math.min(...features!.dataSync())).toBeGreaterThanOrEqual(0);
    for (const s of tf.sum(probs!, -1).dataSync()) expect(s).toBeCloseTo(1, 5);
    tf.dispose([probs!, features!]);
    model.dispose();
  });

  it('trains on real digits without leaking tensors and the loss falls', { timeout: 240_000 }, async () => {
    const test = await loadDataset('mnist', 'test');
    const n = 32;
    const x = tf.tensor4d(toSignedUnit(test.images.subarray(0, n * 784)), [n, 28, 28, 1]);
    const y = tf.tensor1d(Array.from(test.labels.subarray(0, n)));
    const model = buildClassifier(10);
    const opt = tf.train.adam(2e-3);
    const first = classifierStep(model, opt, x, y, 10);
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 7; i++) last = classifierStep(model, opt, x, y, 10);
    expect(tf.memory().numTensors).toBe(before);
    expect(first).toBeGreaterThan(1.5); // ≈ ln 10 untrained
    expect(last).toBeLessThan(first * 0.8);
    const pred = predictClasses(model, toSignedUnit(test.images.subarray(0, n * 784)), n, 20);
    expect(pred.length).toBe(n);
    expect(pred.every((p) => p >= 0 && p < 10)).toBe(true);
    tf.dispose([x, y]);
  });
});
