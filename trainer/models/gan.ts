/**
 * Pure model builders for the GAN trainer. Only layer types the ONNX exporter supports are used (Dense, Conv2D,
 * Conv2DTranspose, BatchNormalization, LeakyReLU with an explicit alpha, Activation, Reshape, Flatten, Dropout,
 * Embedding, Multiply, InputLayer). Images are NHWC float32 in [−1, 1].
 *
 * - `dcgan` (Radford et al. 2015): G = Dense → BN → LeakyReLU(0.2) → Reshape → Conv2DTranspose(s2) → BN →
 *   LeakyReLU → Conv2DTranspose(s2) → tanh; D = strided Conv2D + LeakyReLU(0.2) (+ Dropout) → Dense logit.
 * - `mlp` (Goodfellow et al. 2014): fully connected G and D (LeakyReLU in place of the paper's maxout in D).
 * - conditional (ACGAN, Odena et al. 2016, as tensorflow/tfjs-examples mnist-acgan): G takes [z, label], the label's
 *   embedding multiplied into z; D takes only the image and outputs [validity logit, class probabilities].
 * - latent code (InfoGAN, Chen et al. 2016; unconditional, no labels): G takes z alone and reads a categorical code
 *   from it (trainer/models/latent-code.ts), whose embedding is multiplied into z as a label's is; D outputs
 *   [validity logit, code probabilities], the second being InfoGAN's Q head.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';
import { LatentCode } from './latent-code.ts';

export const ARCHITECTURES = ['dcgan', 'mlp'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const IMAGE_SHAPE = [28, 28, 1] as const;
export const LEAKY_ALPHA = 0.2; // DCGAN paper; written explicitly because tfjs's LeakyReLU defaults to 0.3
const BN_MOMENTUM = 0.9; // Keras/TF DCGAN tutorial default (tfjs defaults to 0.99, too slow for a few epochs)
const BN_EPSILON = 1e-3;
const D_DROPOUT = 0.3; // TF DCGAN tutorial

export type ModelOptions = {
  arch: Architecture;
  latentDim: number;
  /** Number of classes for a conditional (ACGAN) model; null for an unconditional one. */
  numClasses: number | null;
  /** Width multiplier: DCGAN base filters (G: 2w→w channels, D: w→2w), MLP hidden units scale with it. */
  width?: number;
  /** Categories of an InfoGAN latent code read from z (unconditional models only); null or absent for none. */
  latentCode?: number | null;
};

/** Categories of the class or code head D carries (ACGAN classes, InfoGAN code), or null for none. */
export function auxiliaryCategories(opts: ModelOptions): number | null {
  if (opts.numClasses !== null && opts.latentCode) {
    throw new Error('a model is either conditional or has a latent code, not both');
  }
  return opts.numClasses ?? opts.latentCode ?? null;
}

// dcgan 32: ~0.5 s/step at batch 64 on one wasm thread (64 doubles it); see `npm run bench:train`.
export const DEFAULT_WIDTH: Record<Architecture, number> = { dcgan: 32, mlp: 256 };

/** Names the exporter and the service rely on. */
export const TENSOR_NAMES = {
  latent: 'z',
  label: 'label',
  image: 'image',
  validity: 'validity',
  classes: 'class_probs',
  code: 'code_probs',
} as const;

function initializer() {
  // DCGAN paper: all weights from N(0, 0.02).
  return tf.initializers.randomNormal({ mean: 0, stddev: 0.02 });
}

function bnLeaky(x: tfTypes.SymbolicTensor, name: string): tfTypes.SymbolicTensor {
  const bn = tf.layers
    .batchNormalization({ momentum: BN_MOMENTUM, epsilon: BN_EPSILON, name: `${name}_bn` })
    .apply(x) as tfTypes.SymbolicTensor;
  return tf.layers
    .leakyReLU({ alpha: LEAKY_ALPHA, name: `${name}_lrelu` })
    .apply(bn) as tfTypes.SymbolicTensor;
}

/**
 * Generator: inputs `z` float32 [N, latentDim] (and `label` float32 [N, 1] holding class ids, when conditional),
 * output `image` float32 [N, 28, 28, 1] in [−1, 1] (tanh).
 */
export function buildGenerator(opts: ModelOptions): tfTypes.LayersModel {
  const width = opts.width ?? DEFAULT_WIDTH[opts.arch];
  const z = tf.input({ shape: [opts.latentDim], name: TENSOR_NAMES.latent });
  const inputs = [z];
  let h: tfTypes.SymbolicTensor = z;
  // The class that picks the embedding: a label input (conditional) or the code read from z (InfoGAN).
  let category: tfTypes.SymbolicTensor | null = null;
  const categories = auxiliaryCategories(opts);
  if (opts.numClasses !== null) {
    const label = tf.input({ shape: [1], name: TENSOR_NAMES.label });
    inputs.push(label);
    category = label;
  } else if (categories !== null) {
    category = new LatentCode({ categories, name: 'latent_code' }).apply(z) as tfTypes.SymbolicTensor;
  }
  if (category !== null && categories !== null) {
    const emb = tf.layers
      .embedding({
        inputDim: categories,
        outputDim: opts.latentDim,
        embeddingsInitializer: 'glorotNormal',
        name: 'label_embedding',
      })
      .apply(category) as tfTypes.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'label_flatten' }).apply(emb) as tfTypes.SymbolicTensor;
    h = tf.layers.multiply({ name: 'z_times_label' }).apply([z, flat]) as tfTypes.SymbolicTensor;
  }
  let out: tfTypes.SymbolicTensor;
  if (opts.arch === 'dcgan') {
    const c0 = width * 2;
    h = tf.layers
      .dense({ units: 7 * 7 * c0, useBias: false, kernelInitializer: initializer(), name: 'g_project' })
      .apply(h) as tfTypes.SymbolicTensor;
    h = bnLeaky(h, 'g_project');
    h = tf.layers.reshape({ targetShape: [7, 7, c0], name: 'g_reshape' }).apply(h) as tfTypes.SymbolicTensor;
    h = tf.layers
      .conv2dTranspose({
        filters: width,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        useBias: false,
        kernelInitializer: initializer(),
        name: 'g_deconv1',
      })
      .apply(h) as tfTypes.SymbolicTensor; // 14×14
    h = bnLeaky(h, 'g_deconv1');
    h = tf.layers
      .conv2dTranspose({
        filters: IMAGE_SHAPE[2],
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        kernelInitializer: initializer(),
        name: 'g_deconv2',
      })
      .apply(h) as tfTypes.SymbolicTensor; // 28×28
    out = tf.layers
      .activation({ activation: 'tanh', name: TENSOR_NAMES.image })
      .apply(h) as tfTypes.SymbolicTensor;
  } else {
    for (const [i, units] of [width, width * 2, width * 4].entries()) {
      h = tf.layers
        .dense({ units, kernelInitializer: 'glorotUniform', name: `g_fc${i + 1}` })
        .apply(h) as tfTypes.SymbolicTensor;
      h = tf.layers
        .leakyReLU({ alpha: LEAKY_ALPHA, name: `g_fc${i + 1}_lrelu` })
        .apply(h) as tfTypes.SymbolicTensor;
    }
    h = tf.layers
      .dense({ units: IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2], activation: 'tanh', name: 'g_out' })
      .apply(h) as tfTypes.SymbolicTensor;
    out = tf.layers
      .reshape({ targetShape: [...IMAGE_SHAPE], name: TENSOR_NAMES.image })
      .apply(h) as tfTypes.SymbolicTensor;
  }
  return tf.model({ inputs, outputs: out, name: 'generator' });
}

/**
 * Discriminator: input `image` float32 [N, 28, 28, 1] in [−1, 1]; output `validity` float32 [N, 1] (a logit: apply
 * sigmoid for P(real)), plus `class_probs` float32 [N, numClasses] (softmax) when conditional, or `code_probs`
 * [N, latentCode] (InfoGAN's Q) with a latent code. It never takes the label, so any image can be scored.
 */
export function buildDiscriminator(opts: ModelOptions): tfTypes.LayersModel {
  const width = opts.width ?? DEFAULT_WIDTH[opts.arch];
  const image = tf.input({ shape: [...IMAGE_SHAPE], name: TENSOR_NAMES.image });
  let h: tfTypes.SymbolicTensor = image;
  if (opts.arch === 'dcgan') {
    for (const [i, filters] of [width, width * 2].entries()) {
      h = tf.layers
        .conv2d({
          filters,
          kernelSize: 4,
          strides: 2,
          padding: 'same',
          kernelInitializer: initializer(),
          name: `d_conv${i + 1}`,
        })
        .apply(h) as tfTypes.SymbolicTensor;
      h = tf.layers
        .leakyReLU({ alpha: LEAKY_ALPHA, name: `d_conv${i + 1}_lrelu` })
        .apply(h) as tfTypes.SymbolicTensor;
      h = tf.layers
        .dropout({ rate: D_DROPOUT, name: `d_conv${i + 1}_dropout` })
        .apply(h) as tfTypes.SymbolicTensor;
    }
    h = tf.layers.flatten({ name: 'd_flatten' }).apply(h) as tfTypes.SymbolicTensor;
  } else {
    h = tf.layers.flatten({ name: 'd_flatten' }).apply(h) as tfTypes.SymbolicTensor;
    for (const [i, units] of [width * 2, width].entries()) {
      h = tf.layers.dense({ units, name: `d_fc${i + 1}` }).apply(h) as tfTypes.SymbolicTensor;
      h = tf.layers
        .leakyReLU({ alpha: LEAKY_ALPHA, name: `d_fc${i + 1}_lrelu` })
        .apply(h) as tfTypes.SymbolicTensor;
      h = tf.layers
        .dropout({ rate: D_DROPOUT, name: `d_fc${i + 1}_dropout` })
        .apply(h) as tfTypes.SymbolicTensor;
    }
  }
  const validity = tf.layers
    .dense({ units: 1, name: TENSOR_NAMES.validity })
    .apply(h) as tfTypes.SymbolicTensor;
  const outputs = [validity];
  const categories = auxiliaryCategories(opts);
  if (categories !== null) {
    const name = opts.numClasses !== null ? TENSOR_NAMES.classes : TENSOR_NAMES.code;
    outputs.push(
      tf.layers.dense({ units: categories, activation: 'softmax', name }).apply(h) as tfTypes.SymbolicTensor,
    );
  }
  return tf.model({ inputs: image, outputs, name: 'discriminator' });
}
