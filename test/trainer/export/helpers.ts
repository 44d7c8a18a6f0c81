/**
 * Shared helpers for exporter tests: random (non-trivial) weights, so BatchNorm statistics and biases matter, and a
 * parity assertion across every exporter form.
 */
import type * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { type ConvertOptions, convertLayersModel } from '../../../trainer/export/convert.ts';
import { measureParity, PARITY_TOLERANCE } from '../../../trainer/export/parity.ts';

export { randomizeWeights } from '../../../trainer/export/random-weights.ts';

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
