/**
 * The GAN training loop: takes the networks from networks.ts (new, resumed or warm-started), trains them epoch by
 * epoch on seeded batches, and after each epoch evaluates the generator with the dataset classifier, draws the
 * sample grid and loss curve, appends the metrics and saves a checkpoint. `npm run train` (scripts/train/cli.ts)
 * is its command line.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { CLASS_NAMES, firstImages, loadDataset, NUM_CLASSES } from '../data/datasets.ts';
import { buildGenerator } from '../models/gan.ts';
import { initTf, tf } from '../tfjs/backend.ts';
import { fileLoadHandler } from '../tfjs/io.ts';
import { GeneratorAverage } from './average.ts';
import { AVERAGE_DIR, saveCheckpoint } from './checkpoint.ts';
import { type EpochEvaluation, evaluateEpoch, referenceGaussian } from './evaluate.ts';
import { prepareNetworks } from './networks.ts';
import { type EpochRecord, epochSummary, LOG_EVERY, mean, RunLog, type StepLog } from './run-log.ts';
import { sampleGrid } from './sample-grid.ts';
import { GanSampler, seedMathRandom } from './sampler.ts';
import { type StepMetrics, trainStep } from './step.ts';
import { type TrainConfig, variantOf } from './train-config.ts';

export type TrainGanOptions = {
  /** Continue the run in `config.out` from its checkpoint, when it has one. */
  resume?: boolean;
  /** Where progress lines go (default console.log); the progress bar appears only on a terminal. */
  log?: (line: string) => void;
};

/** Seed for epoch e's data order, noise and dropout: a resumed run continues exactly as an uninterrupted one. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(epoch + 1, 40503)) >>> 0;
}

/** Trains `cfg.epochs` epochs (counting those a resumed checkpoint already holds) and returns the last record. */
export async function trainGan(cfg: TrainConfig, options: TrainGanOptions = {}): Promise<EpochRecord | null> {
  const log = options.log ?? ((line: string) => console.log(line));
  const resume = options.resume ?? false;
  await initTf();
  const ckptDir = path.join(cfg.out, 'checkpoint');
  const samplesDir = path.join(cfg.out, 'samples');
  await mkdir(samplesDir, { recursive: true });
  const numClasses = cfg.conditional ? NUM_CLASSES : null;
  const dOptimizer = tf.train.adam(cfg.lrD, cfg.beta1);
  const gOptimizer = tf.train.adam(cfg.lrG, cfg.beta1);
  seedMathRandom(cfg.seed); // weight initialisation
  const nets = await prepareNetworks(cfg, resume, { dOptimizer, gOptimizer }, log);
  const { generator, discriminator, savedAverage } = nets;
  let step = nets.step;
  // The average continues from the checkpoint's, or starts as a copy of the generator (new run, or averaging
  // switched on when resuming).
  if (savedAverage && cfg.emaDecay === 0) {
    // Averaging switched off: the checkpoint's average is stale from now on, and the exporter would prefer it.
    savedAverage.dispose();
    await rm(path.join(ckptDir, AVERAGE_DIR), { recursive: true, force: true });
    log("resumed without --ema-decay: dropped the checkpoint's weight average");
  }
  const average =
    cfg.emaDecay > 0
      ? new GeneratorAverage(
          generator,
          savedAverage ??
            buildGenerator({
              arch: cfg.arch,
              latentDim: cfg.latentDim,
              numClasses,
              latentCode: cfg.latentCode,
              width: cfg.width,
            }),
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
  log(
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
  const evalOpts = {
    latentDim: cfg.latentDim,
    numClasses,
    samples: cfg.evalSamples,
    reference,
    latentCode: cfg.latentCode,
    codeLabels: cfg.codeLabels,
  };
  const models = { generator, discriminator, dOptimizer, gOptimizer };
  const runLog = new RunLog(cfg.out);
  await runLog.start(resume);
  const tty = process.stderr.isTTY;
  let last: EpochRecord | null = null;
  try {
    for (let epoch = nets.startEpoch; epoch < cfg.epochs; epoch++) {
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
          await runLog.step(row);
          const fmt = {
            d: row.dLoss.toFixed(3),
            g: row.gLoss.toFixed(3),
            dx: row.dReal.toFixed(3),
            dgz: row.dFake.toFixed(3),
          };
          if (bar) bar.update(i + 1, fmt);
          else if (window.length === LOG_EVERY && (i + 1) % (LOG_EVERY * 4) === 0) {
            const rate = (performance.now() - t0) / (i + 1);
            log(
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
      if (
        classifier &&
        cfg.evalEvery > 0 &&
        ((epoch + 1) % cfg.evalEvery === 0 || epoch + 1 === cfg.epochs)
      ) {
        evaluation = evaluateEpoch(shipped, classifier, evalOpts);
        // With averaging, also judge the trained generator: the gap is what the average buys.
        if (average) {
          const trained = evaluateEpoch(generator, classifier, evalOpts);
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
      const record: EpochRecord = {
        epoch: epoch + 1,
        step,
        dLoss: mean(epochLog.map((m) => m.dLoss)),
        gLoss: mean(epochLog.map((m) => m.gLoss)),
        dReal: mean(epochLog.map((m) => m.dReal)),
        dFake: mean(epochLog.map((m) => m.dFake)),
        classAcc: accs.length ? mean(accs) : null,
        seconds,
        ...(evaluation ?? {}),
        ...(average
          ? { evaluated: 'average' as const, emaDecay: cfg.emaDecay, trained: trainedEvaluation }
          : {}),
      };
      await runLog.epoch(record);
      const tag = String(epoch + 1).padStart(3, '0');
      await writeFile(path.join(samplesDir, `epoch-${tag}.png`), await sampleGrid(shipped, cfg));
      await runLog.curve(`${cfg.dataset} ${cfg.arch}${variantOf(cfg)}, ${cfg.loss} loss`);
      await saveCheckpoint(
        ckptDir,
        { ...models, generatorAverage: average?.model ?? null },
        { epoch: epoch + 1, step },
      );
      log(epochSummary(record, cfg.epochs, NUM_CLASSES));
      last = record;
    }
  } finally {
    // Training in-process (tests, notebooks) must not leave the networks' weights behind.
    average?.dispose();
    classifier?.dispose();
    generator.dispose();
    discriminator.dispose();
    dOptimizer.dispose();
    gOptimizer.dispose();
  }
  return last;
}
