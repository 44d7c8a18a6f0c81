/**
 * The dataset classifier that judges generated samples: a small CNN (strided convolutions, no pooling, so the ONNX
 * exporter's layer set suffices) with TWO outputs: class probabilities (softmax) and the penultimate features
 * (Dense 128 after ReLU), the feature space of the Fréchet distance and precision/recall.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';

export const CLASSIFIER_NAMES = { image: 'image', probs: 'class_probs', features: 'features' } as const;
export const FEATURE_DIM = 128;
const DROPOUT = 0.3;

/**
 * @returns model: input `image` float32 [N, 28, 28, 1] in [−1, 1]; outputs [`class_probs` float32 [N, numClasses],
 * `features` float32 [N, 128] (≥ 0)]
 */
export function buildClassifier(numClasses: number): tfTypes.LayersModel {
  const image = tf.input({ shape: [28, 28, 1], name: CLASSIFIER_NAMES.image });
  let h: tfTypes.SymbolicTensor = image;
  const convs: [number, number][] = [
    [32, 1],
    [32, 2],
    [64, 1],
    [64, 2],
  ];
  convs.forEach(([filters, strides], i) => {
    h = tf.layers
      .conv2d({
        filters,
        kernelSize: 3,
        strides,
        padding: 'same',
        activation: 'relu',
        name: `c_conv${i + 1}`,
      })
      .apply(h) as tfTypes.SymbolicTensor;
  });
  h = tf.layers.flatten({ name: 'c_flatten' }).apply(h) as tfTypes.SymbolicTensor;
  const features = tf.layers
    .dense({ units: FEATURE_DIM, activation: 'relu', name: CLASSIFIER_NAMES.features })
    .apply(h) as tfTypes.SymbolicTensor;
  const dropped = tf.layers
    .dropout({ rate: DROPOUT, name: 'c_dropout' })
    .apply(features) as tfTypes.SymbolicTensor;
  const probs = tf.layers
    .dense({ units: numClasses, activation: 'softmax', name: CLASSIFIER_NAMES.probs })
    .apply(dropped) as tfTypes.SymbolicTensor;
  return tf.model({ inputs: image, outputs: [probs, features], name: 'classifier' });
}

const EPS = 1e-7;

/** One Adam step on cross-entropy of the probability output; returns the batch loss. Leaves no tensors behind. */
export function classifierStep(
  model: tfTypes.LayersModel,
  optimizer: tfTypes.Optimizer,
  images: tfTypes.Tensor4D,
  labels: tfTypes.Tensor1D,
  numClasses: number,
): number {
  return tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
    const cost = optimizer.minimize(
      () => {
        const [probs] = model.apply(images, { training: true }) as tfTypes.Tensor[];
        const oneHot = tf.oneHot(tf.cast(labels, 'int32'), numClasses);
        return tf.neg(
          tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probs!, EPS, 1))), -1)),
        ) as tfTypes.Scalar;
      },
      true,
      vars,
    );
    return cost!.dataSync()[0]!;
  });
}

/**
 * Predicted classes for many images, in batches.
 * @param images float32 [N·784] in [−1, 1]
 * @returns int32 [N]
 */
export function predictClasses(
  model: tfTypes.LayersModel,
  images: Float32Array,
  n: number,
  batch = 500,
): Int32Array {
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1]);
      const [probs] = model.predict(x) as tfTypes.Tensor[];
      return tf.argMax(probs!, -1);
    });
    out.set(pred.dataSync() as Int32Array, s);
    pred.dispose();
  }
  return out;
}
