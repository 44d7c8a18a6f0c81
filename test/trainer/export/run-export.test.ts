import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgv } from '../../../scripts/cli-args.ts';
import { exportCli, run as exportRun } from '../../../scripts/export/cli.ts';
import { classifierManifestSchema, inputOf, manifestSchema } from '../../../src/models/manifest.ts';
import { exportChecked, ParityError } from '../../../trainer/export/export-model.ts';
import { exportClassifierRun, exportGanRun } from '../../../trainer/export/run-export.ts';
import { buildDiscriminator, buildGenerator } from '../../../trainer/models/gan.ts';
import { fileSaveHandler } from '../../../trainer/tfjs/io.ts';
import { randomizeWeights } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(path.join(tmpdir(), 'export-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A run folder as the trainer writes it: config.json, checkpoint/{generator,discriminator,state.json}, metrics. */
async function writeGanRun(name: string, arch: 'dcgan' | 'mlp', conditional: boolean): Promise<string> {
  const run = path.join(dir, 'runs', name);
  const opts = { arch, latentDim: 12, numClasses: conditional ? 10 : null, width: 4 };
  const generator = buildGenerator(opts);
  const discriminator = buildDiscriminator(opts);
  randomizeWeights(generator, 3);
  randomizeWeights(discriminator, 4);
  await generator.save(fileSaveHandler(path.join(run, 'checkpoint', 'generator')));
  await discriminator.save(fileSaveHandler(path.join(run, 'checkpoint', 'discriminator')));
  await writeFile(
    path.join(run, 'checkpoint', 'state.json'),
    JSON.stringify({ epoch: 3, step: 99, savedAt: 'x' }),
  );
  const command = `npm run train -- --arch ${arch} --epochs 3${conditional ? ' --conditional' : ''}`;
  const classNames = Array.from({ length: 10 }, (_, i) => `digit ${i}`);
  await writeFile(
    path.join(run, 'config.json'),
    JSON.stringify({
      dataset: 'mnist',
      arch,
      conditional,
      width: 4,
      epochs: 3,
      latentDim: 12,
      command,
      classNames,
      backend: 'cpu',
    }),
  );
  const record = (epoch: number, kl: number) =>
    JSON.stringify({
      epoch,
      step: epoch * 33,
      dLoss: 1.2,
      modesCovered: 10,
      klToUniform: kl,
      meanConfidence: 0.91,
    });
  await writeFile(path.join(run, 'metrics.jsonl'), `${record(2, 0.2)}\n${record(3, 0.04)}\n`);
  return run;
}

async function compareGenerator(
  outDir: string,
  run: string,
  conditional: boolean,
  checkpointModel = 'generator',
): Promise<number> {
  const { fileLoadHandler } = await import('../../../trainer/tfjs/io.ts');
  const model = await tf.loadLayersModel(fileLoadHandler(path.join(run, 'checkpoint', checkpointModel)));
  const n = 5;
  const z = Float32Array.from({ length: n * 12 }, (_, i) => Math.sin(i * 0.7) * 1.5);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % 10);
  const tfInputs = conditional
    ? [tf.tensor2d(z, [n, 12]), tf.tensor2d(Float32Array.from(labels), [n, 1])]
    : tf.tensor2d(z, [n, 12]);
  const expected = (model.predict(tfInputs) as tf.Tensor).dataSync();
  const session = await ort.InferenceSession.create(path.join(outDir, 'generator.onnx'));
  const feeds: Record<string, ort.Tensor> = { z: new ort.Tensor('float32', z, [n, 12]) };
  if (conditional) feeds.label = new ort.Tensor('int32', labels, [n]);
  const out = (await session.run(feeds)).image!;
  expect(out.dims).toEqual([n, 28, 28, 1]);
  const actual = out.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  await session.release();
  return worst;
}

describe('exportGanRun: checkpoint → ONNX + manifest → onnxruntime', () => {
  it('conditional DCGAN (ACGAN discriminator with two outputs)', async () => {
    const run = await writeGanRun('acgan', 'dcgan', true);
    const out = path.join(dir, 'models', 'mnist-acgan');
    const manifest = await exportGanRun(run, out, {
      title: 'Tiny ACGAN',
      exportCommand: 'npm run export -- x y',
    });
    const onDisk = manifestSchema.parse(JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8')));
    expect(onDisk).toEqual(manifest);
    expect(manifest).toMatchObject({
      name: 'mnist-acgan',
      title: 'Tiny ACGAN',
      dataset: 'mnist',
      latentDim: 12,
      numClasses: 10,
      image: { width: 28, height: 28, channels: 1 },
      generator: {
        inputs: [
          { role: 'latent', name: 'z', dtype: 'float32' },
          { role: 'class-index', name: 'label', dtype: 'int32' },
        ],
        output: 'image',
        outputRange: [-1, 1],
      },
      discriminator: {
        inputs: [{ role: 'image', name: 'image', dtype: 'float32' }],
        output: 'validity',
        outputKind: 'logit',
        inputRange: [-1, 1],
      },
    });
    expect(manifest.classNames?.[3]).toBe('digit 3');
    expect(manifest.provenance).toMatchObject({
      command: 'npm run train -- --arch dcgan --epochs 3 --conditional && npm run export -- x y',
      epochs: 3,
      quality: { klToUniform: 0.04, meanConfidence: 0.91, modesCovered: 10, evaluatedAtEpoch: 3 },
    });
    expect(manifest.provenance?.notes).toMatch(/max abs difference on 256 random inputs/);
    expect(await compareGenerator(out, run, true)).toBeLessThanOrEqual(1e-4);

    const disc = await ort.InferenceSession.create(path.join(out, 'discriminator.onnx'));
    expect(disc.outputNames).toEqual(['validity', 'class_probs']);
    await disc.release();
  });

  it('unconditional MLP', async () => {
    const run = await writeGanRun('mlp', 'mlp', false);
    const out = path.join(dir, 'models', 'mnist-mlp');
    const manifest = await exportGanRun(run, out, { quality: { klToUniform: 0.01 } });
    expect(manifest.numClasses).toBeNull();
    expect(inputOf(manifest.generator, 'class-index')).toBeUndefined();
    expect(manifest.provenance?.quality.klToUniform).toBe(0.01);
    expect(await compareGenerator(out, run, false)).toBeLessThanOrEqual(1e-4);
  });

  it('ships the weight average when the run kept one (--ema-decay)', async () => {
    const run = await writeGanRun('averaged', 'dcgan', false);
    const average = buildGenerator({ arch: 'dcgan', latentDim: 12, numClasses: null, width: 4 });
    randomizeWeights(average, 11);
    await average.save(fileSaveHandler(path.join(run, 'checkpoint', 'generator-average')));
    const config = JSON.parse(await readFile(path.join(run, 'config.json'), 'utf8'));
    await writeFile(path.join(run, 'config.json'), JSON.stringify({ ...config, emaDecay: 0.999 }));
    const out = path.join(dir, 'models', 'mnist-averaged');
    const manifest = await exportGanRun(run, out);
    expect(manifest.provenance?.notes).toContain(
      "generator weights: exponential moving average (decay 0.999) of the trained generator's",
    );
    expect(await compareGenerator(out, run, false, 'generator-average')).toBeLessThanOrEqual(1e-4);
    // …and not the trained generator, whose random weights differ.
    expect(await compareGenerator(out, run, false, 'generator')).toBeGreaterThan(1e-2);
  });
});

describe('exportClassifierRun', () => {
  it('writes probabilities and penultimate features with a valid classifier manifest', async () => {
    const run = path.join(dir, 'runs', 'classifier');
    const x = tf.input({ shape: [28, 28, 1], name: 'image' });
    let h = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 16, activation: 'relu', name: 'penultimate' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: 0.5 }).apply(h) as tf.SymbolicTensor;
    const y = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y });
    randomizeWeights(model, 9);
    await model.save(fileSaveHandler(path.join(run, 'checkpoint', 'classifier')));
    await writeFile(
      path.join(run, 'config.json'),
      JSON.stringify({ dataset: 'fashion-mnist', command: 'train it' }),
    );
    await writeFile(path.join(run, 'quality.json'), JSON.stringify({ testAccuracy: 0.91 }));
    const out = path.join(dir, 'models', 'fashion-classifier');
    const manifest = await exportClassifierRun(run, out);
    expect(
      classifierManifestSchema.parse(JSON.parse(await readFile(path.join(out, 'classifier.json'), 'utf8'))),
    ).toEqual(manifest);
    expect(manifest).toMatchObject({
      kind: 'classifier',
      dataset: 'fashion-mnist',
      input: 'image',
      output: 'probabilities',
      outputKind: 'probabilities',
      features: 'features',
      featureDim: 16,
      provenance: { quality: { testAccuracy: 0.91 } },
    });
    const session = await ort.InferenceSession.create(path.join(out, 'classifier.onnx'));
    const n = 3;
    const images = Float32Array.from({ length: n * 784 }, (_, i) => Math.cos(i * 0.01));
    const res = await session.run({ image: new ort.Tensor('float32', images, [n, 28, 28, 1]) });
    expect(res.probabilities!.dims).toEqual([n, 10]);
    expect(res.features!.dims).toEqual([n, 16]);
    const expected = tf.tidy(() => {
      const [p, f] = tf
        .model({
          inputs: model.inputs,
          outputs: [model.outputs[0]!, model.getLayer('penultimate').output as tf.SymbolicTensor],
        })
        .predict(tf.tensor4d(images, [n, 28, 28, 1])) as tf.Tensor[];
      return [p!.dataSync(), f!.dataSync()];
    });
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
    expect(diff(res.probabilities!.data as Float32Array, expected[0]!)).toBeLessThanOrEqual(1e-4);
    expect(diff(res.features!.data as Float32Array, expected[1]!)).toBeLessThanOrEqual(1e-4);
    await session.release();
  });
});

describe('the parity gate', () => {
  it('refuses to write a model that fails the tolerance', async () => {
    const x = tf.input({ shape: [4] });
    const model = tf.model({
      inputs: x,
      outputs: tf.layers.dense({ units: 2, activation: 'tanh' }).apply(x) as tf.SymbolicTensor,
    });
    randomizeWeights(model);
    const file = path.join(dir, 'refused', 'm.onnx');
    // No real difference exceeds a negative tolerance: every model is refused, and nothing is written.
    await expect(exportChecked(model, file, { tolerance: -1, samples: 16 })).rejects.toThrow(ParityError);
    expect(existsSync(file)).toBe(false);
    const ok = await exportChecked(model, file, { samples: 16 });
    expect(ok.parity.worst).toBeLessThanOrEqual(1e-4);
    expect(existsSync(file)).toBe(true);
  });
});

describe('npm run export (CLI)', () => {
  it('exports a run directory and reports parity; fails with a message on a missing run', async () => {
    const run = await writeGanRun('cli', 'mlp', true);
    const out = path.join(dir, 'models', 'cli-model');
    await mkdir(out, { recursive: true });
    const argv = [run, out, '--title', 'CLI model', '--quality', 'fid=3.5'];
    const parsed = parseArgv(exportCli, argv);
    if (parsed.help) throw new Error('unexpected --help');
    const lines: string[] = [];
    await exportRun(parsed.options, { argv, log: (line) => lines.push(line) });
    expect(lines.join('\n')).toMatch(/wrote .*generator\.onnx/);
    const manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8')));
    expect(manifest).toMatchObject({ name: 'cli-model', title: 'CLI model', numClasses: 10 });
    expect(manifest.provenance?.quality.fid).toBe(3.5);
    expect(manifest.provenance?.command).toContain('npm run export --');
    await expect(
      exportRun({ runDir: path.join(dir, 'nope'), outDir: out }, { log: () => {} }),
    ).rejects.toThrow('config.json');
  }, 180_000);
});
