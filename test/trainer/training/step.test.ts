/**
 * The GAN builders and trainStep on the wasm backend: output shapes, the exporter's layer set, finite losses of the
 * right sign, and no tensor leak across a step (tfjs-examples' gan_test.js does the same).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstImages, loadDataset } from '../../../trainer/data/datasets.ts';
import { buildDiscriminator, buildGenerator, type ModelOptions } from '../../../trainer/models/gan.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';
import { GanSampler, seedMathRandom } from '../../../trainer/training/sampler.ts';
import { type GanLoss, trainStep } from '../../../trainer/training/step.ts';

const EXPORTABLE = new Set([
  'Dense',
  'Conv2D',
  'Conv2DTranspose',
  'BatchNormalization',
  'LeakyReLU',
  'ReLU',
  'Activation',
  'Reshape',
  'Flatten',
  'Dropout',
  'Embedding',
  'LatentCode',
  'Concatenate',
  'Multiply',
  'InputLayer',
]);

let data: Awaited<ReturnType<typeof loadDataset>>;

beforeAll(async () => {
  await initTf();
  const test = await loadDataset('mnist', 'test');
  // 64 real images are all a step needs.
  data = firstImages(test, 64);
});

const VARIANTS: (ModelOptions & { name: string })[] = [
  { name: 'dcgan', arch: 'dcgan', latentDim: 100, numClasses: null, width: 8 },
  { name: 'dcgan conditional', arch: 'dcgan', latentDim: 100, numClasses: 10, width: 8 },
  { name: 'mlp', arch: 'mlp', latentDim: 100, numClasses: null, width: 32 },
  { name: 'mlp conditional', arch: 'mlp', latentDim: 16, numClasses: 10, width: 32 },
  { name: 'dcgan latent code', arch: 'dcgan', latentDim: 100, numClasses: null, latentCode: 10, width: 8 },
  { name: 'mlp latent code', arch: 'mlp', latentDim: 16, numClasses: null, latentCode: 4, width: 32 },
];

/** Categories of D's second head, if any: ACGAN classes or InfoGAN code. */
const heads = (opts: ModelOptions): number | null => opts.numClasses ?? opts.latentCode ?? null;

function weightsOf(model: tfTypes.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('buildGenerator / buildDiscriminator', () => {
  it.each(VARIANTS)('$name: shapes, outputs and exportable layers only', (opts) => {
    const g = buildGenerator(opts);
    const d = buildDiscriminator(opts);
    tf.tidy(() => {
      const z = tf.randomNormal([3, opts.latentDim]);
      const input = opts.numClasses ? [z, tf.tensor2d([0, 4, 9], [3, 1])] : z;
      const images = g.predict(input) as tfTypes.Tensor;
      expect(images.shape).toEqual([3, 28, 28, 1]);
      const v = images.dataSync();
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
      const out = d.predict(images) as tfTypes.Tensor | tfTypes.Tensor[];
      const categories = heads(opts);
      if (categories) {
        const [validity, probs] = out as tfTypes.Tensor[];
        expect(validity!.shape).toEqual([3, 1]);
        expect(probs!.shape).toEqual([3, categories]);
        expect(Array.from(tf.sum(probs!, -1).dataSync()).every((s) => Math.abs(s - 1) < 1e-5)).toBe(true);
      } else {
        expect((out as tfTypes.Tensor).shape).toEqual([3, 1]);
      }
    });
    expect(d.inputs).toHaveLength(1); // D never takes the label
    expect(g.inputs).toHaveLength(opts.numClasses ? 2 : 1); // a latent code is read from z: no second input
    for (const layer of [...g.layers, ...d.layers]) {
      expect(EXPORTABLE.has(layer.getClassName()), `${layer.name} is ${layer.getClassName()}`).toBe(true);
      if (layer.getClassName() === 'LeakyReLU') expect(layer.getConfig().alpha).toBe(0.2);
    }
    g.dispose();
    d.dispose();
  });
});

describe('trainStep', () => {
  const cases: (ModelOptions & { name: string; loss: GanLoss; dSteps: number })[] = [
    { ...VARIANTS[0]!, loss: 'non-saturating', dSteps: 1 },
    { ...VARIANTS[1]!, loss: 'non-saturating', dSteps: 1 },
    { ...VARIANTS[2]!, loss: 'minimax', dSteps: 2 },
    { ...VARIANTS[3]!, loss: 'non-saturating', dSteps: 1 },
    { ...VARIANTS[4]!, loss: 'non-saturating', dSteps: 1 },
    { ...VARIANTS[5]!, loss: 'non-saturating', dSteps: 2 },
  ];

  it.each(cases)(
    '$name, $loss, $dSteps D step(s): finite losses, updated weights, no tensor leak',
    (opts) => {
      const models = {
        generator: buildGenerator(opts),
        discriminator: buildDiscriminator(opts),
        dOptimizer: tf.train.adam(2e-4, 0.5),
        gOptimizer: tf.train.adam(2e-4, 0.5),
      };
      const sampler = new GanSampler(data, 32, opts.latentDim, opts.numClasses, 7);
      const cfg = {
        loss: opts.loss,
        labelSmoothing: 0.1,
        dSteps: opts.dSteps,
        latentDim: opts.latentDim,
        numClasses: opts.numClasses,
        latentCode: opts.latentCode ?? null,
        infoWeight: 1,
      };
      const g0 = weightsOf(models.generator);
      const d0 = weightsOf(models.discriminator);
      const first = trainStep(models, cfg, sampler.stepInputs()); // creates the Adam slots
      const before = tf.memory().numTensors;
      const second = trainStep(models, cfg, sampler.stepInputs());
      expect(tf.memory().numTensors).toBe(before);
      for (const m of [first, second]) {
        expect(Number.isFinite(m.dLoss) && Number.isFinite(m.gLoss)).toBe(true);
        expect(m.dLoss).toBeGreaterThan(0);
        if (opts.loss === 'non-saturating') expect(m.gLoss).toBeGreaterThan(0);
        else expect(m.gLoss).toBeLessThan(0); // log(1 − D(G(z))) < 0
        expect(m.dReal).toBeGreaterThan(0);
        expect(m.dReal).toBeLessThan(1);
        expect(m.dFake).toBeGreaterThan(0);
        expect(m.dFake).toBeLessThan(1);
        if (heads(opts)) {
          expect(m.classAcc).toBeGreaterThanOrEqual(0);
          expect(m.classAcc).toBeLessThanOrEqual(1);
        } else expect(m.classAcc).toBeNull();
      }
      const changed = (a: Float32Array[], b: Float32Array[]) =>
        a.some((w, i) => w.some((v, j) => v !== b[i]![j]));
      expect(changed(g0, weightsOf(models.generator))).toBe(true);
      expect(changed(d0, weightsOf(models.discriminator))).toBe(true);
      models.generator.dispose();
      models.discriminator.dispose();
      models.dOptimizer.dispose();
      models.gOptimizer.dispose();
    },
  );
});

describe('trainStep with a latent code supervised by labels (--code-labels)', () => {
  const opts = VARIANTS[4]!; // dcgan, latent code of 10
  /** D's loss in the first step from the same initial weights and batches; a second step checks for leaks. */
  const firstDLoss = (codeLabels: boolean): number => {
    seedMathRandom(3);
    const models = {
      generator: buildGenerator(opts),
      discriminator: buildDiscriminator(opts),
      dOptimizer: tf.train.adam(2e-4, 0.5),
      gOptimizer: tf.train.adam(2e-4, 0.5),
    };
    const sampler = new GanSampler(data, 32, opts.latentDim, null, 7, codeLabels);
    const cfg = {
      loss: 'non-saturating' as const,
      labelSmoothing: 0.1,
      dSteps: 1,
      latentDim: opts.latentDim,
      numClasses: null,
      latentCode: 10,
      infoWeight: 1,
      codeLabels,
    };
    const first = trainStep(models, cfg, sampler.stepInputs());
    const before = tf.memory().numTensors;
    const second = trainStep(models, cfg, sampler.stepInputs());
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(second.dLoss) && Number.isFinite(second.gLoss)).toBe(true);
    for (const m of [models.generator, models.discriminator]) m.dispose();
    models.dOptimizer.dispose();
    models.gOptimizer.dispose();
    return first.dLoss;
  };

  it('gives real batches their labels only when asked (the same draws as a conditional run)', () => {
    const asked = new GanSampler(data, 8, 100, null, 1, true).realBatch();
    const conditional = new GanSampler(data, 8, 100, 10, 1).realBatch();
    const plain = new GanSampler(data, 8, 100, null, 1).realBatch();
    expect(Array.from(asked.labels!.dataSync())).toEqual(Array.from(conditional.labels!.dataSync()));
    expect(plain.labels).toBeNull();
    tf.dispose([asked.images, asked.labels!, conditional.images, conditional.labels!, plain.images]);
  });

  it("adds Q's cross-entropy on the real images' labels to D's loss (about ln 10 while Q is untrained)", () => {
    const added = firstDLoss(true) - firstDLoss(false);
    expect(Math.abs(added - Math.log(10))).toBeLessThan(0.5);
  });
});
