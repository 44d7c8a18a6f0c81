/**
 * Trains the dataset classifier that measures generators (sample quality, mode coverage) and records its test
 * accuracy. Writes `<out>/checkpoint/classifier/{model.json,weights.bin}`, `<out>/classifier.json` (measured test
 * accuracy, per class, the command) and `<out>/metrics.jsonl`. `npm run train:classifier` is its command line.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RandomState } from '../../src/latent/random-state.ts';
import {
  CLASS_NAMES,
  type DatasetName,
  loadDataset,
  NUM_CLASSES,
  PIXELS,
  toSignedUnit,
} from '../data/datasets.ts';
import {
  buildClassifier,
  CLASSIFIER_NAMES,
  classifierStep,
  FEATURE_DIM,
  predictClasses,
} from '../models/classifier.ts';
import { initTf, tf } from '../tfjs/backend.ts';
import { fileLoadHandler, fileSaveHandler } from '../tfjs/io.ts';
import { seedMathRandom } from './sampler.ts';

export type ClassifierConfig = {
  dataset: DatasetName;
  out: string;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Cap on steps per epoch (smoke tests); null = one pass over the training set. */
  stepsPerEpoch: number | null;
  /** A saved classifier to continue from (`<out>/checkpoint/classifier` of an earlier run), or null. */
  init: string | null;
  /** The command line that reruns this training, recorded in classifier.json. */
  command: string;
};

/** What `<out>/classifier.json` holds. */
export type ClassifierSummary = {
  dataset: DatasetName;
  classNames: string[];
  testAccuracy: number;
  testCount: number;
  perClass: { class: number; name: string; accuracy: number; count: number }[];
  epochs: number;
  epochsPlanned: number;
  initFrom: { checkpoint: string | null; command?: string; epochs?: number } | null;
  batchSize: number;
  lr: number;
  seed: number;
  inputRange: [number, number];
  inputLayout: 'NHWC';
  outputs: { probabilities: string; features: string };
  featureDim: number;
  command: string;
  createdAt: string;
};

/** Trains `cfg.epochs` epochs, saving the checkpoint and rewriting classifier.json after each; returns the last. */
export async function trainClassifier(
  cfg: ClassifierConfig,
  options: { log?: (line: string) => void } = {},
): Promise<ClassifierSummary | null> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { dataset, out, epochs, batchSize } = cfg;
  await initTf();
  await mkdir(out, { recursive: true });
  seedMathRandom(cfg.seed);
  const rng = new RandomState(cfg.seed);
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  const xTrain = toSignedUnit(train.images);
  const xTest = toSignedUnit(test.images);
  const model = cfg.init ? await tf.loadLayersModel(fileLoadHandler(cfg.init)) : buildClassifier(NUM_CLASSES);
  const previous = cfg.init
    ? (JSON.parse(
        await readFile(path.join(cfg.init, '..', '..', 'classifier.json'), 'utf8').catch(() => '{}'),
      ) as { command?: string; epochs?: number })
    : null;
  const optimizer = tf.train.adam(cfg.lr);
  const metricsFile = path.join(out, 'metrics.jsonl');
  if (!cfg.init) await writeFile(metricsFile, ''); // a continuation appends to the history
  log(
    `${dataset} classifier: ${model.countParams()} params, ${train.count} train / ${test.count} test images`,
  );
  // Rewritten after every epoch, so a run stopped early still leaves a consistent record of its checkpoint.
  const summaryOf = (epochsDone: number, accuracy: number, predictions: Int32Array): ClassifierSummary => {
    const perClass = CLASS_NAMES[dataset].map((name, c) => {
      let n = 0;
      let ok = 0;
      test.labels.forEach((l, i) => {
        if (l === c) {
          n++;
          if (predictions[i] === c) ok++;
        }
      });
      return { class: c, name, accuracy: ok / n, count: n };
    });
    return {
      dataset,
      classNames: CLASS_NAMES[dataset],
      testAccuracy: accuracy,
      testCount: test.count,
      perClass,
      epochs: epochsDone + (previous?.epochs ?? 0),
      epochsPlanned: epochs + (previous?.epochs ?? 0),
      initFrom: previous
        ? { checkpoint: cfg.init, command: previous.command, epochs: previous.epochs }
        : null,
      batchSize,
      lr: cfg.lr,
      seed: cfg.seed,
      inputRange: [-1, 1],
      inputLayout: 'NHWC',
      outputs: { probabilities: CLASSIFIER_NAMES.probs, features: CLASSIFIER_NAMES.features },
      featureDim: FEATURE_DIM,
      command: cfg.command,
      createdAt: new Date().toISOString(),
    };
  };
  let summary: ClassifierSummary | null = null;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const order = Array.from({ length: train.count }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const steps = Math.min(
        Math.floor(train.count / batchSize),
        cfg.stepsPerEpoch ?? Number.POSITIVE_INFINITY,
      );
      let lossSum = 0;
      const x = new Float32Array(batchSize * PIXELS);
      const y = new Float32Array(batchSize);
      for (let s = 0; s < steps; s++) {
        for (let b = 0; b < batchSize; b++) {
          const idx = order[s * batchSize + b]!;
          x.set(xTrain.subarray(idx * PIXELS, (idx + 1) * PIXELS), b * PIXELS);
          y[b] = train.labels[idx]!;
        }
        const xt = tf.tensor4d(x, [batchSize, 28, 28, 1]);
        const yt = tf.tensor1d(y);
        lossSum += classifierStep(model, optimizer, xt, yt, NUM_CLASSES);
        tf.dispose([xt, yt]);
        if ((s + 1) % 50 === 0) {
          const rate = (performance.now() - t0) / (s + 1);
          log(
            `epoch ${epoch + 1}/${epochs} step ${s + 1}/${steps} loss ${(lossSum / (s + 1)).toFixed(4)} ${rate.toFixed(0)} ms/step`,
          );
        }
      }
      const predictions = predictClasses(model, xTest, test.count);
      const accuracy = predictions.reduce((a, p, i) => a + (p === test.labels[i] ? 1 : 0), 0) / test.count;
      const record = {
        epoch: epoch + 1,
        loss: lossSum / steps,
        testAccuracy: accuracy,
        seconds: (performance.now() - t0) / 1000,
      };
      await appendFile(metricsFile, `${JSON.stringify(record)}\n`);
      log(
        `epoch ${epoch + 1}/${epochs}: loss ${record.loss.toFixed(4)} test accuracy ${(accuracy * 100).toFixed(2)}%`,
      );
      await model.save(fileSaveHandler(path.join(out, 'checkpoint', 'classifier')));
      summary = summaryOf(epoch + 1, accuracy, predictions);
      await writeFile(path.join(out, 'classifier.json'), `${JSON.stringify(summary, null, 2)}\n`);
    }
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  if (summary) {
    log(`test accuracy ${(summary.testAccuracy * 100).toFixed(2)}% → ${path.join(out, 'classifier.json')}`);
  }
  return summary;
}
