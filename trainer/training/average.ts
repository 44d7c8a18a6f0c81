/**
 * An exponential moving average of the generator's weights (`--ema-decay`), the "averaged generator" of
 * Yazıcı et al. 2019 (The Unusual Effectiveness of Averaging in GAN Training) and of StyleGAN/BigGAN: after every
 * generator step each averaged weight moves (1 − decay) of the way towards the trained one. The trained generator
 * keeps playing the adversarial game; the average, which smooths out its oscillation around the equilibrium, is
 * what gets evaluated, drawn and exported. BatchNorm's moving statistics are averaged like every other weight.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';

export class GeneratorAverage {
  readonly decay: number;
  readonly source: tfTypes.LayersModel;
  readonly model: tfTypes.LayersModel;

  /**
   * @param source the generator being trained
   * @param model a generator of the same architecture that holds the average; with `initialise`, its weights
   *   start as a copy of the source's (a new average), otherwise they are kept (a resumed one)
   */
  constructor(source: tfTypes.LayersModel, model: tfTypes.LayersModel, decay: number, initialise: boolean) {
    if (!(decay > 0 && decay < 1)) throw new Error(`EMA decay must lie in (0, 1), got ${decay}`);
    const shapes = (m: tfTypes.LayersModel) => m.weights.map((w) => w.shape.join('x')).join(',');
    if (shapes(source) !== shapes(model)) {
      throw new Error(`averaged generator: weight shapes [${shapes(model)}] differ from [${shapes(source)}]`);
    }
    this.decay = decay;
    this.source = source;
    this.model = model;
    if (initialise) tf.tidy(() => model.setWeights(source.weights.map((w) => w.read())));
  }

  /**
   * The decay at training step `step` (counted from the start of the run): min(decay, (1 + step) / (10 + step)), the
   * warm-up of TensorFlow's ExponentialMovingAverage with num_updates, so an average started from the random
   * initialisation forgets it within a few hundred steps instead of a few thousand. Measured without it: after the
   * first epoch of a fresh run the average scored confidence 0.388 and Fréchet 654 where the trained generator
   * scored 0.778 and 231 (runs/mnist-dcgan-w64).
   */
  decayAt(step: number): number {
    return Number.isFinite(step) ? Math.min(this.decay, (1 + step) / (10 + step)) : this.decay;
  }

  /**
   * One step: average ← average + (1 − d)·(weight − average), for every weight, d = decayAt(step); without a step,
   * d is the full decay.
   */
  update(step = Number.POSITIVE_INFINITY): void {
    const d = this.decayAt(step);
    tf.tidy(() => {
      const factor = tf.scalar(1 - d);
      this.source.weights.forEach((w, i) => {
        const avg = this.model.weights[i]!;
        const current = avg.read();
        avg.write(current.add(w.read().sub(current).mul(factor)));
      });
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
