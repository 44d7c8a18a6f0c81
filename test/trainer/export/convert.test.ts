import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModel } from '../../../scripts/onnx/builder.ts';
import { convertLayersModel } from '../../../trainer/export/convert.ts';
import { UnsupportedLayerError } from '../../../trainer/export/layers.ts';
import { LatentCode } from '../../../trainer/models/latent-code.ts';
import { expectParity, randomizeWeights } from './helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type ST = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: ST | ST[]) => layer.apply(x) as ST;

function model(inputs: ST | ST[], outputs: ST | ST[], seed = 1): tf.LayersModel {
  const m = tf.model({ inputs, outputs });
  randomizeWeights(m, seed);
  return m;
}

describe('dense and activations', () => {
  it('Dense with every activation, in Dense and as Activation layers', async () => {
    const acts = [
      'linear',
      'relu',
      'relu6',
      'elu',
      'selu',
      'tanh',
      'sigmoid',
      'hardSigmoid',
      'softplus',
      'softsign',
      'swish',
    ] as const;
    const x = tf.input({ shape: [6] });
    let h = x;
    for (const activation of acts) {
      h = apply(tf.layers.dense({ units: 5, activation }), h);
      h = apply(tf.layers.activation({ activation }), h);
    }
    const y = apply(tf.layers.dense({ units: 4, activation: 'softmax' }), h);
    expect(await expectParity(model(x, y))).toBeLessThan(1e-5);
  });

  it('LeakyReLU takes alpha from the config (tfjs default 0.3, not ONNX 0.01); ReLU with maxValue', async () => {
    const x = tf.input({ shape: [8] });
    const a = apply(tf.layers.leakyReLU(), apply(tf.layers.dense({ units: 8 }), x));
    const b = apply(tf.layers.leakyReLU({ alpha: 0.2 }), apply(tf.layers.dense({ units: 8 }), a));
    const c = apply(tf.layers.reLU({ maxValue: 0.5 }), b);
    const m = model(x, apply(tf.layers.reLU(), c));
    await expectParity(m);
    const alphas = parseModel(convertLayersModel(m).bytes)
      .graph!.node!.filter((n) => n.opType === 'LeakyRelu')
      .map((n) => n.attribute![0]!.f);
    expect(alphas.map((v) => Number(v?.toFixed(6)))).toEqual([0.3, 0.2]);
  });

  it('Dense on a rank-3 input (MatMul on the last axis)', async () => {
    const x = tf.input({ shape: [3, 5] });
    await expectParity(model(x, apply(tf.layers.dense({ units: 2, activation: 'tanh' }), x)));
  });
});

describe('BatchNormalization', () => {
  it('folded into Dense, Conv2D and Conv2DTranspose; standalone after LeakyReLU; default epsilon 1e-3', async () => {
    const z = tf.input({ shape: [6] });
    let h = apply(tf.layers.dense({ units: 4 * 4 * 3, useBias: false }), z);
    h = apply(tf.layers.batchNormalization(), h);
    h = apply(tf.layers.reshape({ targetShape: [4, 4, 3] }), h);
    h = apply(tf.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }), h);
    h = apply(tf.layers.batchNormalization({ epsilon: 0.01 }), h);
    h = apply(tf.layers.leakyReLU({ alpha: 0.2 }), h);
    h = apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', useBias: false }), h);
    h = apply(tf.layers.batchNormalization(), h);
    h = apply(tf.layers.leakyReLU({ alpha: 0.2 }), h);
    h = apply(tf.layers.batchNormalization(), h);
    const m = model(z, apply(tf.layers.activation({ activation: 'tanh' }), h));
    await expectParity(m);
    const folded = convertLayersModel(m);
    expect(folded.layers.filter((l) => l === 'BatchNormalization(folded)')).toHaveLength(3);
    const ops = parseModel(folded.bytes).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Mul')).toHaveLength(1); // only the standalone BN remains
  });
});

describe('Conv2D padding, stride, kernel and dilation', () => {
  const cases: [number, number, 'same' | 'valid', number, number][] = [];
  for (const kernel of [1, 2, 3, 4, 5]) {
    for (const stride of [1, 2, 3]) {
      for (const padding of ['same', 'valid'] as const) cases.push([kernel, stride, padding, 1, 7 + kernel]);
    }
  }
  cases.push([3, 1, 'same', 2, 9], [2, 1, 'valid', 2, 8], [4, 1, 'same', 3, 10]);
  it.each(cases)(
    'kernel %i stride %i %s dilation %i on %i×9',
    async (kernel, stride, padding, dilation, size) => {
      const x = tf.input({ shape: [size, 9, 2] });
      const conv = tf.layers.conv2d({
        filters: 3,
        kernelSize: kernel,
        strides: dilation > 1 ? 1 : stride,
        dilationRate: dilation,
        padding,
        activation: 'relu',
      });
      const flat = apply(tf.layers.flatten(), apply(conv, x));
      await expectParity(model(x, apply(tf.layers.dense({ units: 3 }), flat)), {}, 64);
    },
  );

  it('non-square kernel and strides', async () => {
    const x = tf.input({ shape: [9, 8, 2] });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: [2, 1], padding: 'same' });
    await expectParity(model(x, apply(tf.layers.flatten(), apply(conv, x))), {}, 64);
  });
});

describe('Conv2DTranspose padding, stride and kernel', () => {
  const cases: [number, number, 'same' | 'valid', number][] = [];
  for (const kernel of [1, 2, 3, 4, 5]) {
    for (const stride of [1, 2, 3]) {
      for (const padding of ['same', 'valid'] as const)
        cases.push([kernel, stride, padding, 4 + (kernel % 2)]);
    }
  }
  it.each(cases)('kernel %i stride %i %s on %i×6', async (kernel, stride, padding, size) => {
    const x = tf.input({ shape: [size, 6, 3] });
    const deconv = tf.layers.conv2dTranspose({ filters: 2, kernelSize: kernel, strides: stride, padding });
    const y = apply(tf.layers.flatten(), apply(deconv, x));
    await expectParity(model(x, apply(tf.layers.dense({ units: 3 }), y)), {}, 64);
  });

  it('the sub-pixel form replaces ConvTranspose with Conv + DepthToSpace', () => {
    const x = tf.input({ shape: [7, 7, 4] });
    const y = apply(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same' }), x);
    const ops = parseModel(
      convertLayersModel(model(x, y), { convTranspose: 'depthToSpace' }).bytes,
    ).graph!.node!.map((n) => n.opType);
    expect(ops).toContain('DepthToSpace');
    expect(ops).not.toContain('ConvTranspose');
  });
});

describe('shape layers, merges, embedding, pooling', () => {
  it('Reshape, Flatten after convolution (NHWC order kept), Dropout as identity', async () => {
    const x = tf.input({ shape: [12] });
    let h = apply(tf.layers.reshape({ targetShape: [2, 3, 2] }), x);
    h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: 'same' }), h);
    h = apply(tf.layers.dropout({ rate: 0.5 }), h);
    h = apply(tf.layers.reshape({ targetShape: [6, 4] }), h);
    h = apply(tf.layers.flatten(), h);
    await expectParity(model(x, apply(tf.layers.dense({ units: 2 }), h)));
  });

  it('Embedding label input: int32 [N] in ONNX, float32 [N, 1] in tfjs; Multiply into z (ACGAN)', async () => {
    const z = tf.input({ shape: [8], name: 'z' });
    const label = tf.input({ shape: [1], name: 'label' });
    const emb = apply(tf.layers.flatten(), apply(tf.layers.embedding({ inputDim: 10, outputDim: 8 }), label));
    const h = apply(tf.layers.multiply(), [z, emb]);
    const m = model([z, label], apply(tf.layers.dense({ units: 3, activation: 'tanh', name: 'out' }), h));
    await expectParity(m);
    const converted = convertLayersModel(m);
    expect(converted.inputs).toEqual([
      { name: 'z', dtype: 'float32', shape: ['N', 8], role: 'data' },
      { name: 'label', dtype: 'int32', shape: ['N'], role: 'label', numClasses: 10 },
    ]);
    const int64 = convertLayersModel(m, { labelDtype: 'int64' });
    expect(int64.inputs[1]!.dtype).toBe('int64');
    await expectParity(m, { labelDtype: 'int64' }, 64);
  });

  it('LatentCode (InfoGAN code read from z): Slice → ArgMax → Cast, feeding an Embedding; the code is an output too', async () => {
    const z = tf.input({ shape: [8], name: 'z' });
    const code = apply(new LatentCode({ categories: 5, name: 'code' }), z);
    const emb = apply(tf.layers.flatten(), apply(tf.layers.embedding({ inputDim: 5, outputDim: 8 }), code));
    const h = apply(tf.layers.multiply(), [z, emb]);
    const m = model(z, [apply(tf.layers.dense({ units: 3, activation: 'tanh', name: 'out' }), h), code]);
    // 256 random z: a code that disagreed anywhere would differ by at least 1 on the second output.
    expect(await expectParity(m)).toBeLessThan(1e-5);
    const converted = convertLayersModel(m);
    expect(converted.inputs).toEqual([{ name: 'z', dtype: 'float32', shape: ['N', 8], role: 'data' }]);
    const ops = parseModel(converted.bytes).graph!.node!.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(['Slice', 'ArgMax', 'Cast', 'Gather']));
  });

  it('Concatenate on the feature axis and on the channel axis after convolutions; Add, Maximum, Minimum, Average', async () => {
    const a = tf.input({ shape: [6, 6, 2] });
    const b = tf.input({ shape: [6, 6, 2] });
    const ca = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), a);
    const cb = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), b);
    const cat = apply(tf.layers.concatenate(), [ca, cb]);
    const sum = apply(tf.layers.add(), [ca, cb]);
    const diff = apply(tf.layers.maximum(), [ca, cb]);
    const low = apply(tf.layers.minimum(), [ca, cb]);
    const avg = apply(tf.layers.average(), [sum, diff, low]);
    const catH = apply(tf.layers.concatenate({ axis: 1 }), [avg, ca]);
    const flat = apply(tf.layers.concatenate(), [
      apply(tf.layers.flatten(), cat),
      apply(tf.layers.flatten(), catH),
    ]);
    await expectParity(model([a, b], apply(tf.layers.dense({ units: 4 }), flat)));
  });

  it('MaxPooling2D, AveragePooling2D (same/valid), GlobalAveragePooling2D, ZeroPadding2D', async () => {
    const x = tf.input({ shape: [9, 9, 2] });
    let h = apply(
      tf.layers.zeroPadding2d({
        padding: [
          [1, 2],
          [0, 1],
        ],
      }),
      x,
    );
    h = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), h);
    h = apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }), h);
    h = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), h);
    const g = apply(tf.layers.globalAveragePooling2d({}), h);
    const v = apply(tf.layers.flatten(), apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' }), h));
    await expectParity(model(x, [apply(tf.layers.dense({ units: 2 }), g), v]));
  });

  it('a Sequential model', async () => {
    const seq = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [5], units: 4 * 4, activation: 'relu' }),
        tf.layers.reshape({ targetShape: [4, 4, 1] }),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    randomizeWeights(seq);
    await expectParity(seq);
  });
});

describe('multi-output models and extra outputs', () => {
  it('an ACGAN discriminator: validity logit and class probabilities, plus penultimate features', async () => {
    const image = tf.input({ shape: [8, 8, 1], name: 'image' });
    let h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }), image);
    h = apply(tf.layers.leakyReLU({ alpha: 0.2 }), h);
    h = apply(tf.layers.flatten({ name: 'features_flat' }), h);
    const validity = apply(tf.layers.dense({ units: 1, name: 'validity' }), h);
    const classes = apply(tf.layers.dense({ units: 10, activation: 'softmax', name: 'class_probs' }), h);
    const m = model(image, [validity, classes]);
    const extraOutputs = { features: 'features_flat' };
    await expectParity(m, { extraOutputs });
    const converted = convertLayersModel(m, { extraOutputs });
    expect(converted.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['validity', ['N', 1]],
      ['class_probs', ['N', 10]],
      ['features', ['N', 64]],
    ]);
    const session = await ort.InferenceSession.create(converted.bytes);
    expect(session.outputNames).toEqual(['validity', 'class_probs', 'features']);
    await session.release();
  });
});

describe('unsupported layers', () => {
  it('fail with the layer name and class', () => {
    const x = tf.input({ shape: [4, 4, 1] });
    const up = apply(tf.layers.upSampling2d({ size: [2, 2], name: 'my_upsample' }), x);
    const m = model(x, apply(tf.layers.flatten(), up));
    expect(() => convertLayersModel(m)).toThrow(UnsupportedLayerError);
    expect(() => convertLayersModel(m)).toThrow(
      "layer 'my_upsample' of class UpSampling2D has no ONNX conversion",
    );
  });

  it('fail on unsupported settings, naming the setting', () => {
    const x = tf.input({ shape: [4] });
    const m = model(x, apply(tf.layers.dense({ units: 2, activation: 'gelu' as 'relu', name: 'fancy' }), x));
    expect(() => convertLayersModel(m)).toThrow(
      "layer 'fancy' of class Dense: activation 'gelu' is not supported",
    );
  });
});
