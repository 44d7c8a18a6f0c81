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
  private readonly factor: tfTypes.Scalar;

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
    this.factor = tf.keep(tf.scalar(1 - decay));
    if (initialise) tf.tidy(() => model.setWeights(source.weights.map((w) => w.read())));
  }

  /** One step: average ← average + (1 − decay)·(weight − average), for every weight. */
  update(): void {
    tf.tidy(() => {
      this.source.weights.forEach((w, i) => {
        const avg = this.model.weights[i]!;
        const current = avg.read();
        avg.write(current.add(w.read().sub(current).mul(this.factor)));
      });
    });
  }

  dispose(): void {
    this.factor.dispose();
    this.model.dispose();
  }
}
