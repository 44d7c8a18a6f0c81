/**
 * Starts a new run from another run's trained weights (`npm run train -- … --init-from <run>`), layer by layer by
 * name: e.g. a plain DCGAN's generator and discriminator into the same architecture with an InfoGAN code added.
 * Layers the source lacks keep their fresh initialisation, except an Embedding that gates z (the code's or label's
 * `label_embedding`), which starts at ones so that z × embedding = z and the warm-started generator draws exactly
 * what the source drew until training moves it.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';

export type WarmStartReport = { copied: string[]; fresh: string[] };

/** Copies `source`'s weights into `target` where layer names match; refuses a match whose weight shapes differ. */
export function copyMatchingWeights(
  target: tfTypes.LayersModel,
  source: tfTypes.LayersModel,
): WarmStartReport {
  const report: WarmStartReport = { copied: [], fresh: [] };
  const sourceLayers = new Map(source.layers.map((l) => [l.name, l]));
  for (const layer of target.layers) {
    if (layer.weights.length === 0) continue;
    const from = sourceLayers.get(layer.name);
    if (!from) {
      if (layer.getClassName() === 'Embedding') {
        tf.tidy(() => layer.setWeights(layer.weights.map((w) => tf.ones(w.shape as number[]))));
      }
      report.fresh.push(layer.name);
      continue;
    }
    const shapes = (ws: tfTypes.LayerVariable[]) => ws.map((w) => `[${w.shape}]`).join(' ');
    if (shapes(from.weights) !== shapes(layer.weights)) {
      throw new Error(
        `--init-from: layer '${layer.name}' has weights ${shapes(layer.weights)} here and ` +
          `${shapes(from.weights)} in the source run (a different --width or --latent-dim?)`,
      );
    }
    layer.setWeights(from.getWeights());
    report.copied.push(layer.name);
  }
  if (report.copied.length === 0) {
    throw new Error(`--init-from: no layer of '${target.name}' has a namesake in the source run`);
  }
  return report;
}
