/**
 * Trains the dataset classifier that measures generators (sample quality, mode coverage) and records its test
 * accuracy.
 *
 *   npm run train:classifier -- --dataset mnist --out runs/mnist-classifier [--epochs 4] [--seed 1] [--lr 1e-3]
 *     [--init <out>/checkpoint/classifier (continue training a saved classifier)]
 *
 * Writes `<out>/checkpoint/classifier/{model.json,weights.bin}`, `<out>/classifier.json` (measured test accuracy,
 * per class, the command) and `<out>/metrics.jsonl`.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RandomState } from '../../src/latent/random-state.ts';
import {
  CLASS_NAMES,
  isDatasetName,
  loadDataset,
  NUM_CLASSES,
  PIXELS,
  toSignedUnit,
} from '../../trainer/data/datasets.ts';
import {
  buildClassifier,
  CLASSIFIER_NAMES,
  classifierStep,
  FEATURE_DIM,
  predictClasses,
} from '../../trainer/models/classifier.ts';
import { initTf, tf } from '../../trainer/tfjs/backend.ts';
import { fileLoadHandler, fileSaveHandler } from '../../trainer/tfjs/io.ts';
import { seedMathRandom } from '../../trainer/training/sampler.ts';
import { commandLine } from '../command-line.ts';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'mnist' },
    out: { type: 'string' },
    epochs: { type: 'string', default: '4' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '1e-3' },
    seed: { type: 'string', default: '1' },
    /** Continue from a saved classifier (e.g. a few more epochs at a lower --lr). */
    init: { type: 'string' },
  },
});

async function main(): Promise<void> {
  const dataset = values.dataset!;
  if (!isDatasetName(dataset)) throw new Error(`--dataset: expected mnist or fashion-mnist, got ${dataset}`);
  if (!values.out) throw new Error('--out: expected an output folder, e.g. runs/mnist-classifier');
  const out = values.out;
  const epochs = Number(values.epochs);
  const batchSize = Number(values['batch-size']);
  const lr = Number(values.lr);
  const seed = Number(values.seed);
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new Error(`--epochs: expected a positive integer, got ${values.epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`--batch-size: expected a positive integer, got ${values['batch-size']}`);
  }
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`--seed: expected an integer ≥ 0, got ${values.seed}`);
  const command = commandLine('npm run train:classifier --', process.argv.slice(2));
  await initTf();
  await mkdir(out, { recursive: true });
  seedMathRandom(seed);
  const rng = new RandomState(seed);
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  const xTrain = toSignedUnit(train.images);
  const xTest = toSignedUnit(test.images);
  const model = values.init
    ? await tf.loadLayersModel(fileLoadHandler(values.init))
    : buildClassifier(NUM_CLASSES);
  const previous = values.init
    ? (JSON.parse(
        await readFile(path.join(values.init, '..', '..', 'classifier.json'), 'utf8').catch(() => '{}'),
      ) as {
        command?: string;
        epochs?: number;
      })
    : null;
  const optimizer = tf.train.adam(lr);
  const metricsFile = path.join(out, 'metrics.jsonl');
  if (!values.init) await writeFile(metricsFile, ''); // a continuation appends to the history
  console.log(
    `${dataset} classifier: ${model.countParams()} params, ${train.count} train / ${test.count} test images`,
  );
  // Rewritten after every epoch, so a run stopped early still leaves a consistent record of its checkpoint.
  const writeSummary = async (
    epochsDone: number,
    accuracy: number,
    predictions: Int32Array,
  ): Promise<void> => {
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
    const summary = {
      dataset,
      classNames: CLASS_NAMES[dataset],
      testAccuracy: accuracy,
      testCount: test.count,
      perClass,
      epochs: epochsDone + (previous?.epochs ?? 0),
      epochsPlanned: epochs + (previous?.epochs ?? 0),
      initFrom: previous
        ? { checkpoint: values.init, command: previous.command, epochs: previous.epochs }
        : null,
      batchSize,
      lr,
      seed,
      inputRange: [-1, 1],
      inputLayout: 'NHWC',
      outputs: { probabilities: CLASSIFIER_NAMES.probs, features: CLASSIFIER_NAMES.features },
      featureDim: FEATURE_DIM,
      command,
      createdAt: new Date().toISOString(),
    };
    await writeFile(path.join(out, 'classifier.json'), `${JSON.stringify(summary, null, 2)}\n`);
  };
  let accuracy = 0;
  let predictions: Int32Array = new Int32Array(0);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = performance.now();
    const order = Array.from({ length: train.count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const steps = Math.floor(train.count / batchSize);
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
        console.log(
          `epoch ${epoch + 1}/${epochs} step ${s + 1}/${steps} loss ${(lossSum / (s + 1)).toFixed(4)} ${rate.toFixed(0)} ms/step`,
        );
      }
    }
    predictions = predictClasses(model, xTest, test.count);
    accuracy = predictions.reduce((a, p, i) => a + (p === test.labels[i] ? 1 : 0), 0) / test.count;
    const record = {
      epoch: epoch + 1,
      loss: lossSum / steps,
      testAccuracy: accuracy,
      seconds: (performance.now() - t0) / 1000,
    };
    await appendFile(metricsFile, `${JSON.stringify(record)}\n`);
    console.log(
      `epoch ${epoch + 1}/${epochs}: loss ${record.loss.toFixed(4)} test accuracy ${(accuracy * 100).toFixed(2)}%`,
    );
    await model.save(fileSaveHandler(path.join(out, 'checkpoint', 'classifier')));
    await writeSummary(epoch + 1, accuracy, predictions);
  }
  console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% → ${path.join(out, 'classifier.json')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
