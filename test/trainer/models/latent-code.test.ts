/**
 * The InfoGAN code read from z: its definition (argmax of z's first K entries), its distribution (uniform, as the
 * argmax of K standard normals is), the grid's code setter, and the layer's save/load round trip.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { latentsForSeeds } from '../../../src/latent/random-state.ts';
import { LatentCode, latentCodeOf } from '../../../trainer/models/latent-code.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

beforeAll(async () => {
  await initTf();
});

/** The code by hand: index of the largest of the first `k` entries of each row. */
function argmaxRows(latents: Float32Array, dim: number, k: number): number[] {
  const rows = latents.length / dim;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (latents[r * dim + j]! > latents[r * dim + best]!) best = j;
    return best;
  });
}

describe('latentCodeOf', () => {
  it('is the argmax of the first K entries, as float32 [N, 1]', () => {
    const latents = latentsForSeeds([1, 2, 3, 4, 5, 6, 7, 8], 12);
    const code = latentCodeOf(tf.tensor2d(latents, [8, 12]), 6);
    expect(code.shape).toEqual([8, 1]);
    expect(code.dtype).toBe('float32');
    expect(Array.from(code.dataSync())).toEqual(argmaxRows(latents, 12, 6));
    code.dispose();
  });

  it('is uniform over the K categories for z ~ N(0, I): 10,000 seeded draws within 4 standard errors', () => {
    const n = 10_000;
    const k = 10;
    const latents = latentsForSeeds(
      Array.from({ length: n }, (_, i) => i),
      16,
    );
    const counts = new Array<number>(k).fill(0);
    for (const c of argmaxRows(latents, 16, k)) counts[c]!++;
    const se = Math.sqrt(n * (1 / k) * (1 - 1 / k)); // binomial standard error, 30 for n = 10,000
    for (const c of counts) expect(Math.abs(c - n / k)).toBeLessThan(4 * se);
  });
});

describe('LatentCode layer', () => {
  it('refuses fewer than two categories and a z shorter than the code', () => {
    expect(() => new LatentCode({ categories: 1 })).toThrow(/categories ≥ 2/);
    const z = tf.input({ shape: [3] });
    expect(() => new LatentCode({ categories: 4 }).apply(z)).toThrow(/fewer than the code's 4 categories/);
  });

  it('survives a save and load by class name, computing the same codes', async () => {
    const z = tf.input({ shape: [6] });
    const m = tf.model({
      inputs: z,
      outputs: new LatentCode({ categories: 3 }).apply(z) as tfTypes.SymbolicTensor,
    });
    let saved: tfTypes.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(JSON.stringify(saved!.modelTopology)).toContain('"class_name":"LatentCode"');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const input = tf.tensor2d(latentsForSeeds([5, 6, 7, 8], 6), [4, 6]);
    const a = m.predict(input) as tfTypes.Tensor;
    const b = loaded.predict(input) as tfTypes.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(a.dataSync())).toEqual(argmaxRows(input.dataSync() as Float32Array, 6, 3));
    tf.dispose([input, a, b]);
    m.dispose();
    loaded.dispose();
  });
});
