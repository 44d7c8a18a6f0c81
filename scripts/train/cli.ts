/**
 * Trains a GAN on MNIST or Fashion-MNIST with TensorFlow.js (wasm backend) and writes everything a person needs to
 * watch the adversarial game: per-epoch sample grids, metrics (JSONL + CSV), a loss-curve PNG and checkpoints.
 *
 *   npm run train -- --dataset mnist --arch dcgan --epochs 5 --out runs/mnist-dcgan [--conditional | --latent-code 10
 *     [--info-weight 1] [--code-labels]] [--seed 1]
 *     [--resume] [--loss non-saturating|minimax] [--lr-d 2e-4] [--lr-g 2e-4] [--d-steps 1]
 *     [--label-smoothing 0.1] [--ema-decay 0.999] [--batch-size 64] [--width N] [--eval-every 1] [--eval-samples 2000]
 *     [--reference-samples 10000]
 *     [--classifier runs/<dataset>-classifier/checkpoint/classifier] [--steps-per-epoch N (smoke tests)]
 *     [--init-from runs/<another run> (start from its weights, layer by layer by name)]
 */

import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as tfTypes from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { setCode } from '../../src/latent/code.ts';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import {
  CLASS_NAMES,
  firstImages,
  isDatasetName,
  loadDataset,
  NUM_CLASSES,
} from '../../trainer/data/datasets.ts';
import {
  ARCHITECTURES,
  type Architecture,
  buildDiscriminator,
  buildGenerator,
  DEFAULT_WIDTH,
} from '../../trainer/models/gan.ts';
import { copyMatchingWeights } from '../../trainer/models/warm-start.ts';
import { initTf, tf } from '../../trainer/tfjs/backend.ts';
import { fileLoadHandler } from '../../trainer/tfjs/io.ts';
import { GeneratorAverage } from '../../trainer/training/average.ts';
import { AVERAGE_DIR, loadCheckpoint, readState, saveCheckpoint } from '../../trainer/training/checkpoint.ts';
import { type EpochEvaluation, evaluateEpoch, referenceGaussian } from '../../trainer/training/evaluate.ts';
import { curvePng, gridPng, type Series } from '../../trainer/training/pictures.ts';
import { GanSampler, seedMathRandom } from '../../trainer/training/sampler.ts';
import { type GanLoss, LOSSES, type StepMetrics, trainStep } from '../../trainer/training/step.ts';
import { commandLine } from '../command-line.ts';

const GRID_COLS = 10;
const GRID_SEEDS = Array.from({ length: 100 }, (_, i) => i); // fixed seeds: the same latents every epoch
const LOG_EVERY = 50; // steps between points of the loss curve

export type TrainConfig = {
  dataset: 'mnist' | 'fashion-mnist';
  arch: Architecture;
  conditional: boolean;
  /** Categories of an InfoGAN latent code read from z (unconditional only), or null for a plain GAN. */
  latentCode: number | null;
  /** λ of the InfoGAN mutual-information term. */
  infoWeight: number;
  /** Supervise the code with the dataset's labels on real images (semi-supervised InfoGAN; G still takes z alone). */
  codeLabels: boolean;
  width: number;
  epochs: number;
  batchSize: number;
  latentDim: number;
  loss: GanLoss;
  lrD: number;
  lrG: number;
  beta1: number;
  dSteps: number;
  labelSmoothing: number;
  /** Decay of the generator's weight average (0 = none): when set, the average is evaluated, drawn and exported. */
  emaDecay: number;
  seed: number;
  evalEvery: number;
  evalSamples: number;
  /** Real test images whose classifier features form the Fréchet reference (10,000 = the whole test set). */
  referenceSamples: number;
  /** Cap on steps per epoch (smoke tests); null = one pass over the training set. */
  stepsPerEpoch: number | null;
  classifier: string | null;
  /** A run whose checkpoint's weights a new run starts from (warm start), or null. */
  initFrom: string | null;
  /** The epoch of --init-from's checkpoint when this run copied it (the source may train on afterwards). */
  initFromEpoch: number | null;
  out: string;
  command: string;
};

function parseConfig(argv: string[]): { cfg: TrainConfig; resume: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      dataset: { type: 'string', default: 'mnist' },
      arch: { type: 'string', default: 'dcgan' },
      conditional: { type: 'boolean', default: false },
      'latent-code': { type: 'string', default: '0' },
      'info-weight': { type: 'string', default: '1' },
      'code-labels': { type: 'boolean', default: false },
      width: { type: 'string' },
      epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '64' },
      'latent-dim': { type: 'string', default: '100' },
      loss: { type: 'string', default: 'non-saturating' },
      'lr-d': { type: 'string', default: '2e-4' },
      'lr-g': { type: 'string', default: '2e-4' },
      beta1: { type: 'string', default: '0.5' },
      'd-steps': { type: 'string', default: '1' },
      'label-smoothing': { type: 'string', default: '0.1' },
      'ema-decay': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      'eval-every': { type: 'string', default: '1' },
      'eval-samples': { type: 'string', default: '2000' },
      'reference-samples': { type: 'string', default: '10000' },
      classifier: { type: 'string' },
      'init-from': { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'steps-per-epoch': { type: 'string' },
    },
  });
  const num = (name: keyof typeof values, min: number, max: number, int = false): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new Error(
        `--${name}: expected ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${values[name]}`,
      );
    }
    return v;
  };
  const dataset = values.dataset!;
  if (!isDatasetName(dataset)) throw new Error(`--dataset: expected mnist or fashion-mnist, got ${dataset}`);
  const arch = values.arch as Architecture;
  if (!ARCHITECTURES.includes(arch))
    throw new Error(`--arch: expected ${ARCHITECTURES.join(' or ')}, got ${arch}`);
  const loss = values.loss as GanLoss;
  if (!LOSSES.includes(loss)) throw new Error(`--loss: expected ${LOSSES.join(' or ')}, got ${loss}`);
  if (!values.out) throw new Error('--out: expected an output folder, e.g. runs/mnist-dcgan');
  const latentDim = num('latent-dim', 1, 4096, true);
  const latentCode = num('latent-code', 0, latentDim, true);
  if (latentCode === 1) throw new Error('--latent-code: expected 0 (none) or at least 2 categories, got 1');
  if (latentCode > 0 && values.conditional) {
    throw new Error('--latent-code: a conditional model already has a class input; use one or the other');
  }
  if (values['code-labels'] && latentCode !== NUM_CLASSES) {
    throw new Error(
      `--code-labels: needs --latent-code ${NUM_CLASSES} (one code per class), got ${latentCode}`,
    );
  }
  if (values['code-labels'] && Number(values['info-weight']) === 0) {
    throw new Error('--code-labels: the labels act through the code term, so --info-weight must be above 0');
  }
  const defaultClassifier = path.join('runs', `${dataset}-classifier`, 'checkpoint', 'classifier');
  const cfg: TrainConfig = {
    dataset,
    arch,
    conditional: values.conditional!,
    latentCode: latentCode > 0 ? latentCode : null,
    infoWeight: num('info-weight', 0, 100),
    codeLabels: values['code-labels']!,
    width: values.width ? num('width', 1, 1024, true) : DEFAULT_WIDTH[arch],
    epochs: num('epochs', 1, 10_000, true),
    batchSize: num('batch-size', 1, 4096, true),
    latentDim,
    loss,
    lrD: num('lr-d', 0, 1),
    lrG: num('lr-g', 0, 1),
    beta1: num('beta1', 0, 1),
    dSteps: num('d-steps', 1, 100, true),
    labelSmoothing: num('label-smoothing', 0, 0.5),
    emaDecay: num('ema-decay', 0, 0.999999),
    seed: num('seed', 0, 0xffffffff, true),
    evalEvery: num('eval-every', 0, 10_000, true),
    evalSamples: num('eval-samples', 10, 100_000, true),
    referenceSamples: num('reference-samples', 2, 10_000, true),
    stepsPerEpoch: values['steps-per-epoch'] ? num('steps-per-epoch', 1, 1_000_000, true) : null,
    classifier:
      values.classifier ??
      (existsSync(path.join(defaultClassifier, 'model.json')) ? defaultClassifier : null),
    initFrom: values['init-from'] ?? null,
    initFromEpoch: null,
    out: values.out,
    command: commandLine('npm run train --', argv),
  };
  return { cfg, resume: values.resume! };
}

/** Seed for epoch e's data order, noise and dropout: a resumed run continues exactly as an uninterrupted one. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(epoch + 1, 40503)) >>> 0;
}

async function sampleGrid(generator: tfTypes.LayersModel, cfg: TrainConfig): Promise<Buffer> {
  const n = GRID_SEEDS.length;
  const images = tf.tidy(() => {
    // Conditional: row r shows class r, columns the same ten seeds.
    // Latent code: row r shows code r (r < K), the same ten seeds with z's largest code entry swapped to place r.
    const byRow = cfg.conditional || cfg.latentCode !== null;
    const seeds = byRow ? GRID_SEEDS.map((i) => i % GRID_COLS) : GRID_SEEDS;
    const latents = latentsForSeeds(seeds, cfg.latentDim);
    if (cfg.latentCode !== null) {
      for (const [k, i] of GRID_SEEDS.entries()) {
        setCode(latents, k, cfg.latentDim, cfg.latentCode, Math.floor(i / GRID_COLS));
      }
    }
    const z = tf.tensor2d(latents, [n, cfg.latentDim]);
    const input = cfg.conditional
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
  return gridPng(data, n, 28, 28, GRID_COLS);
}

type StepLog = { step: number; dLoss: number; gLoss: number; dReal: number; dFake: number };

function mean(xs: number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function main(): Promise<void> {
  const { cfg, resume } = parseConfig(process.argv.slice(2));
  await initTf();
  const ckptDir = path.join(cfg.out, 'checkpoint');
  const samplesDir = path.join(cfg.out, 'samples');
  await mkdir(samplesDir, { recursive: true });
  const numClasses = cfg.conditional ? NUM_CLASSES : null;
  const modelOpts = {
    arch: cfg.arch,
    latentDim: cfg.latentDim,
    numClasses,
    latentCode: cfg.latentCode,
    width: cfg.width,
  };
  const dOptimizer = tf.train.adam(cfg.lrD, cfg.beta1);
  const gOptimizer = tf.train.adam(cfg.lrG, cfg.beta1);
  let generator: tfTypes.LayersModel;
  let discriminator: tfTypes.LayersModel;
  let savedAverage: tfTypes.LayersModel | null = null;
  let startEpoch = 0;
  let step = 0;
  seedMathRandom(cfg.seed); // weight initialisation
  if (resume && (await readState(ckptDir))) {
    const saved = JSON.parse(await readFile(path.join(cfg.out, 'config.json'), 'utf8')) as TrainConfig;
    saved.latentCode ??= null; // runs from before latent codes existed
    saved.codeLabels ??= false;
    saved.initFrom ??= null;
    cfg.initFromEpoch = saved.initFromEpoch ?? null;
    for (const key of [
      'dataset',
      'arch',
      'conditional',
      'latentCode',
      'codeLabels',
      'initFrom',
      'width',
      'latentDim',
    ] as const) {
      if (saved[key] !== cfg[key])
        throw new Error(`--resume: ${key} is ${cfg[key]}, the checkpoint has ${saved[key]}`);
    }
    const ck = await loadCheckpoint(ckptDir, dOptimizer, gOptimizer);
    generator = ck.generator;
    discriminator = ck.discriminator;
    savedAverage = ck.generatorAverage;
    startEpoch = ck.state.epoch;
    step = ck.state.step;
    console.log(`resumed ${cfg.out} after epoch ${startEpoch} (step ${step})`);
  } else {
    generator = buildGenerator(modelOpts);
    discriminator = buildDiscriminator(modelOpts);
    if (cfg.initFrom) {
      const source = path.join(cfg.initFrom, 'checkpoint');
      const sourceState = await readState(source);
      if (!sourceState) {
        throw new Error(`--init-from: ${cfg.initFrom} holds no complete checkpoint (checkpoint/state.json)`);
      }
      cfg.initFromEpoch = sourceState.epoch;
      for (const [model, dir] of [
        [generator, 'generator'],
        [discriminator, 'discriminator'],
      ] as const) {
        const from = await tf.loadLayersModel(fileLoadHandler(path.join(source, dir)));
        const { copied, fresh } = copyMatchingWeights(model, from);
        from.dispose();
        console.log(
          `${dir}: ${copied.length} layers from ${cfg.initFrom}` +
            (fresh.length ? `, new: ${fresh.join(', ')}` : ''),
        );
      }
    }
  }
  // The average continues from the checkpoint's, or starts as a copy of the generator (new run, or averaging
  // switched on when resuming).
  if (savedAverage && cfg.emaDecay === 0) {
    // Averaging switched off: the checkpoint's average is stale from now on, and the exporter would prefer it.
    savedAverage.dispose();
    await rm(path.join(ckptDir, AVERAGE_DIR), { recursive: true, force: true });
    console.log("resumed without --ema-decay: dropped the checkpoint's weight average");
  }
  const average =
    cfg.emaDecay > 0
      ? new GeneratorAverage(
          generator,
          savedAverage ?? buildGenerator(modelOpts),
          cfg.emaDecay,
          savedAverage === null,
        )
      : null;
  /** What is evaluated, drawn and exported: the average when there is one. */
  const shipped = average?.model ?? generator;
  await writeFile(
    path.join(cfg.out, 'config.json'),
    `${JSON.stringify({ ...cfg, classNames: CLASS_NAMES[cfg.dataset], backend: tf.getBackend(), tfjs: tf.version.tfjs }, null, 2)}\n`,
  );
  const classifier = cfg.classifier ? await tf.loadLayersModel(fileLoadHandler(cfg.classifier)) : null;
  console.log(
    `${cfg.dataset} ${cfg.arch}${variantOf(cfg)}: G ${generator.countParams()} params, ` +
      `D ${discriminator.countParams()} params; classifier ${cfg.classifier ?? 'none (no per-epoch evaluation)'}` +
      (average
        ? `; weight average (decay ${cfg.emaDecay}) ${savedAverage ? 'resumed' : 'started'}, evaluated and drawn`
        : ''),
  );
  const data = await loadDataset(cfg.dataset, 'train');
  // The Fréchet distance's reference: the classifier's features of the real test set, computed once.
  const reference =
    classifier && cfg.evalEvery > 0
      ? referenceGaussian(
          classifier,
          firstImages(await loadDataset(cfg.dataset, 'test'), cfg.referenceSamples),
        )
      : null;
  const stepCfg = {
    loss: cfg.loss,
    labelSmoothing: cfg.labelSmoothing,
    dSteps: cfg.dSteps,
    latentDim: cfg.latentDim,
    numClasses,
    latentCode: cfg.latentCode,
    infoWeight: cfg.infoWeight,
    codeLabels: cfg.codeLabels,
  };
  const models = { generator, discriminator, dOptimizer, gOptimizer };
  const stepsCsv = path.join(cfg.out, 'steps.csv');
  const metricsJsonl = path.join(cfg.out, 'metrics.jsonl');
  const metricsCsv = path.join(cfg.out, 'metrics.csv');
  if (!resume || !existsSync(stepsCsv)) {
    await writeFile(stepsCsv, 'step,d_loss,g_loss,d_real,d_fake\n');
    await writeFile(metricsJsonl, '');
    await writeFile(
      metricsCsv,
      'epoch,step,d_loss,g_loss,d_real,d_fake,class_acc,seconds,modes_covered,kl_to_uniform,mean_confidence,label_agreement,frechet_distance\n',
    );
  }
  const tty = process.stderr.isTTY;
  for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
    const t0 = performance.now();
    const es = epochSeed(cfg.seed, epoch);
    seedMathRandom(es);
    const sampler = new GanSampler(
      data,
      cfg.batchSize,
      cfg.latentDim,
      numClasses,
      es,
      numClasses !== null || cfg.codeLabels,
    );
    const total = Math.min(
      Math.floor(sampler.stepsPerEpoch / cfg.dSteps),
      cfg.stepsPerEpoch ?? Number.POSITIVE_INFINITY,
    );
    const bar = tty
      ? new cliProgress.SingleBar({
          format: `epoch ${epoch + 1}/${cfg.epochs} |{bar}| {value}/{total} D {d} G {g} D(x) {dx} D(G(z)) {dgz} eta {eta_formatted}`,
          hideCursor: true,
        })
      : null;
    bar?.start(total, 0, { d: '-', g: '-', dx: '-', dgz: '-' });
    const epochLog: StepMetrics[] = [];
    let window: StepMetrics[] = [];
    for (let i = 0; i < total; i++) {
      const m = trainStep(models, stepCfg, sampler.stepInputs());
      average?.update(step); // steps done before this one: the average's warm-up counts from the run's start
      if (!Number.isFinite(m.dLoss) || !Number.isFinite(m.gLoss)) {
        throw new Error(`non-finite loss at step ${step}: D ${m.dLoss}, G ${m.gLoss}`);
      }
      step++;
      epochLog.push(m);
      window.push(m);
      if (window.length === LOG_EVERY || i === total - 1) {
        const row: StepLog = {
          step,
          dLoss: mean(window.map((w) => w.dLoss)),
          gLoss: mean(window.map((w) => w.gLoss)),
          dReal: mean(window.map((w) => w.dReal)),
          dFake: mean(window.map((w) => w.dFake)),
        };
        await appendFile(stepsCsv, `${row.step},${row.dLoss},${row.gLoss},${row.dReal},${row.dFake}\n`);
        const fmt = {
          d: row.dLoss.toFixed(3),
          g: row.gLoss.toFixed(3),
          dx: row.dReal.toFixed(3),
          dgz: row.dFake.toFixed(3),
        };
        if (bar) bar.update(i + 1, fmt);
        else if (window.length === LOG_EVERY && (i + 1) % (LOG_EVERY * 4) === 0) {
          const rate = (performance.now() - t0) / (i + 1);
          console.log(
            `epoch ${epoch + 1}/${cfg.epochs} step ${i + 1}/${total} D ${fmt.d} G ${fmt.g} D(x) ${fmt.dx} ` +
              `D(G(z)) ${fmt.dgz} ${rate.toFixed(0)} ms/step eta ${(((total - i - 1) * rate) / 60_000).toFixed(1)} min`,
          );
        }
        window = [];
        await new Promise((r) => setImmediate(r)); // let the bar and signals through
      }
    }
    bar?.stop();
    const seconds = (performance.now() - t0) / 1000;
    let evaluation: EpochEvaluation | null = null;
    let trainedEvaluation: Partial<EpochEvaluation> | null = null;
    if (classifier && cfg.evalEvery > 0 && ((epoch + 1) % cfg.evalEvery === 0 || epoch + 1 === cfg.epochs)) {
      evaluation = evaluateEpoch(shipped, classifier, {
        latentDim: cfg.latentDim,
        numClasses,
        samples: cfg.evalSamples,
        reference,
        latentCode: cfg.latentCode,
        codeLabels: cfg.codeLabels,
      });
      // With averaging, also judge the trained generator: the gap is what the average buys.
      if (average) {
        const trained = evaluateEpoch(generator, classifier, {
          latentDim: cfg.latentDim,
          numClasses,
          samples: cfg.evalSamples,
          reference,
          latentCode: cfg.latentCode,
          codeLabels: cfg.codeLabels,
        });
        trainedEvaluation = {
          klToUniform: trained.klToUniform,
          meanConfidence: trained.meanConfidence,
          labelAgreement: trained.labelAgreement,
          frechetDistance: trained.frechetDistance,
          ...(trained.codePurity !== undefined ? { codePurity: trained.codePurity } : {}),
          ...(trained.codeAgreement !== undefined ? { codeAgreement: trained.codeAgreement } : {}),
        };
      }
    }
    const accs = epochLog.map((m) => m.classAcc).filter((a): a is number => a !== null);
    const record = {
      epoch: epoch + 1,
      step,
      dLoss: mean(epochLog.map((m) => m.dLoss)),
      gLoss: mean(epochLog.map((m) => m.gLoss)),
      dReal: mean(epochLog.map((m) => m.dReal)),
      dFake: mean(epochLog.map((m) => m.dFake)),
      classAcc: accs.length ? mean(accs) : null,
      seconds,
      ...(evaluation ?? {}),
      ...(average ? { evaluated: 'average', emaDecay: cfg.emaDecay, trained: trainedEvaluation } : {}),
    };
    await appendFile(metricsJsonl, `${JSON.stringify(record)}\n`);
    const e = evaluation;
    await appendFile(
      metricsCsv,
      `${[record.epoch, record.step, record.dLoss, record.gLoss, record.dReal, record.dFake, record.classAcc ?? '', seconds.toFixed(1), e?.modesCovered ?? '', e?.klToUniform ?? '', e?.meanConfidence ?? '', e?.labelAgreement ?? '', e?.frechetDistance ?? ''].join(',')}\n`,
    );
    const tag = String(epoch + 1).padStart(3, '0');
    await writeFile(path.join(samplesDir, `epoch-${tag}.png`), await sampleGrid(shipped, cfg));
    await writeCurve(cfg, stepsCsv);
    await saveCheckpoint(
      ckptDir,
      { ...models, generatorAverage: average?.model ?? null },
      { epoch: epoch + 1, step },
    );
    console.log(
      `epoch ${epoch + 1}/${cfg.epochs} done in ${seconds.toFixed(0)} s: D ${record.dLoss.toFixed(3)} G ${record.gLoss.toFixed(3)} ` +
        `D(x) ${record.dReal.toFixed(3)} D(G(z)) ${record.dFake.toFixed(3)}` +
        (e
          ? ` | modes ${e.modesCovered}/${NUM_CLASSES} KL ${e.klToUniform.toFixed(3)} conf ${e.meanConfidence.toFixed(3)}` +
            (e.labelAgreement !== null ? ` agree ${e.labelAgreement.toFixed(3)}` : '') +
            (e.frechetDistance !== null ? ` FD ${e.frechetDistance.toFixed(2)}` : '') +
            (e.codePurity !== undefined ? ` code purity ${e.codePurity.toFixed(3)}` : '') +
            (e.codeAgreement !== undefined ? ` class = code ${e.codeAgreement.toFixed(3)}` : '') +
            (average ? ' (average)' : '')
          : '') +
        (trainedEvaluation
          ? ` | trained G: KL ${trainedEvaluation.klToUniform?.toFixed(3)} conf ${trainedEvaluation.meanConfidence?.toFixed(3)}` +
            (trainedEvaluation.frechetDistance != null
              ? ` FD ${trainedEvaluation.frechetDistance.toFixed(2)}`
              : '')
          : ''),
    );
  }
}

function variantOf(cfg: TrainConfig): string {
  if (cfg.conditional) return ' (conditional)';
  if (cfg.latentCode === null) return '';
  return ` (InfoGAN code of ${cfg.latentCode}${cfg.codeLabels ? ', supervised by labels' : ''})`;
}

async function writeCurve(cfg: TrainConfig, stepsCsv: string): Promise<void> {
  const rows = (await readFile(stepsCsv, 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
  const col = (i: number): [number, number][] => rows.map((r) => [r[0]!, r[i]!]);
  const losses: Series[] = [
    { name: 'D loss', color: '#d62728', points: col(1) },
    { name: 'G loss', color: '#1f77b4', points: col(2) },
  ];
  const outputs: Series[] = [
    { name: 'D(x)', color: '#2ca02c', points: col(3) },
    { name: 'D(G(z))', color: '#ff7f0e', points: col(4) },
  ];
  const title = `${cfg.dataset} ${cfg.arch}${variantOf(cfg)}, ${cfg.loss} loss`;
  await writeFile(path.join(cfg.out, 'loss-curve.png'), await curvePng(losses, outputs, title));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
