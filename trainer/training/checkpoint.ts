/**
 * Trainer checkpoints: `<dir>/{generator,discriminator}/{model.json,weights.bin}` (tfjs layers format, via the file
 * IO handler), the averaged generator when the run keeps one (`generator-average/`), both Adam states (`optimizer-{d,g}.json` + `.bin`) and `state.json` (epochs done, step), written last
 * so that a checkpoint with a state.json is complete.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';
import { fileLoadHandler, fileSaveHandler } from '../tfjs/io.ts';

/** Where a checkpoint keeps the averaged generator (`--ema-decay`); the exporter prefers it when present. */
export const AVERAGE_DIR = 'generator-average';

export type TrainState = { epoch: number; step: number; savedAt: string };

async function saveOptimizer(opt: tfTypes.Optimizer, file: string): Promise<void> {
  const named = await opt.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  const buffer = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  await writeFile(`${file}.bin`, new Uint8Array(buffer));
  await writeFile(
    `${file}.json`,
    JSON.stringify({ className: opt.getClassName(), config: opt.getConfig(), specs }),
  );
}

async function loadOptimizer(opt: tfTypes.Optimizer, file: string): Promise<void> {
  const meta = JSON.parse(await readFile(`${file}.json`, 'utf8')) as {
    specs: tfTypes.io.WeightsManifestEntry[];
  };
  const bytes = await readFile(`${file}.bin`);
  const map = tf.io.decodeWeights(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    meta.specs,
  );
  // Adam matches its slots to variables by position: keep the saved order.
  await opt.setWeights(meta.specs.map((s) => ({ name: s.name, tensor: map[s.name]! })));
}

export async function saveCheckpoint(
  dir: string,
  models: {
    generator: tfTypes.LayersModel;
    discriminator: tfTypes.LayersModel;
    dOptimizer: tfTypes.Optimizer;
    gOptimizer: tfTypes.Optimizer;
    /** The exponential moving average of the generator's weights, when the run keeps one. */
    generatorAverage?: tfTypes.LayersModel | null;
  },
  state: Omit<TrainState, 'savedAt'>,
): Promise<void> {
  await rm(path.join(dir, 'state.json'), { force: true });
  await mkdir(dir, { recursive: true });
  await models.generator.save(fileSaveHandler(path.join(dir, 'generator')));
  if (models.generatorAverage) {
    await models.generatorAverage.save(fileSaveHandler(path.join(dir, AVERAGE_DIR)));
  } else {
    // A run resumed without averaging must not leave an older average for the exporter to pick up.
    await rm(path.join(dir, AVERAGE_DIR), { recursive: true, force: true });
  }
  await models.discriminator.save(fileSaveHandler(path.join(dir, 'discriminator')));
  await saveOptimizer(models.dOptimizer, path.join(dir, 'optimizer-d'));
  await saveOptimizer(models.gOptimizer, path.join(dir, 'optimizer-g'));
  const full: TrainState = { ...state, savedAt: new Date().toISOString() };
  await writeFile(path.join(dir, 'state.json'), `${JSON.stringify(full, null, 2)}\n`);
}

/** Reads `state.json`, or null when the folder holds no complete checkpoint. */
export async function readState(dir: string): Promise<TrainState | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as TrainState;
  } catch {
    return null;
  }
}

export async function loadCheckpoint(
  dir: string,
  dOptimizer: tfTypes.Optimizer,
  gOptimizer: tfTypes.Optimizer,
): Promise<{
  generator: tfTypes.LayersModel;
  discriminator: tfTypes.LayersModel;
  /** null when the checkpoint holds no averaged generator. */
  generatorAverage: tfTypes.LayersModel | null;
  state: TrainState;
}> {
  const state = await readState(dir);
  if (!state) throw new Error(`${dir}: expected a complete checkpoint (state.json), found none`);
  const generator = await tf.loadLayersModel(fileLoadHandler(path.join(dir, 'generator')));
  const discriminator = await tf.loadLayersModel(fileLoadHandler(path.join(dir, 'discriminator')));
  const averageDir = path.join(dir, AVERAGE_DIR);
  const generatorAverage = existsSync(path.join(averageDir, 'model.json'))
    ? await tf.loadLayersModel(fileLoadHandler(averageDir))
    : null;
  await loadOptimizer(dOptimizer, path.join(dir, 'optimizer-d'));
  await loadOptimizer(gOptimizer, path.join(dir, 'optimizer-g'));
  return { generator, discriminator, generatorAverage, state };
}
