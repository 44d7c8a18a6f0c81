/**
 * The per-epoch sample grid: 100 images from fixed seeds, the same latents every epoch, so the grids of a run can
 * be compared side by side.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { setCode } from '../../src/latent/code.ts';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/datasets.ts';
import { tf } from '../tfjs/backend.ts';
import { gridPng } from './pictures.ts';

const GRID_COLS = 10;
const GRID_SEEDS = Array.from({ length: 100 }, (_, i) => i);

export type GridModel = {
  latentDim: number;
  conditional: boolean;
  /** Categories of an InfoGAN code read from z, or null. */
  latentCode: number | null;
};

/**
 * A 10×10 PNG grid of the generator's images. Conditional: row r shows class r, columns the same ten seeds.
 * Latent code: row r shows code r (r < K), the same ten seeds with z's largest code entry swapped to place r.
 * Otherwise seeds 0…99.
 */
export async function sampleGrid(generator: tfTypes.LayersModel, model: GridModel): Promise<Buffer> {
  const n = GRID_SEEDS.length;
  const images = tf.tidy(() => {
    const byRow = model.conditional || model.latentCode !== null;
    const seeds = byRow ? GRID_SEEDS.map((i) => i % GRID_COLS) : GRID_SEEDS;
    const latents = latentsForSeeds(seeds, model.latentDim);
    if (model.latentCode !== null) {
      for (const [k, i] of GRID_SEEDS.entries()) {
        setCode(latents, k, model.latentDim, model.latentCode, Math.floor(i / GRID_COLS));
      }
    }
    const z = tf.tensor2d(latents, [n, model.latentDim]);
    const input = model.conditional
      ? [
          z,
          tf.tensor2d(
            GRID_SEEDS.map((i) => Math.floor(i / GRID_COLS) % NUM_CLASSES),
            [n, 1],
          ),
        ]
      : z;
    return generator.predict(input) as tfTypes.Tensor;
  });
  const data = images.dataSync() as Float32Array;
  images.dispose();
  return gridPng(data, n, IMAGE_SIZE, IMAGE_SIZE, GRID_COLS);
}
