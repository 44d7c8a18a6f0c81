/**
 * Shared helpers for exporter tests: random (non-trivial) weights, so BatchNorm statistics and biases matter, and a
 * parity assertion across every exporter form.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { type ConvertOptions, convertLayersModel } from '../../scripts/export/convert.ts';
import { measureParity, PARITY_TOLERANCE } from '../../scripts/export/parity.ts';
import { RandomState } from '../../src/latent/random-state.ts';

/** Replaces every weight with seeded random values (variances positive), so no weight is a trivial 0 or 1. */
export function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  const rng = new RandomState(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const fresh = layer.weights.map((v, i) => {
      const shape = weights[i]!.shape;
      const size = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? size / shape[shape.length - 1]! : 1;
      const scale = /variance/.test(v.originalName) ? 0 : 1 / Math.sqrt(fanIn);
      const data = Float32Array.from({ length: size }, () =>
        scale === 0 ? 0.5 + rng.random() : rng.standardNormal() * scale,
      );
      return tf.tensor(data, shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

export const FORMS: Record<string, ConvertOptions> = {
  default: {},
  nhwc: { layout: 'nhwc', foldBatchNorm: false },
  depthToSpace: { convTranspose: 'depthToSpace' },
};

/** Converts `model` in every form and asserts ONNX matches tfjs within the export tolerance on 256 inputs. */
export async function expectParity(
  model: tf.LayersModel,
  options: ConvertOptions = {},
  samples = 256,
): Promise<number> {
  let worst = 0;
  for (const [form, extra] of Object.entries(FORMS)) {
    const converted = convertLayersModel(model, { ...extra, ...options });
    const report = await measureParity(model, converted, { samples, extraOutputs: options.extraOutputs });
    expect(report.worst, `${model.name} (${form}): ${JSON.stringify(report.maxAbsDiff)}`).toBeLessThanOrEqual(
      PARITY_TOLERANCE,
    );
    worst = Math.max(worst, report.worst);
  }
  return worst;
}
