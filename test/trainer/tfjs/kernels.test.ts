/**
 * The kernels registered for wasm (Conv2DBackpropFilter, Conv2DBackpropInput, UnsortedSegmentSum) against the cpu
 * backend's reference implementations, over pad / stride / kernel-size cases.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

type Pad = 'same' | 'valid' | number;

function randn(shape: number[], seed: number): number[] {
  return Array.from(tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync());
}

/** Runs f on both backends with the same inputs; returns [wasm, cpu] values. */
async function onBoth(f: () => tf.Tensor): Promise<[Float32Array, Float32Array, number[], number[]]> {
  await tf.setBackend('wasm');
  const a = f();
  const wasm = [a.dataSync() as Float32Array, a.shape] as const;
  a.dispose();
  await tf.setBackend('cpu');
  const b = f();
  const cpu = [b.dataSync() as Float32Array, b.shape] as const;
  b.dispose();
  await tf.setBackend('wasm');
  return [wasm[0], cpu[0], wasm[1], cpu[1]];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Output size of a forward conv for explicit pads / same / valid. */
function outSize(inSize: number, k: number, s: number, pad: Pad): number {
  if (pad === 'same') return Math.ceil(inSize / s);
  if (pad === 'valid') return Math.ceil((inSize - k + 1) / s);
  return Math.floor((inSize + 2 * pad - k) / s) + 1;
}

const CASES: { x: [number, number, number, number]; k: [number, number]; o: number; s: number; pad: Pad }[] =
  [
    { x: [3, 8, 8, 2], k: [4, 4], o: 5, s: 2, pad: 'same' }, // DCGAN layer shape
    { x: [2, 7, 7, 3], k: [3, 3], o: 4, s: 2, pad: 'same' }, // odd input, asymmetric 'same' padding
    { x: [2, 9, 9, 3], k: [3, 3], o: 4, s: 1, pad: 'same' },
    { x: [2, 9, 8, 2], k: [3, 3], o: 3, s: 2, pad: 'valid' }, // rows left unused by the last window
    { x: [2, 10, 10, 2], k: [5, 5], o: 3, s: 3, pad: 'valid' },
    { x: [2, 8, 8, 2], k: [3, 2], o: 3, s: 1, pad: 'same' }, // non-square kernel
    { x: [2, 8, 8, 2], k: [3, 3], o: 3, s: 1, pad: 1 }, // explicit pads (tfjs sizes numeric pads from kh only)
    { x: [1, 11, 11, 2], k: [4, 4], o: 2, s: 2, pad: 2 },
    { x: [4, 6, 6, 1], k: [1, 1], o: 2, s: 2, pad: 'valid' },
  ];

beforeAll(async () => {
  await initTf();
});

describe('Conv2DBackpropFilter on wasm', () => {
  it.each(CASES)('matches cpu for x $x, kernel $k, stride $s, pad $pad', async ({ x, k, o, s, pad }) => {
    const dyShape = [x[0], outSize(x[1], k[0], s, pad), outSize(x[2], k[1], s, pad), o];
    const xv = randn(x, 1);
    const dyv = randn(dyShape, 2);
    const filterShape: [number, number, number, number] = [k[0], k[1], x[3], o];
    // The gradient of a conv2d with respect to its filter runs the Conv2DBackpropFilter kernel.
    const [wasm, cpu, ws, cs] = await onBoth(() =>
      tf.tidy(() => {
        const xt = tf.tensor4d(xv, x);
        const dy = tf.tensor4d(dyv, dyShape as [number, number, number, number]);
        return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, w as tf.Tensor4D, s, pad), dy)))(
          tf.zeros(filterShape),
        );
      }),
    );
    expect(ws).toEqual(filterShape);
    expect(cs).toEqual(filterShape);
    expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-4);
    expect(Math.max(...cpu.map(Math.abs))).toBeGreaterThan(0.1); // a non-trivial gradient was compared
  });
});

describe('Conv2DBackpropInput on wasm', () => {
  it.each(CASES)('matches cpu for x $x, kernel $k, stride $s, pad $pad', async ({ x, k, o, s, pad }) => {
    const dyShape: [number, number, number, number] = [
      x[0],
      outSize(x[1], k[0], s, pad),
      outSize(x[2], k[1], s, pad),
      o,
    ];
    const dyv = randn(dyShape, 3);
    const fv = randn([k[0], k[1], x[3], o], 4);
    const [wasm, cpu, ws] = await onBoth(() =>
      tf.tidy(() =>
        tf.conv2dTranspose(
          tf.tensor4d(dyv, dyShape),
          tf.tensor4d(fv, [k[0], k[1], x[3], o]),
          [...x],
          s,
          pad as 'same',
        ),
      ),
    );
    expect(ws).toEqual(x);
    expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-4);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it.each([
    { shape: [6, 3], ids: [0, 2, 2, 1, 0, 4], segments: 5 },
    { shape: [5, 2, 3], ids: [3, 3, 3, 0, 1], segments: 4 },
    { shape: [4], ids: [1, 1, 0, 1], segments: 3 },
  ])('matches cpu for shape $shape into $segments segments', async ({ shape, ids, segments }) => {
    const xv = randn(shape, 5);
    const [wasm, cpu, ws, cs] = await onBoth(() =>
      tf.unsortedSegmentSum(tf.tensor(xv, shape), tf.tensor1d(ids, 'int32'), segments),
    );
    expect(ws).toEqual([segments, ...shape.slice(1)]);
    expect(ws).toEqual(cs);
    expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('gives the Embedding layer a gradient on wasm', () => {
    const table = tf.variable(tf.ones([4, 2]));
    const ids = tf.tensor1d([1, 3, 1], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)))(table);
    expect(Array.from(g.dataSync())).toEqual([0, 0, 2, 2, 0, 0, 1, 1]);
    tf.dispose([table, ids, g]);
  });
});
