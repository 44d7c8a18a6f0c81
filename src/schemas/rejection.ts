/**
 * The `rejection` option of /generate and the diagnostics: oversample, score with the discriminator, keep the
 * samples it rates most real (src/services/rejection.ts).
 */
import { z } from 'zod';

export const REJECTION_METHODS = ['drs', 'top-k'] as const;
export type RejectionMethod = (typeof REJECTION_METHODS)[number];

/** The schema's own bound on oversample; GAN_MAX_OVERSAMPLE (at most this) sets the one a server takes. */
export const OVERSAMPLE_LIMIT = 64;
export const DEFAULT_OVERSAMPLE = 4;
/** |γ| beyond this accepts everything or nothing: F̂ of real discriminators spans a few tens of nats at most. */
export const GAMMA_LIMIT = 100;

export const rejectionSchema = z
  .strictObject({
    method: z
      .enum(REJECTION_METHODS)
      .describe(
        'drs: discriminator rejection sampling (Azadi et al. 2019): each image takes the first of its candidates accepted with probability sigmoid(F̂ − γ), F̂ = logit − log(1 − exp(logit − D*max − 1e-6)), else its best-scored one; top-k: each image takes the best-scored of its candidates',
      ),
    oversample: z
      .number()
      .int()
      .min(1)
      .max(OVERSAMPLE_LIMIT)
      .default(DEFAULT_OVERSAMPLE)
      .describe(
        `Candidates per image (1..GAN_MAX_OVERSAMPLE, default ${DEFAULT_OVERSAMPLE}): candidate 0 is the image's own seed, candidate j a fixed function of (seed, j); drs stops drawing for an image once one is accepted`,
      ),
    gamma: z
      .number()
      .min(-GAMMA_LIMIT)
      .max(GAMMA_LIMIT)
      .optional()
      .describe(
        "drs only: the shift γ; higher accepts fewer. Default: the 80th percentile of F̂ over the model's calibration samples",
      ),
  })
  .superRefine((r, ctx) => {
    if (r.gamma !== undefined && r.method !== 'drs') {
      ctx.addIssue({ code: 'custom', path: ['gamma'], message: 'gamma applies to method "drs" only' });
    }
  })
  .describe(
    "Keep the samples the model's discriminator rates most real: draw oversample candidates per image, return one each (409 for a model without a discriminator)",
  );

export type RejectionOptions = z.infer<typeof rejectionSchema>;

const choiceSchema = z
  .object({
    requestedSeed: z.number().describe('The seed this image was asked for'),
    candidate: z.number().describe('Index of the kept candidate (0 = the requested seed itself)'),
    logit: z.number().describe("The discriminator's logit of the kept candidate"),
    score: z.number().describe('D(x), the probability of "real" the discriminator gave it'),
    acceptance: z
      .number()
      .nullable()
      .describe('drs: its acceptance probability sigmoid(F̂ − γ); null for top-k'),
    chosenBy: z
      .enum(['acceptance', 'best'])
      .describe(
        'acceptance: drs accepted it; best: the best-scored candidate (top-k, or drs when none was accepted)',
      ),
  })
  .describe('Which candidate this image is; its seed (the image’s `seed`) regenerates it without rejection');

export const rejectionImageSchema = choiceSchema;

export const rejectionSummarySchema = z
  .object({
    method: z.enum(REJECTION_METHODS),
    oversample: z.number(),
    candidates: z.number().describe('Candidates generated and scored (drs stops early per image)'),
    gamma: z.number().nullable().describe('drs: the γ used; null for top-k'),
    maxLogit: z
      .number()
      .nullable()
      .describe("drs: D*max, the discriminator's largest logit over the calibration samples"),
    calibrationSamples: z.number().nullable().describe('drs: samples D*max and the default γ come from'),
    acceptedByDraw: z
      .number()
      .nullable()
      .describe('drs: images whose candidate was accepted (the rest took their best-scored candidate)'),
  })
  .describe('How rejection sampling went');
