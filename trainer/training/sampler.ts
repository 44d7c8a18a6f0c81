/**
 * Seeded batches for training: shuffled real images (each epoch a new permutation) and z ~ N(0, 1) with uniform
 * class labels, all from NumPy-compatible `RandomState`s so that `--seed` repeats a run.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { RandomState } from '../../src/latent/random-state.ts';
import { type Dataset, PIXELS, toSignedUnit } from '../data/datasets.ts';
import { tf } from '../tfjs/backend.ts';
import type { StepInputs } from './step.ts';

export class GanSampler {
  private readonly images: Float32Array;
  private readonly labels: Uint8Array;
  private readonly rng: RandomState;
  private order: Uint32Array;
  private cursor = 0;

  constructor(
    data: Dataset,
    readonly batchSize: number,
    readonly latentDim: number,
    readonly numClasses: number | null,
    seed: number,
    /** Return the real images' labels (conditional runs, or a code supervised by labels). */
    private readonly realLabels = numClasses !== null,
  ) {
    if (data.count < batchSize) throw new Error(`expected at least ${batchSize} images, got ${data.count}`);
    this.images = toSignedUnit(data.images);
    this.labels = data.labels;
    this.rng = new RandomState(seed >>> 0);
    this.order = this.permutation(data.count);
  }

  /** Full batches per epoch (the remainder of each permutation is dropped). */
  get stepsPerEpoch(): number {
    return Math.floor(this.labels.length / this.batchSize);
  }

  private permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.rng.random() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  /** Starts a new epoch (a fresh permutation). */
  newEpoch(): void {
    this.order = this.permutation(this.labels.length);
    this.cursor = 0;
  }

  realBatch(): { images: tfTypes.Tensor4D; labels: tfTypes.Tensor2D | null } {
    const b = this.batchSize;
    if (this.cursor + b > this.order.length) this.newEpoch();
    const x = new Float32Array(b * PIXELS);
    const y = new Float32Array(b);
    for (let i = 0; i < b; i++) {
      const idx = this.order[this.cursor++]!;
      x.set(this.images.subarray(idx * PIXELS, (idx + 1) * PIXELS), i * PIXELS);
      y[i] = this.labels[idx]!;
    }
    return {
      images: tf.tensor4d(x, [b, 28, 28, 1]),
      labels: this.realLabels ? tf.tensor2d(y, [b, 1]) : null,
    };
  }

  noise(batch: number): { z: tfTypes.Tensor2D; labels: tfTypes.Tensor2D | null } {
    const z = Float32Array.from(this.rng.randn(batch * this.latentDim));
    let labels: tfTypes.Tensor2D | null = null;
    if (this.numClasses !== null) {
      const y = new Float32Array(batch);
      for (let i = 0; i < batch; i++) y[i] = Math.floor(this.rng.random() * this.numClasses);
      labels = tf.tensor2d(y, [batch, 1]);
    }
    return { z: tf.tensor2d(z, [batch, this.latentDim]), labels };
  }

  /** The trainStep inputs bound to this sampler. */
  stepInputs(): StepInputs {
    return { realBatch: () => this.realBatch(), noise: (n) => this.noise(n) };
  }
}

/**
 * Makes `Math.random` a seeded NumPy-compatible generator. tfjs draws the seeds of its random ops (weight
 * initialisers, dropout masks) from Math.random, so this is what makes `--seed` repeat a run exactly.
 */
export function seedMathRandom(seed: number): void {
  const rng = new RandomState(seed >>> 0);
  Math.random = () => rng.random();
}
