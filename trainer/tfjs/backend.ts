/**
 * TensorFlow.js on the wasm backend in Node, with the two kernels wasm 4.22 lacks for training registered from
 * JavaScript: `Conv2DBackpropFilter` (tensorflow/tfjs#8474: Conv2D/Conv2DTranspose cannot train without it) and
 * `UnsortedSegmentSum` (the Embedding gradient). Both are built from kernels wasm has, so they run at wasm speed
 * (a small DCGAN step is ~100× faster than on the pure-JS cpu backend).
 *
 * Usage: `const tf = await initTf();` once per process, before building models.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };

const require = createRequire(import.meta.url);

/** Folder holding tfjs-backend-wasm's `.wasm` binaries, with a trailing separator (setWasmPaths wants a prefix). */
export function wasmBinaryDir(): string {
  const entry = require.resolve('@tensorflow/tfjs-backend-wasm');
  // entry is .../tfjs-backend-wasm/dist/tf-backend-wasm.node.js; the binaries lie beside it.
  return path.dirname(entry) + path.sep;
}

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

/**
 * dW[kh, kw, c, o] = Σ_{b,i,j} xPadded[b, i·sh + kh, j·sw + kw, c] · dy[b, i, j, o].
 * Read as a forward convolution: x transposed to [C, Hp, Wp, B] is the "batch", dy transposed to [oh, ow, B, O] is
 * the "filter", dilated by the stride; its output [C, ≥kh, ≥kw, O] is cropped to the kernel and transposed.
 * @param x float32 [B, H, W, C]; dy float32 [B, oh, ow, O]
 * @returns float32 [kh, kw, C, O]
 */
export function conv2dBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: Conv2DBackpropFilterAttrs['pad'],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterShape;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { top, bottom, left, right } = info.padInfo;
    const { strideHeight: sh, strideWidth: sw } = info;
    const [, oh, ow] = dy.shape;
    // Rows needed so the dilated dy window covers every kernel offset; pad extra zeros if 'same' left too few.
    const needH = kh + (oh - 1) * sh;
    const needW = kw + (ow - 1) * sw;
    const hp = x.shape[1] + top + bottom;
    const wp = x.shape[2] + left + right;
    const padded =
      top || left || bottom || right || hp < needH || wp < needW
        ? tf.pad(x, [
            [0, 0],
            [top, bottom + Math.max(0, needH - hp)],
            [left, right + Math.max(0, needW - wp)],
            [0, 0],
          ])
        : x;
    const xT = tf.transpose(padded, [3, 1, 2, 0]); // [C, Hp, Wp, B]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]); // [oh, ow, B, O]
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]); // [C, ≥kh, ≥kw, O]
    const cropped =
      full.shape[1] === kh && full.shape[2] === kw ? full : tf.slice(full, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]);
  });
}

/**
 * Transposed convolution (the input gradient of conv2d) as ONE forward conv2d plus depthToSpace ("sub-pixel"
 * decomposition): output row y = s·q + r − padTop only sees kernel rows ky ≡ r (mod s), so each of the s² phases
 * (r, c) is a stride-1 correlation of dy with a flipped M×M sub-kernel (M = ⌈k/s⌉); stacking the phases as
 * output channels gives one conv [M, M, O, s²·C] and a reshape/transpose interleaves them. Exact, and ~8× faster than
 * wasm 4.22's own Conv2DBackpropInput, which does not use XNNPACK.
 * @param dy float32 [B, oh, ow, O]; filter float32 [kh, kw, C, O]
 * @returns float32 inputShape = [B, H, W, C]
 */
export function conv2dTransposeViaConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: Conv2DBackpropFilterAttrs['pad'],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, o] = filter.shape;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const [, h, w] = inputShape;
    const [, oh, ow] = dy.shape;
    const mh = Math.ceil(kh / sh);
    const mw = Math.ceil(kw / sw);
    // W'[mh−1−m, mw−1−n, o, (ry·sw + rx)·C + c] = W[m·sh + ry, n·sw + rx, c, o]
    const wPad = tf.pad(filter, [
      [0, mh * sh - kh],
      [0, mw * sw - kw],
      [0, 0],
      [0, 0],
    ]);
    const w6 = tf.reshape(wPad, [mh, sh, mw, sw, c, o]);
    const wT = tf.transpose(w6, [0, 2, 5, 1, 3, 4]); // [mh, mw, O, sh, sw, C]
    const wFlip = tf.reverse(wT, [0, 1]);
    const wSub = tf.reshape(wFlip, [mh, mw, o, sh * sw * c]) as tf.Tensor4D;
    // Full correlation; extra rows at the bottom/right if the phases must cover more than (oh + mh − 1)·sh rows.
    const extraH = Math.max(0, Math.ceil((top + h) / sh) - (oh + mh - 1));
    const extraW = Math.max(0, Math.ceil((left + w) / sw) - (ow + mw - 1));
    const dyPad = tf.pad(dy, [
      [0, 0],
      [mh - 1, mh - 1 + extraH],
      [mw - 1, mw - 1 + extraW],
      [0, 0],
    ]);
    const phases = tf.conv2d(dyPad, wSub, 1, 'valid'); // [B, qh, qw, sh·sw·C]
    // Interleave the phases (depthToSpace, done as reshape/transpose: wasm's DepthToSpace is ~2× slower).
    const [b, qh, qw] = phases.shape;
    const p6 = tf.reshape(phases, [b, qh, qw, sh, sw, c]);
    const full = tf.reshape(tf.transpose(p6, [0, 1, 3, 2, 4, 5]), [b, qh * sh, qw * sw, c]) as tf.Tensor4D;
    return tf.slice(full, [0, top, left, 0], [-1, h, w, -1]);
  });
}

/**
 * Sum of x's rows per segment id, as a one-hot matMul.
 * @param x float32 [N, ...rest]; segmentIds int32 [N] in [0, numSegments)
 * @returns float32 [numSegments, ...rest]
 */
export function unsortedSegmentSumViaMatMul(
  x: tf.Tensor,
  segmentIds: tf.Tensor,
  numSegments: number,
): tf.Tensor {
  return tf.tidy(() => {
    const n = segmentIds.size;
    const rest = x.shape.slice(segmentIds.rank);
    const flat = tf.reshape(x, [n, -1]);
    const ids = tf.reshape(segmentIds.dtype === 'int32' ? segmentIds : tf.cast(segmentIds, 'int32'), [n]);
    const oneHot = tf.cast(tf.oneHot(ids, numSegments), 'float32'); // [N, S]; out-of-range ids give zero rows
    const summed = tf.matMul(oneHot, tf.cast(flat, 'float32'), true, false); // [S, prod(rest)]
    const out = tf.reshape(summed, [numSegments, ...rest]);
    return x.dtype === 'float32' ? out : tf.cast(out, x.dtype);
  });
}

let kernelsRegistered = false;

/** Registers the missing training kernels for backend 'wasm' (idempotent). */
export function registerWasmTrainingKernels(): void {
  if (kernelsRegistered) return;
  kernelsRegistered = true;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { x, dy } = inputs as { x: tf.Tensor4D; dy: tf.Tensor4D };
      const a = attrs as unknown as Conv2DBackpropFilterAttrs;
      if (a.dataFormat === 'NCHW')
        throw new Error('Conv2DBackpropFilter (wasm): expected dataFormat NHWC, got NCHW');
      return conv2dBackpropFilterViaConv(x, dy, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    },
  });
  // wasm has Conv2DBackpropInput, but a naive one (~1.6 GMAC/s against ~12 for its forward conv): replace it.
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.Tensor4D; filter: tf.Tensor4D };
      const a = attrs as unknown as Omit<Conv2DBackpropFilterAttrs, 'filterShape'> & {
        inputShape: [number, number, number, number];
      };
      if (a.dataFormat === 'NCHW')
        throw new Error('Conv2DBackpropInput (wasm): expected dataFormat NHWC, got NCHW');
      return conv2dTransposeViaConv(dy, filter, a.inputShape, a.strides, a.pad, a.dimRoundingMode);
    },
  });
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.Tensor; segmentIds: tf.Tensor };
      const { numSegments } = attrs as unknown as { numSegments: number };
      return unsortedSegmentSumViaMatMul(x, segmentIds, numSegments);
    },
  });
}

let ready: Promise<typeof tf> | undefined;

/**
 * Initialises tfjs on wasm (SIMD binary from node_modules, 1 thread: Node has no wasm threads here) with the
 * training kernels registered. Safe to call many times.
 */
export function initTf(): Promise<typeof tf> {
  ready ??= (async () => {
    setWasmPaths(wasmBinaryDir());
    setThreadsCount(1);
    registerWasmTrainingKernels();
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('could not initialise the tfjs wasm backend');
    await tf.ready();
    return tf;
  })();
  return ready;
}
