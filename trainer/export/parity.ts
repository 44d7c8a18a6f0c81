/**
 * Exporter parity: runs the tfjs model and its ONNX conversion on the same random inputs and reports the largest
 * absolute difference per output. Float inputs are standard normal; label inputs are real class ids.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { RandomState } from '../../src/latent/random-state.ts';
import type { ConvertedModel, IOSpec } from './convert.ts';

/** Largest |tfjs − onnx| accepted, per output element. */
export const PARITY_TOLERANCE = 1e-4;
export const PARITY_SAMPLES = 256;

export interface ParityOptions {
  samples?: number;
  batchSize?: number;
  seed?: number;
  /** Extra ONNX outputs → tfjs layer names (as given to `convertLayersModel`), compared too. */
  extraOutputs?: Readonly<Record<string, string>>;
}

export interface ParityReport {
  samples: number;
  /** Max abs difference per ONNX output name. */
  maxAbsDiff: Record<string, number>;
  /** The worst over all outputs. */
  worst: number;
}

type Feed = { tfjs: tf.Tensor; onnx: ort.Tensor };

function makeFeed(spec: IOSpec, tfShape: readonly (number | null)[], n: number, rng: RandomState): Feed {
  const perSample = tfShape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
  const count = n * perSample;
  const tfDims = [n, ...tfShape.slice(1).map((d) => d ?? 1)];
  const onnxDims = [n, ...spec.shape.slice(1).map((d) => Number(d))];
  if (spec.role === 'label') {
    const classes = spec.numClasses ?? 2;
    const ids = Array.from({ length: count }, () => Math.floor(rng.random() * classes));
    const onnxData = spec.dtype === 'int64' ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids);
    return { tfjs: tf.tensor(ids, tfDims, 'float32'), onnx: new ort.Tensor(spec.dtype, onnxData, onnxDims) };
  }
  const data = Float32Array.from({ length: count }, () => rng.standardNormal());
  return { tfjs: tf.tensor(data, tfDims, 'float32'), onnx: new ort.Tensor('float32', data, onnxDims) };
}

/**
 * Compares `model.predict` with onnxruntime on `converted.bytes` over `samples` random inputs.
 * @returns max abs difference per output (tfjs outputs in order, then the extra outputs)
 */
export async function measureParity(
  model: tf.LayersModel,
  converted: ConvertedModel,
  options: ParityOptions = {},
): Promise<ParityReport> {
  const samples = options.samples ?? PARITY_SAMPLES;
  const batchSize = options.batchSize ?? 64;
  const rng = new RandomState(options.seed ?? 1234);
  const extraTensors = Object.values(options.extraOutputs ?? {}).map(
    (layerName) => model.getLayer(layerName).output,
  );
  const probe =
    extraTensors.length > 0
      ? tf.model({
          inputs: model.inputs,
          outputs: [...model.outputs, ...(extraTensors as tf.SymbolicTensor[])],
        })
      : model;
  const session = await ort.InferenceSession.create(converted.bytes);
  const maxAbsDiff: Record<string, number> = Object.fromEntries(converted.outputs.map((o) => [o.name, 0]));
  try {
    for (let start = 0; start < samples; start += batchSize) {
      const n = Math.min(batchSize, samples - start);
      const feeds = converted.inputs.map((spec, i) => makeFeed(spec, model.inputs[i]!.shape, n, rng));
      const predicted = probe.predict(feeds.map((f) => f.tfjs));
      const tfOutputs = Array.isArray(predicted) ? predicted : [predicted];
      const results = await session.run(
        Object.fromEntries(converted.inputs.map((s, i) => [s.name, feeds[i]!.onnx])),
      );
      for (const [i, spec] of converted.outputs.entries()) {
        const expected = tfOutputs[i]!.dataSync();
        const actual = results[spec.name]!.data as Float32Array;
        if (actual.length !== expected.length) {
          throw new Error(
            `output '${spec.name}': onnx gave ${actual.length} values, tfjs ${expected.length}`,
          );
        }
        let m = maxAbsDiff[spec.name]!;
        for (let j = 0; j < actual.length; j++) {
          const d = Math.abs(actual[j]! - expected[j]!);
          // NaN anywhere is a failure, not a pass.
          m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(m, d);
        }
        maxAbsDiff[spec.name] = m;
      }
      tf.dispose([...feeds.map((f) => f.tfjs), ...tfOutputs]);
    }
  } finally {
    await session.release();
  }
  return { samples, maxAbsDiff, worst: Math.max(...Object.values(maxAbsDiff)) };
}
