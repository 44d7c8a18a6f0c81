/** The file IO handler: a layers model saved to a folder loads back with identical weights and predictions. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';
import { fileLoadHandler, fileSaveHandler } from '../../../trainer/tfjs/io.ts';

let dir: string;

beforeAll(async () => {
  await initTf();
  dir = await mkdtemp(path.join(tmpdir(), 'tfjs-io-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fileSaveHandler / fileLoadHandler', () => {
  it('round-trips topology and weights in the tfjs layers format', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 5, name: 'a' }),
        tf.layers.leakyReLU({ alpha: 0.2, name: 'b' }),
        tf.layers.dense({ units: 2, name: 'c' }),
      ],
    });
    const target = path.join(dir, 'nested', 'model');
    const result = await model.save(fileSaveHandler(target));
    const json = JSON.parse(await readFile(path.join(target, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      'a/kernel',
      'a/bias',
      'c/kernel',
      'c/bias',
    ]);
    const bytes = (6 * 5 + 5 + 5 * 2 + 2) * 4;
    expect((await stat(path.join(target, 'weights.bin'))).size).toBe(bytes);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(bytes);

    const loaded = await tf.loadLayersModel(fileLoadHandler(target));
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(['Dense', 'LeakyReLU', 'Dense']);
    expect(loaded.layers[1]!.getConfig().alpha).toBe(0.2);
    const x = tf.randomNormal([3, 6], 0, 1, 'float32', 4);
    const a = model.predict(x) as tfTypes.Tensor;
    const b = loaded.predict(x) as tfTypes.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('fails with the path when model.json is missing', async () => {
    await expect(tf.loadLayersModel(fileLoadHandler(path.join(dir, 'absent')))).rejects.toThrow(
      /absent.model\.json/,
    );
  });
});
