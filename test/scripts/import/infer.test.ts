/**
 * Pure inference on hand-written signatures, shaped like the public exports (scripts/onnx/families.ts): roles,
 * shapes, layouts, ranges and score kinds, and the errors and guesses for what does not fit.
 */
import { describe, expect, it } from 'vitest';
import {
  completeManifest,
  type ProbeResult,
  planModel,
  type Signatures,
} from '../../../scripts/import/infer.ts';
import type { Dim, OnnxSignature } from '../../../scripts/import/inspect.ts';
import { outputRange } from '../../../scripts/import/measure.ts';
import { ImportError, type InferOverrides } from '../../../scripts/import/types.ts';
import { manifestSchema } from '../../../src/models/manifest.ts';

type Tensor = [name: string, dtype: string, shape: Dim[]];

function sig(
  inputs: Tensor[],
  outputs: Tensor[],
  extra: { metadata?: Record<string, string>; ops?: Record<string, string> } = {},
): OnnxSignature {
  return {
    file: 'test.onnx',
    inputs: inputs.map(([name, dtype, shape]) => ({ name, dtype, shape })),
    outputs: outputs.map(([name, dtype, shape]) => ({ name, dtype, shape })),
    metadata: extra.metadata ?? {},
    outputOps: Object.fromEntries(outputs.map(([name]) => [name, extra.ops?.[name] ?? null])),
    externalData: [],
    producer: 'pytorch 2.3',
    opset: 17,
  };
}

const B = 'batch';
const dcganG = (dtype = 'float32') =>
  sig([['input', dtype, [B, 100, 1, 1]]], [['output', dtype, [B, 3, 64, 64]]]);
const dcganD = (out: Dim[], op = 'Sigmoid') =>
  sig([['input', 'float32', [B, 3, 64, 64]]], [['output', 'float32', out]], { ops: { output: op } });

/** `rows` images of `dims` whose values run evenly from lo to hi. */
function images(dims: number[], lo: number, hi: number, rows = 8): ProbeResult['image'] {
  const n = rows * dims.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * ((i * 7919) % n)) / (n - 1));
  return { dims, values, rows };
}

function complete(sigs: Signatures, probe: ProbeResult, o: InferOverrides = {}) {
  const plan = planModel(sigs, o);
  return { plan, ...completeManifest(plan, probe, { name: 'imported' }, o) };
}

function importError(fn: () => unknown): ImportError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImportError);
    return err as ImportError;
  }
  throw new Error('expected an ImportError');
}

describe('PyTorch DCGAN', () => {
  it('reads z [N, 100, 1, 1] as a latent of shape [100, 1, 1] and a [-1, 1] NCHW 64×64 RGB image', () => {
    const { manifest, guesses } = complete({ generator: dcganG() }, { image: images([3, 64, 64], -1, 1) });
    expect(manifest.latentDim).toBe(100);
    expect(manifest.generator.inputs).toEqual([
      { role: 'latent', name: 'input', dtype: 'float32', shape: [100, 1, 1] },
    ]);
    expect(manifest.image).toEqual({ width: 64, height: 64, channels: 3 });
    expect(manifest.generator).toMatchObject({
      output: 'output',
      outputRange: [-1, 1],
      outputLayout: 'NCHW',
    });
    expect(manifest.numClasses).toBeNull();
    expect(guesses.map((g) => g.message).join('\n')).toMatch(/output range \[-1, 1\]/);
    expect(() => manifestSchema.parse(manifest)).not.toThrow();
  });

  it.each([
    [[B, 1, 1, 1], 'Sigmoid', [0.2, 0.9], 'probability'],
    [[B], 'Sigmoid', [0.1, 0.7], 'probability'],
    [[B, 1], 'Conv', [0.1, 0.7], 'logit'],
    [[B, 1, 1, 1], 'Conv', [-3, 2], 'logit'],
  ] as const)('discriminator output %j ending in %s with scores %j is a %s', (out, op, [lo, hi], kind) => {
    const { manifest } = complete(
      { generator: dcganG(), discriminator: dcganD([...out], op) },
      { image: images([3, 64, 64], -1, 1), scores: Float32Array.of(lo, hi, (lo + hi) / 2) },
    );
    expect(manifest.discriminator).toEqual({
      file: 'discriminator.onnx',
      inputs: [{ role: 'image', name: 'input', dtype: 'float32' }],
      inputRange: [-1, 1],
      inputLayout: 'NCHW',
      output: 'output',
      outputKind: kind,
    });
  });

  it('keeps float16 dtypes', () => {
    const { manifest } = complete({ generator: dcganG('float16') }, { image: images([3, 64, 64], -1, 1) });
    expect(manifest.generator.inputs[0]).toMatchObject({ role: 'latent', dtype: 'float16' });
  });

  it('the discriminator may take NHWC while the generator writes NCHW', () => {
    const d = sig([['img', 'float32', [B, 64, 64, 3]]], [['score', 'float32', [B]]]);
    const { manifest } = complete(
      { generator: dcganG(), discriminator: d },
      { image: images([3, 64, 64], -1, 1), scores: Float32Array.of(-1, 2) },
    );
    expect(manifest.discriminator).toMatchObject({ inputLayout: 'NHWC', outputKind: 'logit' });
  });

  it('refuses a discriminator that does not take the generator’s images', () => {
    const d = sig([['input', 'float32', [B, 3, 32, 32]]], [['output', 'float32', [B]]]);
    const err = importError(() =>
      complete(
        { generator: dcganG(), discriminator: d },
        { image: images([3, 64, 64], -1, 1), scores: Float32Array.of(0.5) },
      ),
    );
    expect(err.message).toMatch(
      /discriminator input 'input' \[batch, 3, 32, 32\] does not take the generator's 64×64×3/,
    );
  });

  it('refuses a discriminator output that is not one score per image', () => {
    const d = sig([['input', 'float32', [B, 3, 64, 64]]], [['logits', 'float32', [B, 10]]]);
    expect(importError(() => planModel({ generator: dcganG(), discriminator: d })).message).toMatch(
      /discriminator output 'logits' \[batch, 10\] \(float32\) is not one score per image/,
    );
  });
});

describe('generic generators: layouts, ranges, sizes', () => {
  it('reads a grey NHWC [0, 255] 28×28 generator', () => {
    const g = sig([['z', 'float32', ['N', 64]]], [['image', 'float32', ['N', 28, 28, 1]]]);
    const { manifest } = complete({ generator: g }, { image: images([28, 28, 1], 3, 250) });
    expect(manifest.image).toEqual({ width: 28, height: 28, channels: 1 });
    expect(manifest.generator).toMatchObject({ outputLayout: 'NHWC', outputRange: [0, 255] });
    expect(manifest.generator.inputs).toEqual([{ role: 'latent', name: 'z', dtype: 'float32' }]);
  });

  it('reads a non-square NCHW [0, 1] image whose size the file leaves symbolic from the probe', () => {
    const g = sig([['latent', 'float32', [B, 32]]], [['out', 'float32', [B, 3, 'H', 'W']]]);
    const { manifest } = complete({ generator: g }, { image: images([3, 48, 80], 0, 1) });
    expect(manifest.image).toEqual({ width: 80, height: 48, channels: 3 });
    expect(manifest.generator.outputRange).toEqual([0, 1]);
  });

  it('picks the narrowest standard range holding 99% of the values, allowing a slight overshoot', () => {
    expect(outputRange(images([1], 0, 1, 100).values, undefined, 'x').range).toEqual([0, 1]);
    expect(outputRange(images([1], -0.4, 1, 100).values, undefined, 'x').range).toEqual([-1, 1]);
    const stylegan = outputRange(images([1], -1.08, 1.08, 1000).values, undefined, 'x');
    expect(stylegan.range).toEqual([-1, 1]);
    expect(stylegan.coverage).toBeCloseTo(2 / 2.16, 2);
    expect(outputRange(images([1], -0.06, 1.06, 1000).values, undefined, 'x').range).toEqual([0, 1]);
    expect(outputRange(images([1], 0, 254, 100).values, undefined, 'x').range).toEqual([0, 255]);
    expect(outputRange(images([1], -9, 9, 100).values, [-9, 9], 'x')).toMatchObject({
      range: [-9, 9],
      coverage: 1,
    });
    expect(
      importError(() => outputRange(images([1], -5, 5, 100).values, undefined, "output 'y'")).message,
    ).toMatch(/output 'y' spans \[-5\.000, 5\.000\].*pass --output-range/);
    expect(
      importError(() => outputRange(Float32Array.of(0, Number.NaN), undefined, "output 'y'")).message,
    ).toMatch(/NaN/);
  });

  it('takes --output-range and --layout over the guesses, and says which are guesses', () => {
    const g = sig([['z', 'float32', [B, 16]]], [['image', 'float32', [B, 3, 3, 3]]]);
    expect(
      importError(() => complete({ generator: g }, { image: images([3, 3, 3], -1, 1) })).message,
    ).toMatch(/NCHW or NHWC\? pass --layout/);
    const { manifest, guesses } = complete(
      { generator: g },
      { image: images([3, 3, 3], -1, 1) },
      { layout: 'NHWC', outputRange: [-2, 2] },
    );
    expect(manifest.generator).toMatchObject({ outputLayout: 'NHWC', outputRange: [-2, 2] });
    expect(guesses.some((x) => /output range/.test(x.message))).toBe(false);
    expect(guesses.some((x) => /3×3, outside the usual 28–1024 px/.test(x.message))).toBe(true);
  });

  it('refuses an output with 4 channels, and one that is not an image', () => {
    const four = sig([['z', 'float32', [B, 16]]], [['image', 'float32', [B, 64, 64, 4]]]);
    expect(
      importError(() => complete({ generator: four }, { image: images([64, 64, 4], 0, 1) })).message,
    ).toMatch(/\[N, 64, 64, 4\], not an image with 1 or 3 channels/);
    const flat = sig([['z', 'float32', [B, 16]]], [['pixels', 'float32', [B, 784]]]);
    expect(importError(() => planModel({ generator: flat })).message).toMatch(
      /generator output 'pixels' \[batch, 784\] \(float32\) is not an image/,
    );
  });

  it('feeds a fixed-shape input named noise seeded noise, and --noise-input sets the seed', () => {
    const g = sig(
      [
        ['z', 'float32', ['N', 8]],
        ['noise', 'float32', [1, 28, 28]],
      ],
      [['image', 'float32', ['N', 1, 28, 28]]],
    );
    const auto = planModel({ generator: g });
    expect(auto.generator.inputs[1]!.spec).toEqual({
      role: 'noise',
      name: 'noise',
      dtype: 'float32',
      shape: [1, 28, 28],
      batched: false,
      seed: 0,
      std: 1,
    });
    expect(auto.guesses.map((x) => x.message).join()).toMatch(/--noise-input noise:SEED/);
    const seeded = planModel({ generator: g }, { noiseInputs: { noise: 7 } });
    expect(seeded.generator.inputs[1]!.spec).toMatchObject({ role: 'noise', seed: 7 });
    expect(seeded.guesses).toEqual([]);
  });
});

describe('BigGAN', () => {
  const biggan = (truncation: Dim[], classInput = 'y', dtype = 'float32') =>
    sig(
      [
        ['z', dtype, [B, 128]],
        [classInput, dtype, [B, 1000]],
        ['truncation', dtype, truncation],
      ],
      [['output', dtype, [B, 3, 128, 128]]],
    );

  it.each([[[1]], [[]]] as const)('reads the one-hot y and a truncation of shape %j', (shape) => {
    const { manifest } = complete({ generator: biggan([...shape]) }, { image: images([3, 128, 128], -1, 1) });
    expect(manifest.numClasses).toBe(1000);
    expect(manifest.generator.inputs).toEqual([
      { role: 'latent', name: 'z', dtype: 'float32' },
      { role: 'class-onehot', name: 'y', dtype: 'float32' },
      { role: 'truncation', name: 'truncation', dtype: 'float32', shape, default: 1 },
    ]);
  });

  it('reads an unnamed [N, 1000] beside z as the class, and lists it as a guess', () => {
    const plan = planModel({ generator: biggan([1], 'embedding_in') });
    expect(plan.generator.inputs[1]!.spec.role).toBe('class-onehot');
    expect(plan.guesses.map((g) => g.message).join()).toMatch(
      /'embedding_in' \[N, 1000\] is read as a one-hot class/,
    );
  });

  it('refuses --num-classes that disagrees with the one-hot width', () => {
    expect(importError(() => planModel({ generator: biggan([1]) }, { numClasses: 10 })).message).toMatch(
      /--num-classes 10, but generator input 'y' .* takes one-hot rows of 1000/,
    );
  });
});

describe('class-index inputs', () => {
  const acgan = (metadata: Record<string, string> = {}) =>
    sig(
      [
        ['z', 'float32', [B, 100]],
        ['label', 'int64', [B]],
      ],
      [['image', 'float32', [B, 1, 28, 28]]],
      { metadata },
    );

  it('needs --num-classes or the metadata', () => {
    expect(importError(() => planModel({ generator: acgan() })).message).toMatch(
      /generator input 'label' \[batch\] \(int64\) takes a class id: pass --num-classes K/,
    );
    expect(planModel({ generator: acgan() }, { numClasses: 10 }).numClasses).toBe(10);
    const plan = planModel({ generator: acgan({ num_classes: '10' }) });
    expect(plan.numClasses).toBe(10);
    expect(plan.generator.inputs[1]!.spec).toEqual({
      role: 'class-index',
      name: 'label',
      dtype: 'int64',
      shape: [],
    });
  });

  it('reads the gan-serve metadata object: title, dataset, class names, range', () => {
    const gan = JSON.stringify({
      numClasses: 3,
      title: 'Three shapes',
      dataset: 'shapes',
      classNames: ['circle', 'square', 'star'],
      outputRange: [0, 1],
    });
    const { manifest, guesses } = complete(
      { generator: acgan({ 'gan-serve': gan }) },
      { image: images([1, 28, 28], -0.5, 0.5) },
    );
    expect(manifest).toMatchObject({
      title: 'Three shapes',
      dataset: 'shapes',
      numClasses: 3,
      classNames: ['circle', 'square', 'star'],
    });
    expect(manifest.generator.outputRange).toEqual([0, 1]);
    expect(guesses.map((g) => g.message).join()).toMatch(
      /only 50\.0% of the seeded output .* stated range \[0, 1\]/,
    );
  });

  it('reports unreadable metadata as a guess and ignores it', () => {
    const plan = planModel(
      { generator: acgan({ 'gan-serve': '{oops', num_classes: 'ten' }) },
      { numClasses: 4 },
    );
    expect(plan.guesses.map((g) => g.message)).toEqual([
      expect.stringMatching(/'gan-serve' is not a JSON object/),
      expect.stringMatching(/'num_classes' = "ten" is not a valid numClasses/),
    ]);
  });
});

describe('StyleGAN', () => {
  const mapping = (out: Tensor = ['ws', 'float32', [B, 14, 512]], cDim = 0) =>
    sig([['z', 'float32', [B, 512]], ...(cDim ? [['c', 'float32', [B, cDim]] as Tensor] : [])], [out]);
  const synthesis = (ws: Dim[] = [B, 14, 512]) =>
    sig([['ws', 'float32', ws]], [['img', 'float32', [B, 3, 64, 64]]]);

  it('reads mapping + synthesis: z → ws [14, 512] → image, with a conditional c', () => {
    const { manifest, guesses } = complete(
      { generator: synthesis(), mapping: mapping(undefined, 10) },
      { mappingDims: [14, 512], image: images([3, 64, 64], -1.1, 1.1) },
    );
    expect(manifest.mapping).toEqual({
      file: 'mapping.onnx',
      inputs: [
        { role: 'latent', name: 'z', dtype: 'float32' },
        { role: 'class-onehot', name: 'c', dtype: 'float32' },
      ],
      output: 'ws',
      wAvg: null,
      wAvgSamples: 10_000,
    });
    expect(manifest.generator.inputs).toEqual([
      { role: 'w-latent', name: 'ws', dtype: 'float32', shape: [14, 512] },
    ]);
    expect(manifest).toMatchObject({ latentDim: 512, numClasses: 10, generator: { outputRange: [-1, 1] } });
    expect(guesses.map((g) => g.message).join()).toMatch(/no --w-avg/);
  });

  it('fills a symbolic numWs from the mapping output, and accepts a mapping that gives w [N, wDim]', () => {
    const symbolic = complete(
      { generator: synthesis([B, 'num_ws', 512]), mapping: mapping() },
      { mappingDims: [14, 512], image: images([3, 64, 64], -1, 1) },
    );
    expect(symbolic.manifest.generator.inputs[0]).toMatchObject({ shape: [14, 512] });
    const w = complete(
      { generator: synthesis(), mapping: mapping(['w', 'float32', [B, 512]]) },
      { mappingDims: [512], image: images([3, 64, 64], -1, 1) },
    );
    expect(w.manifest.mapping?.output).toBe('w');
    expect(w.manifest.generator.inputs[0]).toMatchObject({ shape: [14, 512] });
  });

  it('refuses a mapping output that does not fit the synthesis input', () => {
    expect(
      importError(() => planModel({ generator: synthesis([B, 14, 256]), mapping: mapping() })).message,
    ).toMatch(/mapping output 'ws' \[batch, 14, 512\] does not fit generator input 'ws' \[batch, 14, 256\]/);
  });

  it('asks for the mapping network when given a synthesis network alone', () => {
    expect(importError(() => planModel({ generator: synthesis() })).message).toMatch(
      /generator input 'ws' \[batch, 14, 512\] \(float32\) looks like a StyleGAN w .*--mapping M\.onnx/,
    );
  });

  const singleFile = (dtype = 'float32') =>
    sig(
      [
        ['z', dtype, [B, 512]],
        ['truncation_psi', dtype, []],
        ['noise_mode', 'int64', []],
      ],
      [['img', dtype, [B, 3, 64, 64]]],
    );

  it('reads a single file with truncation_psi and noise_mode (a constant 0, listed as a guess)', () => {
    const { manifest, guesses } = complete(
      { generator: singleFile('float16') },
      { image: images([3, 64, 64], -1.1, 1.1) },
    );
    expect(manifest.generator.inputs).toEqual([
      { role: 'latent', name: 'z', dtype: 'float16' },
      { role: 'truncation', name: 'truncation_psi', dtype: 'float16', shape: [], default: 1 },
      { role: 'constant', name: 'noise_mode', dtype: 'int64', shape: [], batched: false, value: 0 },
    ]);
    expect(guesses.map((g) => g.message).join('\n')).toMatch(
      /fed the constant 0; pass --constant noise_mode=VALUE/,
    );
  });

  it('takes --constant noise_mode=2 without a guess', () => {
    const plan = planModel({ generator: singleFile() }, { constants: { noise_mode: 2 } });
    expect(plan.generator.inputs[2]!.spec).toMatchObject({ role: 'constant', value: 2 });
    expect(plan.guesses).toEqual([]);
  });
});

describe('what does not fit', () => {
  it('asks whether a discriminator was passed as the generator', () => {
    const d = sig([['input', 'float32', [B, 3, 64, 64]]], [['output', 'float32', [B, 1, 1, 1]]]);
    expect(importError(() => planModel({ generator: d })).message).toBe(
      "generator input 'input' [batch, 3, 64, 64] (float32) looks like an image, not a latent: is this a discriminator? pass it as --discriminator",
    );
    expect(importError(() => planModel({ generator: d })).exitCode).toBe(2);
  });

  it('refuses a fixed batch axis on the latent or the output, naming dynamic_axes', () => {
    const fixedIn = sig([['z', 'float32', [1, 100]]], [['img', 'float32', [B, 3, 64, 64]]]);
    expect(importError(() => planModel({ generator: fixedIn })).message).toMatch(
      /generator input 'z' \[1, 100\] \(float32\) has a fixed batch axis \(1\).*dynamic_axes=\{'z': \{0: 'batch'\}, 'img': \{0: 'batch'\}\}/,
    );
    const fixedOut = sig([['z', 'float32', [B, 100]]], [['img', 'float32', [1, 3, 64, 64]]]);
    expect(importError(() => planModel({ generator: fixedOut })).message).toMatch(
      /generator output 'img' \[1, 3, 64, 64\] .* fixed batch axis/,
    );
  });

  it('feeds a leftover input a constant 0 and says so; refuses a type the service cannot feed', () => {
    const g = sig(
      [
        ['z', 'float32', [B, 100]],
        ['mystery', 'float32', [B, 37]],
        ['flag', 'bool', []],
      ],
      [['img', 'float32', [B, 3, 64, 64]]],
    );
    const plan = planModel({ generator: g });
    expect(plan.generator.inputs.map((i) => i.spec)).toEqual([
      { role: 'latent', name: 'z', dtype: 'float32' },
      { role: 'constant', name: 'mystery', dtype: 'float32', shape: [37], batched: true, value: 0 },
      { role: 'constant', name: 'flag', dtype: 'bool', shape: [], batched: false, value: 0 },
    ]);
    expect(plan.guesses.map((x) => x.tensor)).toEqual(['mystery', 'flag']);
    const bytes = sig(
      [
        ['z', 'float32', [B, 100]],
        ['mask', 'uint8', [B, 4]],
      ],
      [['img', 'float32', [B, 3, 64, 64]]],
    );
    expect(importError(() => planModel({ generator: bytes })).message).toMatch(
      /generator input 'mask' \[batch, 4\] \(uint8\): the service feeds inputs of type float32, float16, int32, int64, bool, not uint8/,
    );
  });

  it('names the input with --latent-input when none looks like z, and refuses flags naming no input', () => {
    const g = sig([['codes', 'float32', [B, 4, 4, 8]]], [['img', 'float32', [B, 3, 64, 64]]]);
    expect(importError(() => planModel({ generator: g })).message).toMatch(/looks like an image/);
    const forced = planModel({ generator: g }, { latentInput: 'codes' });
    expect(forced.latentDim).toBe(128);
    expect(forced.generator.inputs[0]!.spec).toEqual({
      role: 'latent',
      name: 'codes',
      dtype: 'float32',
      shape: [4, 4, 8],
    });
    expect(
      importError(() => planModel({ generator: dcganG() }, { constants: { nosuch: 1 } })).message,
    ).toMatch(/--constant 'nosuch': no network has an input 'nosuch' \(they have 'input'\)/);
    expect(importError(() => planModel({ generator: dcganG() }, { latentInput: 'z' })).message).toMatch(
      /--latent-input 'z': the generator has no input 'z'/,
    );
  });

  it('refuses a conditional discriminator beside an unconditional generator', () => {
    const d = sig(
      [
        ['input', 'float32', [B, 3, 64, 64]],
        ['label', 'int64', [B]],
      ],
      [['output', 'float32', [B]]],
    );
    expect(importError(() => planModel({ generator: dcganG(), discriminator: d })).message).toMatch(
      /discriminator input 'label' .* takes a class, but the generator takes none/,
    );
  });
});
