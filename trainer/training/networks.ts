/**
 * The networks a training run starts from: a resumed run's checkpoint (its settings checked against the
 * checkpoint's config.json), or new ones, copied layer by layer from another run's checkpoint with `initFrom`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { NUM_CLASSES } from '../data/datasets.ts';
import { buildDiscriminator, buildGenerator } from '../models/gan.ts';
import { copyMatchingWeights } from '../models/warm-start.ts';
import { tf } from '../tfjs/backend.ts';
import { fileLoadHandler } from '../tfjs/io.ts';
import { loadCheckpoint, readState } from './checkpoint.ts';
import { FIXED_ON_RESUME, type TrainConfig } from './train-config.ts';

export type Networks = {
  generator: tfTypes.LayersModel;
  discriminator: tfTypes.LayersModel;
  savedAverage: tfTypes.LayersModel | null;
  startEpoch: number;
  step: number;
};

/** A resumed run's networks and optimiser state, or new ones (copied layer by layer from initFrom when set). */
export async function prepareNetworks(
  cfg: TrainConfig,
  resume: boolean,
  optimizers: { dOptimizer: tfTypes.Optimizer; gOptimizer: tfTypes.Optimizer },
  log: (line: string) => void,
): Promise<Networks> {
  const ckptDir = path.join(cfg.out, 'checkpoint');
  const modelOpts = {
    arch: cfg.arch,
    latentDim: cfg.latentDim,
    numClasses: cfg.conditional ? NUM_CLASSES : null,
    latentCode: cfg.latentCode,
    width: cfg.width,
  };
  if (resume && (await readState(ckptDir))) {
    const saved = JSON.parse(await readFile(path.join(cfg.out, 'config.json'), 'utf8')) as TrainConfig;
    saved.latentCode ??= null; // runs from before latent codes existed
    saved.codeLabels ??= false;
    saved.initFrom ??= null;
    cfg.initFromEpoch = saved.initFromEpoch ?? null;
    for (const key of FIXED_ON_RESUME) {
      if (saved[key] !== cfg[key])
        throw new Error(`--resume: ${key} is ${cfg[key]}, the checkpoint has ${saved[key]}`);
    }
    const ck = await loadCheckpoint(ckptDir, optimizers.dOptimizer, optimizers.gOptimizer);
    log(`resumed ${cfg.out} after epoch ${ck.state.epoch} (step ${ck.state.step})`);
    return {
      generator: ck.generator,
      discriminator: ck.discriminator,
      savedAverage: ck.generatorAverage,
      startEpoch: ck.state.epoch,
      step: ck.state.step,
    };
  }
  const generator = buildGenerator(modelOpts);
  const discriminator = buildDiscriminator(modelOpts);
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
      log(
        `${dir}: ${copied.length} layers from ${cfg.initFrom}` +
          (fresh.length ? `, new: ${fresh.join(', ')}` : ''),
      );
    }
  }
  return { generator, discriminator, savedAverage: null, startEpoch: 0, step: 0 };
}
