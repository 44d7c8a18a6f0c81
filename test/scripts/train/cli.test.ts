/**
 * The trainer CLI end to end on a few steps, in-process through `run`: every artefact a person looks at, then
 * --resume continuing the run; and its flags through the same parser the command line uses.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgv } from '../../../scripts/cli-args.ts';
import { run as exportRun } from '../../../scripts/export/cli.ts';
import { run, trainCli, trainConfig } from '../../../scripts/train/cli.ts';
import { latentsForSeeds } from '../../../src/latent/random-state.ts';
import { inputOf, manifestSchema } from '../../../src/models/manifest.ts';
import { buildClassifier } from '../../../trainer/models/classifier.ts';
import { initTf } from '../../../trainer/tfjs/backend.ts';
import { fileSaveHandler } from '../../../trainer/tfjs/io.ts';

let dir: string;

/** Trains with these flags (as typed) and returns what it printed. */
async function train(argv: string[]): Promise<string> {
  const parsed = parseArgv(trainCli, argv);
  if (parsed.help) throw new Error('unexpected --help');
  const lines: string[] = [];
  await run(parsed.options, { argv, log: (line) => lines.push(line) });
  return `${lines.join('\n')}\n`;
}

/** The message a command line is refused with. */
function refusal(argv: string[]): string {
  try {
    parseArgv(trainCli, argv);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

beforeAll(async () => {
  await initTf();
  dir = await mkdtemp(path.join(tmpdir(), 'train-cli-'));
  await buildClassifier(10).save(fileSaveHandler(path.join(dir, 'classifier')));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Flags that keep a test run to a few tiny steps with a quick per-epoch evaluation. */
const tinyRun = () => [
  '--batch-size',
  '16',
  '--steps-per-epoch',
  '3',
  '--eval-samples',
  '50',
  '--reference-samples',
  '100',
  '--classifier',
  path.join(dir, 'classifier'),
];

describe('npm run train', () => {
  it('writes samples, metrics, curve, config and checkpoint, and resumes', { timeout: 300_000 }, async () => {
    const out = path.join(dir, 'run');
    const args = [
      '--dataset',
      'mnist',
      '--arch',
      'dcgan',
      '--conditional',
      '--width',
      '4',
      ...tinyRun(),
      '--seed',
      '5',
      '--out',
      out,
    ];
    await train([...args, '--epochs', '1']);
    expect((await readdir(path.join(out, 'samples'))).sort()).toEqual(['epoch-001.png']);
    const grid = await sharp(path.join(out, 'samples', 'epoch-001.png')).metadata();
    expect([grid.width, grid.height]).toEqual([604, 604]); // 10×10 tiles of 28 px, 2 px gaps, ×2
    expect((await sharp(path.join(out, 'loss-curve.png')).metadata()).width).toBe(800);
    const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      dataset: 'mnist',
      arch: 'dcgan',
      conditional: true,
      seed: 5,
      loss: 'non-saturating',
    });
    expect(config.command).toContain('--seed 5');
    const first = JSON.parse((await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim());
    expect(first).toMatchObject({ epoch: 1, step: 3, samples: 50 });
    expect(Number.isFinite(first.dLoss) && Number.isFinite(first.frechetDistance)).toBe(true);
    expect(first.labelAgreement).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(await readFile(path.join(out, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({
      epoch: 1,
      step: 3,
    });

    // Resuming with --ema-decay starts a weight average from the trained generator; it is evaluated and kept.
    const stdout = await train([...args, '--epochs', '2', '--resume', '--ema-decay', '0.9']);
    expect(stdout).toContain('resumed');
    expect(stdout).toContain('weight average (decay 0.9) started');
    expect(stdout).toMatch(/\(average\) \| trained G: KL [0-9.]+ conf [0-9.]+/);
    const lines = (await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).step)).toEqual([3, 6]);
    const second = JSON.parse(lines[1]!);
    expect(second).toMatchObject({ evaluated: 'average', emaDecay: 0.9 });
    expect(second.trained.meanConfidence).toBeGreaterThan(0);
    expect(
      JSON.parse(await readFile(path.join(out, 'checkpoint', 'generator-average', 'model.json'), 'utf8'))
        .weightsManifest,
    ).toHaveLength(1);
    expect((await readFile(path.join(out, 'metrics.csv'), 'utf8')).trim().split('\n')).toHaveLength(3);

    // Resumed without --ema-decay (nothing left to train): the average is dropped, so export cannot pick it up.
    const again = await train([...args, '--epochs', '2', '--resume']);
    expect(again).toContain("dropped the checkpoint's weight average");
    expect(existsSync(path.join(out, 'checkpoint', 'generator-average'))).toBe(false);
    expect((await readdir(path.join(out, 'samples'))).sort()).toEqual(['epoch-001.png', 'epoch-002.png']);
  });

  it('warm-starts an InfoGAN code model (no labels) from a plain run; its export takes z alone', {
    timeout: 300_000,
  }, async () => {
    const plain = path.join(dir, 'plain');
    const common = ['--arch', 'dcgan', '--width', '4'];
    await train([...common, ...tinyRun(), '--epochs', '1', '--out', plain]);
    const out = path.join(dir, 'infogan');
    const stdout = await train([
      ...common,
      '--latent-code',
      '4',
      '--init-from',
      plain,
      ...tinyRun(),
      '--epochs',
      '1',
      '--out',
      out,
    ]);
    expect(stdout).toContain('(InfoGAN code of 4)');
    expect(stdout).toContain(`generator: 5 layers from ${plain}, new: label_embedding`);
    expect(stdout).toContain(`discriminator: 3 layers from ${plain}, new: code_probs`);
    const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ conditional: false, latentCode: 4, infoWeight: 1, initFromEpoch: 1 });
    const first = JSON.parse((await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim());
    expect(first.classAcc).toBeGreaterThanOrEqual(0); // Q's accuracy on the fakes' codes
    expect(first.labelAgreement).toBeNull();

    // The source trains on after the copy: the provenance must still name the epoch that was copied.
    await train([...common, ...tinyRun(), '--epochs', '2', '--resume', '--out', plain]);
    // Resuming the InfoGAN run without its --init-from would make its config contradict itself: refused.
    await expect(
      train([...common, '--latent-code', '4', ...tinyRun(), '--epochs', '2', '--resume', '--out', out]),
    ).rejects.toThrow(`--resume: initFrom is null, the checkpoint has ${plain}`);
    const exported = path.join(dir, 'infogan-model');
    await exportRun({ runDir: out, outDir: exported }, { log: () => {} });
    const manifest = manifestSchema.parse(
      JSON.parse(await readFile(path.join(exported, 'model.json'), 'utf8')),
    );
    expect(inputOf(manifest.generator, 'class-index')).toBeUndefined(); // the manifest describes inputs by role
    expect(manifest.numClasses).toBeNull();
    expect(manifest.latentCode).toEqual({ categories: 4, supervised: false }); // /generate's `code` reads it
    expect(manifest.provenance?.architecture).toContain('InfoGAN: a 4-way code read from z');
    // The provenance carries the source run's command first, and says where the weights started.
    const commands = manifest.provenance!.command!.split(' && ');
    expect(commands).toHaveLength(3);
    expect(commands[0]).toContain(`--out ${plain}`);
    expect(commands[1]).toContain(`--init-from ${plain}`);
    expect(manifest.provenance?.notes).toContain(`warm-started from ${plain} (its checkpoint after epoch 1)`);
    const session = await ort.InferenceSession.create(path.join(exported, 'generator.onnx'));
    expect(session.inputNames).toEqual(['z']);
    const z = new ort.Tensor('float32', latentsForSeeds([1, 2], 100), [2, 100]);
    const image = (await session.run({ z }))[manifest.generator.output]!;
    expect(image.dims).toEqual([2, 28, 28, 1]);
    await session.release();
  });

  it('refuses a latent code with --conditional, of one category, or labels on a code of another size', async () => {
    const base = ['--out', path.join(dir, 'x')];
    expect(refusal([...base, '--conditional', '--latent-code', '10'])).toContain(
      '--latent-code: a conditional model already has a class input',
    );
    expect(refusal([...base, '--latent-code', '1'])).toBe(
      '--latent-code: expected 0 (none) or at least 2 categories, got 1',
    );
    expect(refusal([...base, '--latent-code', '4', '--code-labels'])).toBe(
      '--code-labels: needs --latent-code 10 (one code per class), got 4',
    );
    expect(refusal([...base, '--latent-code', '10', '--code-labels', '--info-weight', '0'])).toBe(
      '--code-labels: the labels act through the code term, so --info-weight must be above 0',
    );
  });

  it('rejects a bad flag value naming the flag', async () => {
    expect(refusal(['--loss', 'hinge', '--out', path.join(dir, 'x')])).toBe(
      '--loss: expected non-saturating or minimax, got hinge',
    );
  });

  it('fills defaults, and records a command that reruns options given in-process', () => {
    const cfg = trainConfig({ out: 'runs/x', seed: 5, arch: 'mlp', classifier: 'c' });
    expect(cfg).toMatchObject({
      dataset: 'mnist',
      epochs: 5,
      width: 256,
      latentCode: null,
      stepsPerEpoch: null,
    });
    expect(cfg.command).toBe('npm run train -- --arch mlp --seed 5 --classifier c --out runs/x');
    expect(parseArgv(trainCli, cfg.command.split(' ').slice(4))).toMatchObject({
      options: { arch: 'mlp', seed: 5, classifier: 'c', out: 'runs/x' },
    });
  });
});
