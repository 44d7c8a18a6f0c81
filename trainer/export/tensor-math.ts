/**
 * Pure array helpers for the exporter: N-d transposes of weight arrays, per-channel scaling (BatchNorm folding) and
 * the padding arithmetic that makes ONNX Conv/ConvTranspose reproduce tfjs's 'same'/'valid' shapes exactly.
 */

/** Row-major N-d transpose: `out[i_perm[0], …] = data[i_0, …]`, as `np.transpose(data, perm)`. */
export function transpose(
  data: Float32Array,
  dims: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = dims.length;
  if (perm.length !== rank) throw new Error(`transpose: perm [${perm}] does not match rank ${rank}`);
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = stridesOf(dims);
  // Stride in the input for each output axis.
  const strideForOut = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      src += strideForOut[a]!;
      if (idx[a]! < outDims[a]!) break;
      src -= strideForOut[a]! * outDims[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

export function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(1);
  for (let a = dims.length - 2; a >= 0; a--) strides[a] = strides[a + 1]! * dims[a + 1]!;
  return strides;
}

/** Multiplies `data` (shape `dims`) by `scale[i]` along `axis`, in float64 then rounded once to float32. */
export function scaleAlongAxis(
  data: Float32Array,
  dims: readonly number[],
  axis: number,
  scale: Float64Array,
): Float32Array {
  if (dims[axis] !== scale.length) {
    throw new Error(`scaleAlongAxis: axis ${axis} of [${dims}] is ${dims[axis]}, scale has ${scale.length}`);
  }
  const inner = stridesOf(dims)[axis]!;
  const size = dims[axis]!;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! * scale[Math.floor(i / inner) % size]!;
  return out;
}

/** Begin/end padding of one spatial axis. */
export type AxisPads = { begin: number; end: number };

/**
 * Padding of a tfjs/TensorFlow convolution along one axis: 'valid' pads nothing; 'same' pads so that
 * out = ceil(in / stride), the odd pixel at the end (TensorFlow's convention, asymmetric for even kernels).
 */
export function convPads(
  padding: 'same' | 'valid',
  inSize: number,
  kernel: number,
  stride: number,
  dilation = 1,
): AxisPads {
  if (padding === 'valid') return { begin: 0, end: 0 };
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return { begin, end: total - begin };
}

/** ONNX ConvTranspose parameters along one axis that give tfjs Conv2DTranspose's output size and values. */
export type DeconvAxis = AxisPads & { outputPadding: number; outSize: number };

/**
 * tfjs computes a 'same' transposed convolution as the gradient of a 'same' convolution whose input is the
 * transposed one's output (out = in·stride); the crop equals that convolution's padding. 'valid' crops nothing and
 * gives out = in·stride + max(kernel − stride, 0). Whatever the full ONNX output (stride·(in−1) + kernel − crop)
 * lacks is output_padding.
 */
export function deconvAxis(
  padding: 'same' | 'valid',
  inSize: number,
  kernel: number,
  stride: number,
): DeconvAxis {
  const outSize = padding === 'same' ? inSize * stride : inSize * stride + Math.max(kernel - stride, 0);
  const pads = padding === 'same' ? convPads('same', outSize, kernel, stride) : { begin: 0, end: 0 };
  const full = stride * (inSize - 1) + kernel - pads.begin - pads.end;
  const outputPadding = outSize - full;
  if (outputPadding < 0 || outputPadding >= stride) {
    throw new Error(
      `deconvAxis: no ONNX ConvTranspose gives ${outSize} from ${inSize} (kernel ${kernel}, stride ${stride})`,
    );
  }
  return { ...pads, outputPadding, outSize };
}

/**
 * A stride-s transposed convolution along one axis as s ordinary correlations ("phases") whose outputs interleave:
 * y[s·q + r] = Σ_b xPadded[q + b] · w[tap[r][b]] (tap −1 = zero). Shared by all phases: left pad, kernel length and
 * right pad, so that the s² phases of a 2-D kernel form one Conv followed by DepthToSpace.
 */
export type SubPixelAxis = { padBegin: number; padEnd: number; length: number; taps: number[][] };

/**
 * Derivation: the uncropped transposed output is u[p] = Σ_{j,k: p = s·j + k} x[j]·w[k], and y[t] = u[t + crop].
 * Writing crop = s·c + d, output phase r reads kernel taps ρ = (r + d) mod s + s·a at input q + e − a, where
 * e = c + ⌊(r + d) / s⌋; a correlation with left pad L reads tap a = e + L − b at kernel position b.
 * Returns null when the output length isn't a multiple of the stride (then the plain ConvTranspose stays).
 */
export function subPixelAxis(
  inSize: number,
  kernel: number,
  stride: number,
  axis: DeconvAxis,
): SubPixelAxis | null {
  if (axis.outSize % stride !== 0) return null;
  const c = Math.floor(axis.begin / stride);
  const d = axis.begin % stride;
  const phases = Array.from({ length: stride }, (_, r) => {
    const rho = (r + d) % stride;
    const e = c + Math.floor((r + d) / stride);
    const taps = Math.max(Math.ceil((kernel - rho) / stride), 0);
    return { rho, e, taps };
  });
  const padBegin = Math.max(0, ...phases.map((p) => p.taps - 1 - p.e));
  const length = Math.max(...phases.map((p) => p.e)) + padBegin + 1;
  const padEnd = axis.outSize / stride - inSize - padBegin + length - 1;
  if (padEnd < 0) return null;
  const taps = phases.map(({ rho, e }) =>
    Array.from({ length }, (_, b) => {
      const a = e + padBegin - b;
      const k = rho + stride * a;
      return a >= 0 && k < kernel ? k : -1;
    }),
  );
  return { padBegin, padEnd, length, taps };
}
