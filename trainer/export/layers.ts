/**
 * One converter per supported tfjs layer class. Each reads the layer's settings from `getConfig()` (tfjs defaults
 * differ from ONNX's: LeakyReLU alpha 0.3 vs 0.01, BatchNormalization epsilon 1e-3 vs 1e-5) and its weights from
 * the layer, and emits ONNX nodes. Convolutions run NCHW; everything whose meaning depends on the axis order
 * (Dense, Flatten, Reshape, Softmax, Embedding) asks for NHWC.
 */
import { attr } from '../../scripts/onnx/builder.ts';
import type { LayerContext, LayerConverter, Value } from './layer-context.ts';
import {
  convPads,
  type DeconvAxis,
  deconvAxis,
  scaleAlongAxis,
  subPixelAxis,
  transpose,
} from './tensor-math.ts';

export class UnsupportedLayerError extends Error {
  constructor(
    readonly layerName: string,
    readonly className: string,
    detail?: string,
  ) {
    super(
      detail === undefined
        ? `layer '${layerName}' of class ${className} has no ONNX conversion`
        : `layer '${layerName}' of class ${className}: ${detail}`,
    );
    this.name = 'UnsupportedLayerError';
  }
}

type Weight = { data: Float32Array; shape: number[] };

/** The layer's weights by role ('kernel', 'bias', 'gamma', 'moving_mean', …), from the variable names. */
function weightsOf(ctx: LayerContext): Map<string, Weight> {
  const tensors = ctx.layer.getWeights();
  const out = new Map<string, Weight>();
  ctx.layer.weights.forEach((variable, i) => {
    const role = (variable.originalName.split('/').pop() ?? '').replace(/_\d+$/, '');
    const t = tensors[i]!;
    out.set(role, { data: Float32Array.from(t.dataSync()), shape: [...t.shape] });
  });
  return out;
}

function requireWeight(ctx: LayerContext, weights: Map<string, Weight>, role: string): Weight {
  const w = weights.get(role);
  if (!w) ctx.fail(`expected a '${role}' weight, found ${[...weights.keys()].join(', ') || 'none'}`);
  return w;
}

function pair(value: unknown, name: string, ctx: LayerContext): [number, number] {
  const v = Array.isArray(value) ? value : [value, value];
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x)))
    ctx.fail(`expected ${name} of two integers, got ${value}`);
  return [v[0] as number, v[1] as number];
}

function staticDims(ctx: LayerContext, v: Value): number[] {
  const dims = v.shape.slice(1);
  if (dims.some((d) => d === null)) ctx.fail(`needs a fixed input shape, got [${v.shape}]`);
  return dims as number[];
}

function out(ctx: LayerContext, name: string, layout: Value['layout'], index = 0): Value {
  return { name, shape: ctx.outputShapes[index]!, dtype: 'float32', layout };
}

/** Scalar float constant. */
function scalar(ctx: LayerContext, value: number): string {
  return ctx.g.initializer(Float32Array.of(value), [], ctx.fresh('const'));
}

/** A per-channel vector shaped to broadcast against `v` along its channel axis (last in NHWC, 1 in NCHW). */
function channelVector(ctx: LayerContext, v: Value, data: Float32Array, suffix: string): string {
  const dims = v.shape.length === 4 && v.layout === 'NCHW' ? [data.length, 1, 1] : [data.length];
  return ctx.g.initializer(data, dims, ctx.fresh(suffix));
}

export function applyActivation(ctx: LayerContext, v: Value, activation: unknown): Value {
  const act = typeof activation === 'string' ? activation : 'linear';
  const unary = (op: string, attrs?: Parameters<LayerContext['op']>[2]) => ({
    ...v,
    name: ctx.op(op, [v.name], attrs),
  });
  switch (act) {
    case 'linear':
      return v;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return { ...v, name: ctx.op('Clip', [v.name, scalar(ctx, 0), scalar(ctx, 6)]) };
    case 'elu':
      return unary('Elu', { alpha: attr.float(1) });
    case 'selu':
      return unary('Selu');
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'hardSigmoid':
      return unary('HardSigmoid', { alpha: attr.float(0.2), beta: attr.float(0.5) });
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'swish':
      return { ...v, name: ctx.op('Mul', [v.name, ctx.op('Sigmoid', [v.name])]) };
    case 'softmax': {
      const x = ctx.nhwc(v);
      return { ...x, name: ctx.op('Softmax', [x.name], { axis: attr.int(-1) }) };
    }
    default:
      return ctx.fail(`activation '${act}' is not supported`);
  }
}

type Fold = { scale: Float64Array; shift: Float64Array };

/** Inference BatchNormalization as y = x·scale + shift per channel. */
function batchNormAffine(ctx: LayerContext, layer: LayerContext['layer']): Fold {
  const config = layer.getConfig() as Record<string, unknown>;
  const epsilon = Number(config.epsilon);
  const tensors = layer.getWeights();
  const byRole = new Map<string, Float32Array>();
  layer.weights.forEach((variable, i) => {
    byRole.set(
      (variable.originalName.split('/').pop() ?? '').replace(/_\d+$/, ''),
      tensors[i]!.dataSync() as Float32Array,
    );
  });
  const mean = byRole.get('moving_mean');
  const variance = byRole.get('moving_variance');
  if (!mean || !variance) ctx.fail(`BatchNormalization '${layer.name}' lacks moving statistics`);
  const gamma = byRole.get('gamma');
  const beta = byRole.get('beta');
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * scale[c]!;
  }
  return { scale, shift };
}

function isLastAxis(axis: unknown, rank: number): boolean {
  const a = Array.isArray(axis) ? axis : [axis];
  return a.length === 1 && (a[0] === -1 || a[0] === rank - 1);
}

/**
 * When the only reader of this layer's output is a channel-last BatchNormalization and folding is on, absorbs it
 * and returns its affine form to fold into the weights.
 */
function takeFoldableBatchNorm(ctx: LayerContext, activation: unknown): Fold | null {
  const bn = ctx.soleConsumer;
  if (!ctx.options.foldBatchNorm || bn === null || bn.getClassName() !== 'BatchNormalization') return null;
  if ((typeof activation === 'string' ? activation : 'linear') !== 'linear') return null;
  if (!isLastAxis(bn.getConfig().axis, ctx.outputShapes[0]!.length)) return null;
  const fold = batchNormAffine(ctx, bn);
  ctx.absorb(bn);
  return fold;
}

function foldBias(
  bias: Float32Array | undefined,
  fold: Fold | null,
  channels: number,
): Float32Array | undefined {
  if (!fold) return bias;
  return Float32Array.from(
    { length: channels },
    (_, c) => (bias ? bias[c]! : 0) * fold.scale[c]! + fold.shift[c]!,
  );
}

const dense: LayerConverter = (ctx) => {
  const x = ctx.nhwc(ctx.inputs[0]!);
  const w = weightsOf(ctx);
  const kernel = requireWeight(ctx, w, 'kernel');
  const [inDim, units] = kernel.shape as [number, number];
  const fold = takeFoldableBatchNorm(ctx, ctx.config.activation);
  const k = fold ? scaleAlongAxis(kernel.data, kernel.shape, 1, fold.scale) : kernel.data;
  const bias = foldBias(w.get('bias')?.data, fold, units);
  const kName = ctx.g.initializer(k, [inDim, units], ctx.fresh('kernel'));
  let y: string;
  if (x.shape.length === 2) {
    const inputs = [x.name, kName];
    if (bias) inputs.push(ctx.g.initializer(bias, [units], ctx.fresh('bias')));
    y = ctx.op('Gemm', inputs);
  } else {
    y = ctx.op('MatMul', [x.name, kName]);
    if (bias) y = ctx.op('Add', [y, ctx.g.initializer(bias, [units], ctx.fresh('bias'))]);
  }
  return [applyActivation(ctx, out(ctx, y, 'NHWC'), ctx.config.activation)];
};

function requireChannelsLast(ctx: LayerContext): void {
  if (ctx.config.dataFormat === 'channelsFirst') ctx.fail('dataFormat channelsFirst is not supported');
}

function paddingMode(ctx: LayerContext): 'same' | 'valid' {
  const p = ctx.config.padding;
  if (p !== 'same' && p !== 'valid') ctx.fail(`padding '${String(p)}' is not supported`);
  return p;
}

const conv2d: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const x = ctx.nchw(ctx.inputs[0]!);
  const [H, W] = staticDims(ctx, x) as [number, number];
  const w = weightsOf(ctx);
  const kernel = requireWeight(ctx, w, 'kernel');
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  const [sh, sw] = pair(ctx.config.strides, 'strides', ctx);
  const [dh, dw] = pair(ctx.config.dilationRate, 'dilationRate', ctx);
  const padding = paddingMode(ctx);
  const ph = convPads(padding, H, kh, sh, dh);
  const pw = convPads(padding, W, kw, sw, dw);
  const fold = takeFoldableBatchNorm(ctx, ctx.config.activation);
  const k = fold ? scaleAlongAxis(kernel.data, kernel.shape, 3, fold.scale) : kernel.data;
  const bias = foldBias(w.get('bias')?.data, fold, cout);
  const inputs = [
    x.name,
    ctx.g.initializer(transpose(k, kernel.shape, [3, 2, 0, 1]), [cout, cin, kh, kw], ctx.fresh('W')),
  ];
  if (bias) inputs.push(ctx.g.initializer(bias, [cout], ctx.fresh('B')));
  const y = ctx.op('Conv', inputs, {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints([sh, sw]),
    dilations: attr.ints([dh, dw]),
    pads: attr.ints([ph.begin, pw.begin, ph.end, pw.end]),
  });
  return [applyActivation(ctx, out(ctx, y, 'NCHW'), ctx.config.activation)];
};

/**
 * Conv2DTranspose. Native: ONNX ConvTranspose with explicit pads and output_padding (auto_pad is interpreted
 * differently by onnxruntime and the spec). 'depthToSpace': the sub-pixel form, one Conv producing the s² output
 * phases as channels, then DepthToSpace (see `subPixelAxis`).
 */
const conv2dTranspose: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const x = ctx.nchw(ctx.inputs[0]!);
  const [H, W] = staticDims(ctx, x) as [number, number];
  const w = weightsOf(ctx);
  const kernel = requireWeight(ctx, w, 'kernel');
  const [kh, kw, cout, cin] = kernel.shape as [number, number, number, number];
  const [sh, sw] = pair(ctx.config.strides, 'strides', ctx);
  const [dh, dw] = pair(ctx.config.dilationRate ?? 1, 'dilationRate', ctx);
  if (dh !== 1 || dw !== 1) ctx.fail(`dilationRate [${dh}, ${dw}] is not supported (tfjs ignores it too)`);
  const padding = paddingMode(ctx);
  const ah = deconvAxis(padding, H, kh, sh);
  const aw = deconvAxis(padding, W, kw, sw);
  const expected = ctx.outputShapes[0]!;
  if (expected[1] !== ah.outSize || expected[2] !== aw.outSize) {
    ctx.fail(`computed output ${ah.outSize}×${aw.outSize}, tfjs says ${expected[1]}×${expected[2]}`);
  }
  const fold = takeFoldableBatchNorm(ctx, ctx.config.activation);
  const k = fold ? scaleAlongAxis(kernel.data, kernel.shape, 2, fold.scale) : kernel.data;
  const bias = foldBias(w.get('bias')?.data, fold, cout);
  const sub =
    ctx.options.convTranspose === 'depthToSpace' && sh === sw
      ? subPixel(ctx, x.name, { k, kh, kw, cin, cout, s: sh, H, W, ah, aw, bias })
      : null;
  if (sub !== null) return [applyActivation(ctx, out(ctx, sub, 'NCHW'), ctx.config.activation)];
  const inputs = [
    x.name,
    ctx.g.initializer(transpose(k, kernel.shape, [3, 2, 0, 1]), [cin, cout, kh, kw], ctx.fresh('W')),
  ];
  if (bias) inputs.push(ctx.g.initializer(bias, [cout], ctx.fresh('B')));
  const y = ctx.op('ConvTranspose', inputs, {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints([sh, sw]),
    pads: attr.ints([ah.begin, aw.begin, ah.end, aw.end]),
    output_padding: attr.ints([ah.outputPadding, aw.outputPadding]),
  });
  return [applyActivation(ctx, out(ctx, y, 'NCHW'), ctx.config.activation)];
};

type SubPixelArgs = {
  /** tfjs kernel [kh, kw, cout, cin], BatchNorm already folded in. */
  k: Float32Array;
  kh: number;
  kw: number;
  cin: number;
  cout: number;
  s: number;
  H: number;
  W: number;
  ah: DeconvAxis;
  aw: DeconvAxis;
  bias: Float32Array | undefined;
};

/** Conv [s²·cout, cin, Lh, Lw] + DepthToSpace(s, DCR); null where the shapes don't allow it. */
function subPixel(ctx: LayerContext, x: string, a: SubPixelArgs): string | null {
  const { k, kh, kw, cin, cout, s } = a;
  const ph = subPixelAxis(a.H, kh, s, a.ah);
  const pw = subPixelAxis(a.W, kw, s, a.aw);
  if (ph === null || pw === null) return null;
  const channels = s * s * cout;
  const weight = new Float32Array(channels * cin * ph.length * pw.length);
  for (let rh = 0; rh < s; rh++) {
    for (let rw = 0; rw < s; rw++) {
      for (let c = 0; c < cout; c++) {
        const o = (rh * s + rw) * cout + c; // DepthToSpace DCR channel order
        for (let i = 0; i < cin; i++) {
          for (let bh = 0; bh < ph.length; bh++) {
            const th = ph.taps[rh]![bh]!;
            if (th < 0) continue;
            for (let bw = 0; bw < pw.length; bw++) {
              const tw = pw.taps[rw]![bw]!;
              if (tw < 0) continue;
              weight[((o * cin + i) * ph.length + bh) * pw.length + bw] =
                k[((th * kw + tw) * cout + c) * cin + i]!;
            }
          }
        }
      }
    }
  }
  const inputs = [x, ctx.g.initializer(weight, [channels, cin, ph.length, pw.length], ctx.fresh('W'))];
  if (a.bias) {
    const b = new Float32Array(channels);
    for (let p = 0; p < s * s; p++) b.set(a.bias, p * cout);
    inputs.push(ctx.g.initializer(b, [channels], ctx.fresh('B')));
  }
  const y = ctx.op('Conv', inputs, {
    kernel_shape: attr.ints([ph.length, pw.length]),
    pads: attr.ints([ph.padBegin, pw.padBegin, ph.padEnd, pw.padEnd]),
  });
  return s === 1 ? y : ctx.op('DepthToSpace', [y], { blocksize: attr.int(s), mode: attr.string('DCR') });
}

const batchNormalization: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]!;
  if (!isLastAxis(ctx.config.axis, x.shape.length))
    ctx.fail(`axis ${String(ctx.config.axis)} is not the channel axis`);
  const { scale, shift } = batchNormAffine(ctx, ctx.layer);
  const mul = ctx.op('Mul', [x.name, channelVector(ctx, x, Float32Array.from(scale), 'scale')]);
  const y = ctx.op('Add', [mul, channelVector(ctx, x, Float32Array.from(shift), 'shift')]);
  return [{ ...x, name: y, shape: ctx.outputShapes[0]! }];
};

const leakyReLU: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]!;
  const alpha = Number(ctx.config.alpha);
  if (!Number.isFinite(alpha)) ctx.fail(`alpha ${String(ctx.config.alpha)} is not a number`);
  return [{ ...x, name: ctx.op('LeakyRelu', [x.name], { alpha: attr.float(alpha) }) }];
};

const reLU: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]!;
  const max = ctx.config.maxValue;
  if (max === null || max === undefined) return [{ ...x, name: ctx.op('Relu', [x.name]) }];
  return [{ ...x, name: ctx.op('Clip', [x.name, scalar(ctx, 0), scalar(ctx, Number(max))]) }];
};

const activation: LayerConverter = (ctx) => [applyActivation(ctx, ctx.inputs[0]!, ctx.config.activation)];

const softmaxLayer: LayerConverter = (ctx) => {
  if (!isLastAxis(ctx.config.axis ?? -1, ctx.inputs[0]!.shape.length))
    ctx.fail('only the last axis is supported');
  return [applyActivation(ctx, ctx.inputs[0]!, 'softmax')];
};

const identity: LayerConverter = (ctx) => [{ ...ctx.inputs[0]!, shape: ctx.outputShapes[0]! }];

function reshapeTo(ctx: LayerContext): Value[] {
  const x = ctx.nhwc(ctx.inputs[0]!);
  const target = ctx.outputShapes[0]!.slice(1);
  if (target.some((d) => d === null)) ctx.fail(`output shape [${ctx.outputShapes[0]}] is not fixed`);
  const y = ctx.op('Reshape', [x.name, ctx.g.int64s([-1, ...(target as number[])], ctx.fresh('shape'))]);
  return [{ ...x, name: y, shape: ctx.outputShapes[0]!, layout: 'NHWC' }];
}

const flatten: LayerConverter = (ctx) => {
  if (ctx.config.dataFormat === 'channelsFirst' && ctx.inputs[0]!.shape.length > 2) {
    ctx.fail('dataFormat channelsFirst is not supported');
  }
  return reshapeTo(ctx);
};

/**
 * Embedding: Gather rows of the table. tfjs casts its (float) input to int32 first; label inputs already arrive as
 * integers (see convert.ts), anything else is cast the same way.
 */
const embedding: LayerConverter = (ctx) => {
  let x = ctx.nhwc(ctx.inputs[0]!);
  const table = requireWeight(ctx, weightsOf(ctx), 'embeddings');
  if (x.dtype === 'float32')
    x = { ...x, name: ctx.op('Cast', [x.name], { to: attr.int(6) }), dtype: 'int32' };
  const t = ctx.g.initializer(table.data, table.shape, ctx.fresh('embeddings'));
  const y = ctx.op('Gather', [t, x.name], { axis: attr.int(0) });
  return [out(ctx, y, 'NHWC')];
};

/**
 * LatentCode (the trainer's InfoGAN code, trainer/models/latent-code.ts): the index of the largest of z's first K
 * entries, as float32 [N, 1] like the tfjs layer's output; a following Embedding casts it back to an integer.
 */
const latentCode: LayerConverter = (ctx) => {
  const x = ctx.nhwc(ctx.inputs[0]!);
  const k = Number(ctx.config.categories);
  if (!Number.isInteger(k) || k < 2) ctx.fail(`expected an integer number of categories ≥ 2, got ${k}`);
  if (x.shape.length !== 2) ctx.fail(`expected a [N, D] input, got [${x.shape}]`);
  const head = ctx.op('Slice', [
    x.name,
    ctx.g.int64s([0], ctx.fresh('starts')),
    ctx.g.int64s([k], ctx.fresh('ends')),
    ctx.g.int64s([1], ctx.fresh('axes')),
  ]);
  const index = ctx.op('ArgMax', [head], { axis: attr.int(1), keepdims: attr.int(1) });
  return [out(ctx, ctx.op('Cast', [index], { to: attr.int(1) }), 'NHWC')]; // 1 = FLOAT
};

/** NHWC axis → NCHW axis for rank 4. */
const NCHW_AXIS = [0, 2, 3, 1];

const concatenate: LayerConverter = (ctx) => {
  const rank = ctx.outputShapes[0]!.length;
  const raw = Number(ctx.config.axis ?? -1);
  const axis = raw < 0 ? rank + raw : raw;
  const allNchw = rank === 4 && ctx.inputs.every((v) => v.layout === 'NCHW');
  const xs = ctx.inputs.map((v) => (allNchw ? v : ctx.nhwc(v)));
  const y = ctx.op(
    'Concat',
    xs.map((v) => v.name),
    { axis: attr.int(allNchw ? NCHW_AXIS[axis]! : axis) },
  );
  return [out(ctx, y, allNchw ? 'NCHW' : 'NHWC')];
};

function elementwise(op: 'Mul' | 'Add' | 'Max' | 'Min' | 'Mean'): LayerConverter {
  return (ctx) => {
    const first = ctx.inputs[0]!;
    const same = (a: readonly (number | null)[]) =>
      a.length === first.shape.length && a.every((d, i) => d === first.shape[i]);
    if (!ctx.inputs.every((v) => same(v.shape))) {
      ctx.fail(
        `inputs of different shapes (${ctx.inputs.map((v) => `[${v.shape}]`).join(', ')}) are not supported`,
      );
    }
    const layout = first.layout;
    const xs = ctx.inputs.map((v) => (layout === 'NCHW' ? ctx.nchw(v) : ctx.nhwc(v)).name);
    if (op === 'Max' || op === 'Min' || op === 'Mean') {
      return [out(ctx, ctx.op(op, xs), layout)];
    }
    let acc = xs[0]!;
    for (const x of xs.slice(1)) acc = ctx.op(op, [acc, x]);
    return [out(ctx, acc, layout)];
  };
}

function pool(kind: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = ctx.nchw(ctx.inputs[0]!);
    const [H, W] = staticDims(ctx, x) as [number, number];
    const [kh, kw] = pair(ctx.config.poolSize, 'poolSize', ctx);
    const [sh, sw] = pair(ctx.config.strides ?? ctx.config.poolSize, 'strides', ctx);
    const padding = paddingMode(ctx);
    const ph = convPads(padding, H, kh, sh);
    const pw = convPads(padding, W, kw, sw);
    const attrs = {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([sh, sw]),
      pads: attr.ints([ph.begin, pw.begin, ph.end, pw.end]),
      // TensorFlow averages over the window's real pixels only.
      ...(kind === 'AveragePool' ? { count_include_pad: attr.int(0) } : {}),
    };
    return [out(ctx, ctx.op(kind, [x.name], attrs), 'NCHW')];
  };
}

function globalPool(kind: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = ctx.nchw(ctx.inputs[0]!);
    const y = ctx.op('Flatten', [ctx.op(kind, [x.name])], { axis: attr.int(1) });
    return [out(ctx, y, 'NHWC')];
  };
}

const zeroPadding2D: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const x = ctx.inputs[0]!;
  const p = ctx.config.padding as [[number, number], [number, number]];
  const [[t, b], [l, r]] = p;
  const pads = x.layout === 'NCHW' ? [0, 0, t, l, 0, 0, b, r] : [0, t, l, 0, 0, b, r, 0];
  return [out(ctx, ctx.op('Pad', [x.name, ctx.g.int64s(pads, ctx.fresh('pads'))]), x.layout)];
};

export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Dense: dense,
  Conv2D: conv2d,
  Conv2DTranspose: conv2dTranspose,
  BatchNormalization: batchNormalization,
  LeakyReLU: leakyReLU,
  ReLU: reLU,
  Activation: activation,
  Softmax: softmaxLayer,
  Reshape: reshapeTo,
  Flatten: flatten,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  Embedding: embedding,
  LatentCode: latentCode,
  Concatenate: concatenate,
  Multiply: elementwise('Mul'),
  Add: elementwise('Add'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding2D,
};

export const SUPPORTED_LAYERS = Object.keys(LAYER_CONVERTERS);
