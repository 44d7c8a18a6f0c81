/**
 * Warm starts (`--init-from`): a plain DCGAN's weights copied into the same DCGAN with an InfoGAN code draw the same
 * images (the new embedding starts at ones), mismatched shapes are refused, and a source with nothing in common too.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDiscriminator, buildGenerator } from '../../../trainer/models/gan.ts';
import { copyMatchingWeights } from '../../../trainer/models/warm-start.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

beforeAll(async () => {
  await initTf();
});

const PLAIN = { arch: 'dcgan' as const, latentDim: 12, numClasses: null, width: 4 };

describe('copyMatchingWeights', () => {
  it('turns a plain DCGAN into an InfoGAN one that draws the same images at first', () => {
    const source = buildGenerator(PLAIN);
    const target = buildGenerator({ ...PLAIN, latentCode: 3 });
    const report = copyMatchingWeights(target, source);
    expect(report.fresh).toEqual(['label_embedding']);
    expect(report.copied).toEqual(source.layers.filter((l) => l.weights.length > 0).map((l) => l.name));
    tf.tidy(() => {
      const z = tf.randomNormal([5, 12], 0, 1, 'float32', 3);
      const a = source.predict(z) as tfTypes.Tensor;
      const b = target.predict(z) as tfTypes.Tensor;
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
    });
    const dSource = buildDiscriminator(PLAIN);
    const dTarget = buildDiscriminator({ ...PLAIN, latentCode: 3 });
    expect(copyMatchingWeights(dTarget, dSource).fresh).toEqual(['code_probs']);
    for (const m of [source, target, dSource, dTarget]) m.dispose();
  });

  it('refuses a layer whose weights differ in shape, naming it, and a source with no layer in common', () => {
    const source = buildGenerator(PLAIN);
    const wider = buildGenerator({ ...PLAIN, width: 8 });
    expect(() => copyMatchingWeights(wider, source)).toThrow(
      /layer 'g_project' has weights \[12,784\] here and \[12,392\] in the source run/,
    );
    const d = buildDiscriminator(PLAIN);
    expect(() => copyMatchingWeights(d, source)).toThrow(/no layer of 'discriminator' has a namesake/);
    for (const m of [source, wider, d]) m.dispose();
  });
});
