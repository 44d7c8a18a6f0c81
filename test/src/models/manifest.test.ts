/**
 * The manifest schema: inputs by role, the legacy form migrated on parse, the rules that tie the networks together;
 * the .npy reader for w_avg; the feeds built from roles.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { feedsFor, fixedTensors, oneHot } from '../../../src/models/feeds.ts';
import { inputOf, manifestSchema, truncationMode } from '../../../src/models/manifest.ts';
import type { ResolvedInput } from '../../../src/models/metadata-check.ts';
import { formatNpy, parseNpy } from '../../../src/models/npy.ts';

const base = {
  name: 'm',
  title: 'M',
  latentDim: 8,
  image: { width: 16, height: 16, channels: 3 },
  numClasses: null,
};
const image = { output: 'img', outputRange: [-1, 1], outputLayout: 'NCHW' };

const issues = (input: unknown) => {
  const r = manifestSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('manifest', () => {
  it('migrates the pre-role form (latentInput, labelInput, labelDtype, a discriminator input)', async () => {
    const legacy = {
      ...base,
      dataset: 'mnist',
      numClasses: 10,
      generator: { latentInput: 'z', labelInput: 'label', labelDtype: 'int64', ...image },
      discriminator: {
        input: 'x',
        labelInput: null,
        labelDtype: 'int32',
        inputRange: [-1, 1],
        inputLayout: 'NHWC',
        output: 'logit',
        outputKind: 'logit',
      },
      provenance: { command: 'x', createdAt: '2026-01-01T00:00:00Z' },
    };
    const m = manifestSchema.parse(legacy);
    expect(m.generator.inputs).toEqual([
      { role: 'latent', name: 'z', dtype: 'float32' },
      { role: 'class-index', name: 'label', dtype: 'int64' },
    ]);
    expect(m.discriminator?.inputs).toEqual([{ role: 'image', name: 'x', dtype: 'float32' }]);
    expect(m.mapping).toBeNull();
    expect(m.default).toBe(false);
  });

  it('needs no discriminator and no provenance; the shipped default marks itself', async () => {
    const m = manifestSchema.parse({
      ...base,
      generator: { inputs: [{ role: 'latent', name: 'z' }], ...image },
    });
    expect(m.discriminator).toBeNull();
    expect(m.provenance).toBeNull();
    expect(m.dataset).toBeNull();
    expect(truncationMode(m)).toBe('z');
    const shipped = manifestSchema.parse(JSON.parse(await readFile('models/mnist-dcgan/model.json', 'utf8')));
    expect(shipped.default).toBe(true);
  });

  it('ties a mapping network to a w-latent generator, and says what is missing', () => {
    const synthesis = { inputs: [{ role: 'w-latent', name: 'ws', shape: [4, 8] }], ...image };
    const mapping = { inputs: [{ role: 'latent', name: 'z' }], output: 'ws' };
    const m = manifestSchema.parse({ ...base, generator: synthesis, mapping });
    expect(truncationMode(m)).toBe('w');
    expect(m.mapping?.wAvgSamples).toBe(10_000);
    expect(issues({ ...base, generator: synthesis })).toEqual([
      'mapping: a generator with a w-latent input needs a mapping network',
      'generator.inputs: needs an input with role latent',
    ]);
    expect(
      issues({ ...base, generator: { inputs: [{ role: 'latent', name: 'z' }], ...image }, mapping }),
    ).toEqual([
      'generator.inputs: with a mapping network the generator needs a w-latent input',
      'generator.inputs: with a mapping network z goes to the mapping, not the generator',
    ]);
  });

  it('checks classes, latent shapes, roles per network and duplicate names', () => {
    const gen = (inputs: unknown[]) => ({ ...base, generator: { inputs, ...image } });
    expect(issues(gen([{ role: 'latent', name: 'z', shape: [4, 1, 1] }]))).toEqual([
      'generator.inputs: latent shape [4,1,1] holds 4 values but latentDim is 8',
    ]);
    expect(
      issues(
        gen([
          { role: 'latent', name: 'z' },
          { role: 'class-onehot', name: 'y' },
        ]),
      ),
    ).toEqual(['numClasses: a network takes a class but numClasses is null']);
    expect(issues({ ...gen([{ role: 'latent', name: 'z' }]), numClasses: 10 })).toEqual([
      'generator.inputs: numClasses is 10 but no input has role class-index or class-onehot',
    ]);
    expect(
      issues(
        gen([
          { role: 'latent', name: 'z' },
          { role: 'image', name: 'x' },
        ]),
      ),
    ).toEqual([
      "generator.inputs.1.role: role 'image' is not one this network takes (latent, w-latent, class-index, class-onehot, truncation, constant, noise)",
    ]);
    expect(
      issues(
        gen([
          { role: 'latent', name: 'z' },
          { role: 'noise', name: 'z' },
        ]),
      ),
    ).toEqual(['generator.inputs: input names must be unique']);
    const bigGan = manifestSchema.parse({
      ...gen([
        { role: 'latent', name: 'z' },
        { role: 'class-onehot', name: 'y' },
        { role: 'truncation', name: 't', shape: [1], default: 0.4 },
      ]),
      numClasses: 1000,
    });
    expect(truncationMode(bigGan)).toBe('input');
    expect(inputOf(bigGan.generator, 'truncation')?.default).toBe(0.4);
  });
});

describe('.npy', () => {
  it('round-trips float32 and reads float64; refuses what it cannot read, saying why', () => {
    const data = Float32Array.from({ length: 6 }, (_, i) => i / 3);
    const parsed = parseNpy(formatNpy(data, [2, 3]));
    expect(parsed.shape).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
    // NumPy's own header for np.save(np.arange(2, dtype='<f8')).
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    const padded = `${header}${' '.repeat(128 - 10 - header.length - 1)}\n`;
    const f8 = Buffer.concat([
      Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, padded.length, 0]),
      Buffer.from(padded, 'latin1'),
      Buffer.from(new Float64Array([0.5, -2]).buffer),
    ]);
    expect(Array.from(parseNpy(f8).data)).toEqual([0.5, -2]);
    expect(() => parseNpy(Buffer.from('hello'))).toThrow('not a .npy file');
    expect(() => parseNpy(Buffer.from(f8.toString('latin1').replace('<f8', '<i8'), 'latin1'))).toThrow(
      "dtype <i8 is not supported (float32 '<f4' or float64 '<f8')",
    );
  });
});

describe('feeds by role', () => {
  const inputs: ResolvedInput[] = [
    {
      spec: { role: 'latent', name: 'z', dtype: 'float16', shape: [2, 1, 1] },
      batched: true,
      dims: [2, 1, 1],
    },
    { spec: { role: 'class-onehot', name: 'y', dtype: 'float32' }, batched: true, dims: [3] },
    {
      spec: { role: 'truncation', name: 't', dtype: 'float32', shape: [1], default: 0.4 },
      batched: false,
      dims: [1],
    },
    {
      spec: { role: 'constant', name: 'mode', dtype: 'int64', shape: [], batched: false, value: 2 },
      batched: false,
      dims: [],
    },
    {
      spec: { role: 'noise', name: 'n', dtype: 'float32', shape: [2], batched: true, seed: 1, std: 0.5 },
      batched: true,
      dims: [2],
    },
  ];

  it('builds every input from its role: one-hot classes, ψ or its default, constants, repeated noise rows', () => {
    const fixed = fixedTensors(inputs);
    const feeds = feedsFor(
      inputs,
      { rows: 2, latents: Float32Array.of(1, 2, 3, 4), labels: [2, 0] },
      3,
      fixed,
    );
    expect(feeds.inputs.z).toEqual({
      type: 'float32',
      data: Float32Array.of(1, 2, 3, 4),
      rowDims: [2, 1, 1],
    });
    expect(Array.from(feeds.inputs.y!.data as Float32Array)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(feeds.fixed.t!.data as Float32Array)).toEqual([Math.fround(0.4)]);
    expect(feeds.fixed.mode).toEqual({ type: 'int64', data: BigInt64Array.of(2n), dims: [] });
    const noise = feeds.inputs.n!.data as Float32Array;
    expect(noise.length).toBe(4);
    expect(Array.from(noise.subarray(0, 2))).toEqual(Array.from(noise.subarray(2, 4)));
    expect(feeds.fixedKey).toBe('t=0.4;');
    const withPsi = feedsFor(inputs, { rows: 1, latents: Float32Array.of(0, 0), truncation: 0.7 }, 3, fixed);
    expect(withPsi.fixedKey).toBe('t=0.7;');
    expect(Array.from(oneHot([1], 3))).toEqual([0, 1, 0]);
  });
});
