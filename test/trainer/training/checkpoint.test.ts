/** Checkpoint save → load: the same weights, predictions and Adam state. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstImages, loadDataset } from '../../../trainer/data/datasets.ts';
import { buildDiscriminator, buildGenerator } from '../../../trainer/models/gan.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';
import { loadCheckpoint, readState, saveCheckpoint } from '../../../trainer/training/checkpoint.ts';
import { GanSampler } from '../../../trainer/training/sampler.ts';
import { trainStep } from '../../../trainer/training/step.ts';

let dir: string;

beforeAll(async () => {
  await initTf();
  dir = await mkdtemp(path.join(tmpdir(), 'gan-ckpt-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips a trained conditional DCGAN with its optimizer state', async () => {
    const opts = { arch: 'dcgan' as const, latentDim: 20, numClasses: 10, width: 4 };
    const models = {
      generator: buildGenerator(opts),
      discriminator: buildDiscriminator(opts),
      dOptimizer: tf.train.adam(2e-4, 0.5),
      gOptimizer: tf.train.adam(2e-4, 0.5),
    };
    const test = await loadDataset('mnist', 'test');
    const data = firstImages(test, 64);
    const sampler = new GanSampler(data, 16, 20, 10, 3);
    const cfg = {
      loss: 'non-saturating' as const,
      labelSmoothing: 0.1,
      dSteps: 1,
      latentDim: 20,
      numClasses: 10,
    };
    trainStep(models, cfg, sampler.stepInputs());
    await saveCheckpoint(dir, models, { epoch: 1, step: 1 });
    expect(await readState(dir)).toMatchObject({ epoch: 1, step: 1 });
    const manifest = JSON.parse(await readFile(path.join(dir, 'generator', 'model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths).toEqual(['./weights.bin']);

    const dOpt = tf.train.adam(2e-4, 0.5);
    const gOpt = tf.train.adam(2e-4, 0.5);
    const loaded = await loadCheckpoint(dir, dOpt, gOpt);
    expect(loaded.state.epoch).toBe(1);
    const input = [tf.randomNormal([5, 20], 0, 1, 'float32', 1), tf.tensor2d([0, 1, 2, 3, 9], [5, 1])];
    const a = models.generator.predict(input) as tfTypes.Tensor;
    const b = loaded.generator.predict(input) as tfTypes.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const img = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 2);
    const da = models.discriminator.predict(img) as tfTypes.Tensor[];
    const db = loaded.discriminator.predict(img) as tfTypes.Tensor[];
    expect(Array.from(db[1]!.dataSync())).toEqual(Array.from(da[1]!.dataSync()));
    const saved = await models.dOptimizer.getWeights();
    const restored = await dOpt.getWeights();
    expect(restored.length).toBe(saved.length);
    expect(restored[0]!.name).toBe('iter');
    expect(restored[0]!.tensor.dataSync()[0]).toBe(1);
    expect(Array.from(restored[1]!.tensor.dataSync())).toEqual(Array.from(saved[1]!.tensor.dataSync()));
    tf.dispose([...input, a, b, img, ...da, ...db]);
  });

  it('keeps the averaged generator beside the trained one, and drops a stale one', async () => {
    const opts = { arch: 'mlp' as const, latentDim: 6, numClasses: null, width: 4 };
    const models = {
      generator: buildGenerator(opts),
      discriminator: buildDiscriminator(opts),
      dOptimizer: tf.train.adam(2e-4, 0.5),
      gOptimizer: tf.train.adam(2e-4, 0.5),
    };
    const average = buildGenerator(opts);
    const sub = path.join(dir, 'averaged');
    await saveCheckpoint(sub, { ...models, generatorAverage: average }, { epoch: 2, step: 8 });
    const loaded = await loadCheckpoint(sub, tf.train.adam(1e-3), tf.train.adam(1e-3));
    expect(loaded.generatorAverage).not.toBeNull();
    const z = tf.randomNormal([3, 6], 0, 1, 'float32', 4);
    const a = average.predict(z) as tfTypes.Tensor;
    const b = loaded.generatorAverage!.predict(z) as tfTypes.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    // Resumed without averaging: the next checkpoint must not keep the old average for the exporter.
    await saveCheckpoint(sub, { ...models, generatorAverage: null }, { epoch: 3, step: 12 });
    const again = await loadCheckpoint(sub, tf.train.adam(1e-3), tf.train.adam(1e-3));
    expect(again.generatorAverage).toBeNull();
    tf.dispose([z, a, b]);
  });

  it('reports a folder without state.json as no checkpoint', async () => {
    expect(await readState(path.join(dir, 'missing'))).toBeNull();
    await expect(
      loadCheckpoint(path.join(dir, 'missing'), tf.train.adam(1e-3), tf.train.adam(1e-3)),
    ).rejects.toThrow('expected a complete checkpoint (state.json), found none');
  });
});
