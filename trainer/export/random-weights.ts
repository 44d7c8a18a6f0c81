/**
 * Seeded, non-trivial weights for a tfjs model (BatchNorm statistics included), so that exporter parity tests and the
 * export-forms benchmark really exercise biases, folding and every weight: no weight is a trivial 0 or 1.
 */
import * as tf from '@tensorflow/tfjs';
import { RandomState } from '../../src/latent/random-state.ts';

/**
 * Replaces every weight: variances uniform in [0.5, 1.5), everything else normal with standard deviation
 * `gain / sqrt(fanIn)`.
 */
export function randomizeWeights(model: tf.LayersModel, seed = 1, gain = 1): void {
  const rng = new RandomState(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const fresh = layer.weights.map((v, i) => {
      const shape = weights[i]!.shape;
      const size = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? size / shape[shape.length - 1]! : 1;
      const variance = /variance/.test(v.originalName);
      const data = Float32Array.from({ length: size }, () =>
        variance ? 0.5 + rng.random() : (rng.standardNormal() * gain) / Math.sqrt(fanIn),
      );
      return tf.tensor(data, shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}
