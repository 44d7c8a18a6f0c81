/**
 * `npm run import` end to end over the public-export fixtures (scripts/onnx/families.ts) with the real
 * onnxruntime: each import's model.json passes manifestSchema and the service's load-time checks against fresh
 * sessions of the files written; failures leave nothing in the models folder; --force; the CLI's --help and exit
 * codes through `run`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../scripts/import/cli.ts';
import { type ImportOptions, importModel } from '../../../scripts/import/import-model.ts';
import { sessionInfo } from '../../../scripts/import/probe.ts';
import { ImportError } from '../../../scripts/import/types.ts';
import { attr, GraphBuilder, parseModel } from '../../../scripts/onnx/builder.ts';
import {
  bigganGenerator,
  type FamilyDtype,
  genericGenerator,
  pytorchDcganDiscriminator,
  pytorchDcganGenerator,
  styleganMapping,
  styleganSingleFile,
  styleganSynthesis,
  writeOnnx,
} from '../../../scripts/onnx/families.ts';
import { type Manifest, manifestSchema } from '../../../src/models/manifest.ts';
import { checkDiscriminator, checkGenerator, checkMapping } from '../../../src/models/metadata-check.ts';
import { formatNpy } from '../../../src/models/npy.ts';

let root: string;
let src: string;
const files: Record<string, string> = {};

/** ONNX bytes with metadata_props set. */
function withMetadata(bytes: Uint8Array, props: Record<string, string>): Uint8Array {
  const model = parseModel(bytes);
  model.metadataProps = Object.entries(props).map(([key, value]) => ({ key, value }));
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/** ONNX bytes whose first input and output have a batch axis fixed at 1 (an export without dynamic_axes). */
function withFixedBatch(bytes: Uint8Array): Uint8Array {
  const model = parseModel(bytes);
  for (const v of [model.graph!.input![0]!, model.graph!.output![0]!])
    v.type!.tensorType!.shape!.dim![0] = { dimValue: 1 };
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/** An ACGAN-style generator: z [N, 8] + class id int64 [N] (an embedding added to z) → grey [N, 1, 28, 28] in [0, 1]. */
function classIndexGenerator(): Uint8Array {
  const g = new GraphBuilder('acgan');
  g.input('z', 'float32', ['N', 8]);
  g.input('label', 'int64', ['N']);
  const embedding = g.initializer(
    Float32Array.from({ length: 80 }, (_, i) => Math.sin(i)),
    [10, 8],
  );
  const h = g.op('Add', ['z', g.op('Gather', [embedding, 'label'], { axis: attr.int(0) })]);
  const w = g.initializer(
    Float32Array.from({ length: 8 * 784 }, (_, i) => Math.cos(i * 0.37) * 0.3),
    [8, 784],
  );
  const pixels = g.op('Sigmoid', [g.op('MatMul', [h, w])]);
  g.op('Reshape', [pixels, g.int64s([-1, 1, 28, 28])], undefined, 'image');
  g.output('image', 'float32', ['N', 1, 28, 28]);
  return g.serialize();
}

const W_AVG = Float32Array.from({ length: 512 }, (_, i) => 0.3 + 0.01 * Math.sin(i));

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'import-model-'));
  src = path.join(root, 'src');
  const fixtures: Record<string, Uint8Array> = {};
  for (const dtype of ['float32', 'float16'] as FamilyDtype[]) {
    fixtures[`dcgan-g-${dtype}`] = pytorchDcganGenerator({ dtype });
    fixtures[`dcgan-d-${dtype}`] = pytorchDcganDiscriminator({ dtype });
    fixtures[`mapping-${dtype}`] = styleganMapping({ dtype });
    fixtures[`synthesis-${dtype}`] = styleganSynthesis({ dtype });
    fixtures[`biggan-${dtype}`] = bigganGenerator({ dtype });
  }
  fixtures['dcgan-d-N'] = pytorchDcganDiscriminator({ outputShape: 'N' });
  fixtures['stylegan-one'] = styleganSingleFile({ truncationInput: true, noiseModeInput: true });
  fixtures.grey = genericGenerator({
    latentDim: 64,
    channels: 1,
    height: 28,
    width: 28,
    layout: 'NHWC',
    range: [0, 255],
  });
  fixtures.acgan = withMetadata(classIndexGenerator(), {
    'gan-serve': JSON.stringify({ numClasses: 10, title: 'Tiny ACGAN', dataset: 'mnist' }),
  });
  fixtures['fixed-batch'] = withFixedBatch(pytorchDcganGenerator());
  fixtures['synthesis-wide'] = styleganSynthesis({ height: 48, width: 80, layout: 'NHWC', range: [0, 1] });
  fixtures.noisy = genericGenerator({
    latentDim: 16,
    channels: 3,
    height: 32,
    width: 32,
    noiseInput: { name: 'noise', shape: [1, 32, 32] },
  });
  for (const [name, bytes] of Object.entries(fixtures))
    files[name] = await writeOnnx(src, `${name}.onnx`, bytes);
  files.wAvg = path.join(src, 'w_avg.npy');
  await writeFile(files.wAvg, formatNpy(W_AVG, [512]));
  files.badWAvg = path.join(src, 'w_avg_256.npy');
  await writeFile(files.badWAvg, formatNpy(new Float32Array(256), [256]));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let count = 0;
/** A fresh, empty models folder. */
async function modelsDir(): Promise<string> {
  const dir = path.join(root, `models-${count++}`);
  await mkdir(dir);
  return dir;
}

/**
 * The folder's model.json through manifestSchema, and the service's load-time checks of it against fresh sessions
 * of the files written (no problems expected).
 */
async function loadLikeTheService(dir: string): Promise<Manifest> {
  const manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')));
  const open = (file: string) => ort.InferenceSession.create(path.join(dir, file));
  const sessions: ort.InferenceSession[] = [];
  try {
    const g = await open(manifest.generator.file);
    sessions.push(g);
    expect(checkGenerator(manifest, sessionInfo('generator', g)).problems).toEqual([]);
    if (manifest.mapping) {
      const m = await open(manifest.mapping.file);
      sessions.push(m);
      expect(checkMapping(manifest, sessionInfo('mapping', m)).problems).toEqual([]);
    }
    if (manifest.discriminator) {
      const d = await open(manifest.discriminator.file);
      sessions.push(d);
      expect(checkDiscriminator(manifest, sessionInfo('discriminator', d)).problems).toEqual([]);
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  return manifest;
}

async function importInto(o: Omit<ImportOptions, 'modelsDir'>) {
  const dir = await modelsDir();
  const result = await importModel({ ...o, modelsDir: dir });
  expect(result.dir).toBe(path.join(dir, o.name));
  const manifest = await loadLikeTheService(result.dir);
  expect(manifest).toEqual({ ...result.manifest, provenance: expect.anything() });
  return { ...result, manifest, models: dir };
}

describe.each(['float32', 'float16'] as const)('PyTorch DCGAN G + D (%s)', (dtype) => {
  it('imports both networks: z [100, 1, 1], NCHW 64×64 in [-1, 1], a probability score', async () => {
    const r = await importInto({
      generator: files[`dcgan-g-${dtype}`]!,
      discriminator: files[`dcgan-d-${dtype}`]!,
      name: 'dcgan',
    });
    expect(r.manifest).toMatchObject({
      latentDim: 100,
      image: { width: 64, height: 64, channels: 3 },
      generator: {
        file: 'generator.onnx',
        inputs: [{ role: 'latent', name: 'input', dtype, shape: [100, 1, 1] }],
        output: 'output',
        outputRange: [-1, 1],
        outputLayout: 'NCHW',
      },
      discriminator: {
        inputRange: [-1, 1],
        inputLayout: 'NCHW',
        output: 'output',
        outputKind: 'probability',
      },
      numClasses: null,
    });
    expect(r.manifest.discriminator?.inputs).toEqual([{ role: 'image', name: 'input', dtype }]);
    expect((await readdir(r.dir)).sort()).toEqual(['discriminator.onnx', 'generator.onnx', 'model.json']);
    expect(await readFile(path.join(r.dir, 'generator.onnx'))).toEqual(
      await readFile(files[`dcgan-g-${dtype}`]!),
    );
    expect(r.manifest.provenance?.command).toMatch(/^npm run import -- --generator \S+dcgan-g-/);
  });
});

it('DCGAN with a D that squeezes its output to [N]', async () => {
  const r = await importInto({
    generator: files['dcgan-g-float32']!,
    discriminator: files['dcgan-d-N']!,
    name: 'dcgan-n',
  });
  expect(r.manifest.discriminator).toMatchObject({ output: 'output', outputKind: 'probability' });
  expect(r.measured.discriminator?.score.min).toBeGreaterThan(0);
  expect(r.measured.discriminator?.score.max).toBeLessThan(1);
});

describe.each(['float32', 'float16'] as const)('StyleGAN mapping + synthesis (%s)', (dtype) => {
  it('imports z → ws [14, 512] → image, w_avg estimated at load', async () => {
    const r = await importInto({
      generator: files[`synthesis-${dtype}`]!,
      mapping: files[`mapping-${dtype}`]!,
      name: 'stylegan',
    });
    expect(r.manifest.mapping).toMatchObject({
      file: 'mapping.onnx',
      inputs: [{ role: 'latent', name: 'z', dtype }],
      output: 'ws',
      wAvg: null,
    });
    expect(r.manifest.generator).toMatchObject({
      inputs: [{ role: 'w-latent', name: 'ws', dtype, shape: [14, 512] }],
      output: 'img',
      outputRange: [-1, 1],
      outputLayout: 'NCHW',
    });
    expect(r.manifest.latentDim).toBe(512);
    // tanh × 1.1: the output overshoots [-1, 1] slightly, as StyleGAN's does
    expect(r.measured.range.max).toBeGreaterThan(1);
    expect(r.measured.range.coverage).toBeLessThan(1);
    expect(r.guesses.map((g) => g.message).join('\n')).toMatch(/no --w-avg/);
    expect((await readdir(r.dir)).sort()).toEqual(['generator.onnx', 'mapping.onnx', 'model.json']);
  });
});

it('StyleGAN mapping + synthesis with --w-avg copies the .npy as w_avg.npy', async () => {
  const r = await importInto({
    generator: files['synthesis-float32']!,
    mapping: files['mapping-float32']!,
    wAvg: files.wAvg,
    name: 'stylegan-wavg',
  });
  expect(r.manifest.mapping?.wAvg).toBe('w_avg.npy');
  expect(await readFile(path.join(r.dir, 'w_avg.npy'))).toEqual(await readFile(files.wAvg!));
  expect(r.guesses.some((g) => /w-avg/.test(g.message))).toBe(false);
  expect(r.summary).toContain('model: latentDim 512, unconditional, truncation on w (w_avg from w_avg.npy)');
});

it('StyleGAN single file: truncation_psi is the truncation input, noise_mode a constant', async () => {
  const r = await importInto({
    generator: files['stylegan-one']!,
    name: 'stylegan-one',
    constants: { noise_mode: 2 },
  });
  expect(r.manifest.generator.inputs).toEqual([
    { role: 'latent', name: 'z', dtype: 'float32' },
    { role: 'truncation', name: 'truncation_psi', dtype: 'float32', shape: [], default: 1 },
    { role: 'constant', name: 'noise_mode', dtype: 'int64', shape: [], batched: false, value: 2 },
  ]);
  expect(r.manifest.mapping).toBeNull();
});

describe.each(['float32', 'float16'] as const)('BigGAN (%s)', (dtype) => {
  it('imports z, one-hot y (1000 classes) and the [1] truncation', async () => {
    const r = await importInto({ generator: files[`biggan-${dtype}`]!, name: 'biggan' });
    expect(r.manifest.numClasses).toBe(1000);
    expect(r.manifest.generator.inputs.map((i) => [i.role, i.name, i.dtype])).toEqual([
      ['latent', 'z', dtype],
      ['class-onehot', 'y', dtype],
      ['truncation', 'truncation', dtype],
    ]);
    expect(r.manifest.image).toEqual({ width: 128, height: 128, channels: 3 });
  });
});

it('a generic grey NHWC generator in [0, 255], 28×28', async () => {
  const r = await importInto({
    generator: files.grey!,
    name: 'grey',
    title: 'Grey',
    dataset: 'mnist',
    default: true,
  });
  expect(r.manifest).toMatchObject({
    title: 'Grey',
    dataset: 'mnist',
    default: true,
    latentDim: 64,
    image: { width: 28, height: 28, channels: 1 },
    generator: { outputRange: [0, 255], outputLayout: 'NHWC' },
  });
  expect(r.measured.range.max).toBeGreaterThan(200);
});

it('a class-index generator takes its class count and title from the gan-serve metadata', async () => {
  const r = await importInto({ generator: files.acgan!, name: 'acgan' });
  expect(r.manifest).toMatchObject({ title: 'Tiny ACGAN', dataset: 'mnist', numClasses: 10 });
  expect(r.manifest.generator.inputs[1]).toEqual({
    role: 'class-index',
    name: 'label',
    dtype: 'int64',
    shape: [],
  });
  expect(r.manifest.generator.outputRange).toEqual([0, 1]);
});

it('a non-square NHWC synthesis network in [0, 1] behind a mapping network that gives w [N, wDim]', async () => {
  const mapping = await writeOnnx(src, 'mapping-w.onnx', styleganMapping({ output: 'w' }));
  const r = await importInto({ generator: files['synthesis-wide']!, mapping, name: 'wide' });
  expect(r.manifest).toMatchObject({
    image: { width: 80, height: 48, channels: 3 },
    generator: {
      inputs: [{ role: 'w-latent', name: 'ws', shape: [14, 512] }],
      outputRange: [0, 1],
      outputLayout: 'NHWC',
    },
    mapping: { output: 'w' },
  });
});

it('a generator with a fixed-shape noise input gets seeded noise; --noise-input picks the seed', async () => {
  const auto = await importInto({ generator: files.noisy!, name: 'noisy' });
  expect(auto.manifest.generator.inputs[1]).toEqual({
    role: 'noise',
    name: 'noise',
    dtype: 'float32',
    shape: [1, 32, 32],
    batched: false,
    seed: 0,
    std: 1,
  });
  expect(auto.guesses.some((g) => g.tensor === 'noise')).toBe(true);
  const seeded = await importInto({ generator: files.noisy!, name: 'noisy', noiseInputs: { noise: 5 } });
  expect(seeded.manifest.generator.inputs[1]).toMatchObject({ role: 'noise', seed: 5 });
});

describe('failures write nothing', () => {
  async function fails(o: Omit<ImportOptions, 'modelsDir'>, message: RegExp): Promise<string> {
    const dir = await modelsDir();
    const err = await importModel({ ...o, modelsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).message).toMatch(message);
    expect(await readdir(dir)).toEqual([]);
    return dir;
  }

  it('a discriminator passed as the generator', async () => {
    await fails(
      { generator: files['dcgan-d-float32']!, name: 'oops' },
      /generator input 'input' \[batch, 3, 64, 64\] \(float32\) looks like an image, not a latent: is this a discriminator\? pass it as --discriminator/,
    );
  });

  it('a fixed batch axis', async () => {
    await fails(
      { generator: files['fixed-batch']!, name: 'fixed' },
      /has a fixed batch axis \(1\).*dynamic_axes/,
    );
  });

  it('a w_avg of the wrong length, found after the networks ran', async () => {
    await fails(
      {
        generator: files['synthesis-float32']!,
        mapping: files['mapping-float32']!,
        wAvg: files.badWAvg,
        name: 'sg',
      },
      /--w-avg .*w_avg_256\.npy holds \[256\] \(256 values\); the mapping network's w needs 512/,
    );
  });

  it('--default beside a model that is the default already (the service refuses two)', async () => {
    const dir = await modelsDir();
    await importModel({ generator: files.grey!, name: 'first', modelsDir: dir, default: true });
    const err = await importModel({
      generator: files.grey!,
      name: 'second',
      modelsDir: dir,
      default: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as Error).message).toMatch(/--default: first already marks itself the default/);
    expect(await readdir(dir)).toEqual(['first']);
    await importModel({ generator: files.grey!, name: 'first', modelsDir: dir, default: true, force: true });
  });

  it('a models folder that does not exist yet is not created by a failed import', async () => {
    const dir = path.join(root, 'never-made');
    await expect(
      importModel({ generator: files['dcgan-d-float32']!, name: 'x', modelsDir: dir }),
    ).rejects.toThrow(ImportError);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('an existing model folder', () => {
  it('is refused without --force and replaced with it', async () => {
    const dir = await modelsDir();
    const base = { generator: files['dcgan-g-float32']!, name: 'dcgan', modelsDir: dir };
    await importModel({ ...base, discriminator: files['dcgan-d-float32']! });
    const err = await importModel(base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as Error).message).toMatch(/dcgan exists: pass --force to replace it/);
    expect((await readdir(path.join(dir, 'dcgan'))).sort()).toEqual([
      'discriminator.onnx',
      'generator.onnx',
      'model.json',
    ]);
    await importModel({ ...base, force: true, title: 'Replaced' });
    expect((await readdir(dir)).sort()).toEqual(['dcgan']);
    expect((await readdir(path.join(dir, 'dcgan'))).sort()).toEqual(['generator.onnx', 'model.json']);
    expect((await loadLikeTheService(path.join(dir, 'dcgan'))).title).toBe('Replaced');
  });
});

describe('the CLI', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  }

  it('--help lists every flag with its value and default, exit 0', async () => {
    const c = io();
    expect(await run(['--help'], c.io)).toBe(0);
    const help = c.out.join('\n');
    for (const flag of [
      '--generator FILE',
      '--discriminator FILE',
      '--mapping FILE',
      '--name NAME',
      '--models-dir DIR',
      '--output-range LO,HI',
      '--layout NCHW|NHWC',
      '--num-classes K',
      '--w-avg FILE',
      '--constant NAME=VALUE',
      '--noise-input NAME[:SEED]',
      '--discriminator-output-kind logit|probability',
      '--force',
      '--default',
    ])
      expect(help).toContain(flag);
    expect(help).toMatch(/--models-dir DIR +the model repository \(default \.\/models\)/);
  });

  it('bad flags exit 2 naming the flag', async () => {
    const missing = io();
    expect(await run(['--generator', files['dcgan-g-float32']!], missing.io)).toBe(2);
    expect(missing.err.join('\n')).toMatch(/--name: required/);
    const bad = io();
    expect(await run(['--generator', 'g.onnx', '--name', 'Bad Name', '--layout', 'CHW'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(/--name: lower-case letters/);
    expect(bad.err.join('\n')).toMatch(/--layout: /);
    const unknown = io();
    expect(await run(['--generatr', 'g.onnx'], unknown.io)).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/Unknown option '--generatr'/);
  });

  it('imports the StyleGAN pair with --output-range -1,1 and prints what it inferred', async () => {
    const dir = await modelsDir();
    const c = io();
    const code = await run(
      [
        '--generator',
        files['synthesis-float32']!,
        '--mapping',
        files['mapping-float32']!,
        '--name',
        'stylegan',
        '--models-dir',
        dir,
        '--output-range',
        '-1,1',
      ],
      c.io,
    );
    expect(c.err).toEqual([]);
    expect(code).toBe(0);
    const text = c.out.join('\n');
    expect(text).toMatch(/^imported 'stylegan' into .*: mapping\.onnx, generator\.onnx, model\.json/);
    expect(text).toMatch(/input {2}z {2}→ latent {7}\[batch, 512\] float32/);
    expect(text).toMatch(/input {2}ws {2}→ w-latent {5}\[batch, 14, 512\] float32/);
    expect(text).toMatch(/image 64×64, 3 channels, NCHW \(3 at axis 1\); range \[-1, 1\] \(flag;/);
    const manifest = await loadLikeTheService(path.join(dir, 'stylegan'));
    expect(manifest.provenance?.command).toMatch(/--output-range -1,1$/);
  });

  it('a model that does not fit exits 2 with the message', async () => {
    const c = io();
    const dir = await modelsDir();
    expect(
      await run(['--generator', files['dcgan-d-float32']!, '--name', 'd', '--models-dir', dir], c.io),
    ).toBe(2);
    expect(c.err.join('\n')).toMatch(/^import failed: generator input 'input' .* is this a discriminator\?/);
    expect(await readdir(dir)).toEqual([]);
  });
});
