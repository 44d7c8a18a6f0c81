/**
 * Schemas shared by several routes.
 */
import { z } from 'zod';
import { MAX_SEED } from '../latent/random-state.ts';
import { MODEL_NAME_PATTERN } from '../models/manifest.ts';

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. GAN_ERR_VALIDATION'),
      message: z.string(),
      field: z.string().optional().describe('The request field at fault, e.g. latents[2]'),
    }),
  })
  .describe('Error');

export const errorResponses = {
  400: errorSchema,
  404: errorSchema,
  413: errorSchema,
  415: errorSchema,
  422: errorSchema,
  500: errorSchema,
  503: errorSchema,
  504: errorSchema,
};

export const modelNameSchema = z
  .string()
  .regex(MODEL_NAME_PATTERN, 'must be a model name (lowercase letters, digits, ".", "_", "-")')
  .describe('Model name (see GET /v1/models); the default model when absent');

export const seedSchema = z
  .number()
  .int()
  .min(0)
  .max(MAX_SEED)
  .describe('uint32 seed: NumPy RandomState(seed).randn');

export const labelSchema = z.number().int().min(0).max(99_999).describe('Class label for conditional models');

/** Bounded latent values: big enough for any sensible latent, small enough to keep outputs finite. */
export const MAX_LATENT_ABS = 1000;
export const latentSchema = z
  .array(z.number().min(-MAX_LATENT_ABS).max(MAX_LATENT_ABS))
  .min(1)
  .max(4096)
  .describe('One latent vector of latentDim finite numbers');

/** w-space latents are longer than z (StyleGAN's ws: 18 × 512 at 1024 px). */
export const wLatentSchema = z
  .array(z.number().min(-MAX_LATENT_ABS).max(MAX_LATENT_ABS))
  .min(1)
  .max(65_536)
  .describe('One w-space latent: numWs × wDim finite numbers, or wDim (repeated for every layer)');

/**
 * The truncation trick's ψ in (0, 1], 1 (no truncation) by default: z ← ψ·z, or w ← w_avg + ψ (w − w_avg) for a
 * model with a mapping network, or fed to a model's own truncation input (BigGAN).
 */
export const truncationSchema = z
  .number()
  .gt(0)
  .max(1)
  .default(1)
  .describe(
    "Truncation ψ in (0, 1]: z ← ψ·z; for models with a mapping network w ← w_avg + ψ (w − w_avg); for models with a truncation input, that input's value",
  );

/** ψ of a generation request: absent means none (1), or the default of a model's own truncation input. */
export const generationTruncationSchema = z
  .number()
  .gt(0)
  .max(1)
  .optional()
  .describe(
    "Truncation ψ in (0, 1]: z ← ψ·z; for models with a mapping network w ← w_avg + ψ (w − w_avg); for models with a truncation input, that input's value. Default: none (1), or the default of the model's truncation input (see /v1/models)",
  );

/** JPEG / WebP quality. */
export const qualitySchema = z
  .number()
  .int()
  .min(1)
  .max(100)
  .optional()
  .describe('JPEG or WebP quality 1–100 (default 90)');

export const MAX_COUNT = 256;
export const scaleSchema = z
  .number()
  .int()
  .min(1)
  .max(16)
  .default(1)
  .describe('Nearest-neighbour upscaling factor');

/** The query of a route that takes everything in its JSON body: any key is refused, by name. */
export const noQuerySchema = z.strictObject(
  {},
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown query parameter; this route reads its fields (${issue.keys.join(', ')}) from the JSON body only`
        : undefined,
  },
);

/**
 * A whole number from a query string: only decimal digits are converted, so '', ' ', '0x10', '1e3' and '0b1' are
 * refused (left as strings) instead of coerced (Number('') is 0). Documented as the inner integer schema.
 */
export const queryInt = <T extends z.ZodType<number>>(inner: T) => queryNumber(/^\d{1,16}$/, inner);

/** A decimal number from a query string (digits with an optional fraction: '0.7', '1', '.5'), refused otherwise. */
export const queryDecimal = <T extends z.ZodType<number>>(inner: T) =>
  queryNumber(/^(\d{1,16}(\.\d{1,16})?|\.\d{1,16})$/, inner);

/** A query string value matching `form` becomes a number for `inner`; anything else reaches it as a string. */
function queryNumber<T extends z.ZodType<number>>(form: RegExp, inner: T) {
  return z.preprocess((v) => (typeof v === 'string' && form.test(v) ? Number(v) : v), inner);
}
