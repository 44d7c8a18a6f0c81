/**
 * Flags the trainer's command lines share (train, train:classifier, bench:train), as zod fields for
 * scripts/cli-args.ts.
 */
import { z } from 'zod';
import { DEFAULT_WIDTH } from '../../trainer/models/gan.ts';

/** A cap on steps per epoch, for smoke tests. */
export const stepsPerEpochFlag = z
  .number()
  .int()
  .min(1)
  .max(1_000_000)
  .optional()
  .describe('cap on steps per epoch (smoke tests; default: one pass over the training set)');

/** The width of a GAN's first layer. */
export const widthFlag = z
  .number()
  .int()
  .min(1)
  .max(1024)
  .optional()
  .describe(
    `channels (dcgan) or units (mlp) of the first layer (default: ${DEFAULT_WIDTH.dcgan} or ${DEFAULT_WIDTH.mlp})`,
  );
