/**
 * The model manifest (`models/<name>/model.json`): what the service needs to know about a generator /
 * discriminator pair (and, optionally, the dataset classifier that judges its samples). Written by the exporter
 * (`npm run export`), validated here with zod at start-up.
 */
import { z } from 'zod';

export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const tensorName = z.string().min(1).max(128);

const imageSpec = z.strictObject({
  width: z.number().int().min(1).max(4096),
  height: z.number().int().min(1).max(4096),
  channels: z.union([z.literal(1), z.literal(3)]),
});

const range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo < hi, { message: 'range must be [low, high] with low < high' });

const provenanceSchema = z.strictObject({
  /** How it was made: the exact command(s). */
  command: z.string(),
  trainer: z.string().optional(),
  architecture: z.string().optional(),
  epochs: z.number().int().min(0).optional(),
  /** ISO 8601 */
  createdAt: z.string(),
  /** Measured quality figures (e.g. KL to uniform, classifier confidence); free-form numbers and strings. */
  quality: z.record(z.string(), z.union([z.number(), z.string(), z.null()])).default({}),
  notes: z.string().optional(),
});

/** A categorical code read from z (InfoGAN): see `latentCode` in the manifest. */
export const latentCodeSchema = z.strictObject({
  categories: z.number().int().min(2).max(4096),
  supervised: z.boolean().describe('Trained with the dataset labels on the code, so code k draws class k'),
});

export const manifestSchema = z
  .strictObject({
    /** Folder name; also the name clients use. */
    name: z.string().regex(MODEL_NAME_PATTERN),
    title: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    /** e.g. "mnist", "fashion-mnist" */
    dataset: z.string().min(1).max(64),
    /** Class names of the dataset, index = class id (used for labels and diagnostics). */
    classNames: z.array(z.string()).optional(),
    latentDim: z.number().int().min(1).max(4096),
    image: imageSpec,
    generator: z.strictObject({
      file: z.string().default('generator.onnx'),
      /** Input holding z, float32 [N, latentDim]. */
      latentInput: tensorName,
      /** Input holding class labels for conditional models: int32 or float32 [N] (see labelDtype); null otherwise. */
      labelInput: tensorName.nullable().default(null),
      labelDtype: z.enum(['int32', 'int64', 'float32']).default('int32'),
      output: tensorName,
      /** Value range of the generator's output, mapped to [0, 255]. */
      outputRange: range,
      /** Memory layout of the output tensor. */
      outputLayout: z.enum(['NHWC', 'NCHW']),
    }),
    discriminator: z.strictObject({
      file: z.string().default('discriminator.onnx'),
      input: tensorName,
      labelInput: tensorName.nullable().default(null),
      labelDtype: z.enum(['int32', 'int64', 'float32']).default('int32'),
      inputRange: range,
      inputLayout: z.enum(['NHWC', 'NCHW']),
      output: tensorName,
      /** Whether the output is a raw logit (sigmoid applied by the service) or already a probability. */
      outputKind: z.enum(['logit', 'probability']),
    }),
    /** Number of classes for conditional models, null for unconditional ones. */
    numClasses: z.number().int().min(2).max(1000).nullable(),
    /**
     * A categorical code the generator reads from z itself (InfoGAN): the index of the largest of z's first
     * `categories` entries. /generate's `code` sets it. `supervised`: trained with the dataset's labels on the code, so
     * code k draws class k; otherwise the codes are whatever kinds of image training gave them (rows of samples.png).
     */
    latentCode: latentCodeSchema.nullable().default(null),
    provenance: provenanceSchema,
  })
  .superRefine((m, ctx) => {
    if (m.latentCode && m.latentCode.categories > m.latentDim) {
      ctx.addIssue({
        code: 'custom',
        path: ['latentCode', 'categories'],
        message: `a code of ${m.latentCode.categories} categories needs at least that many latent entries, got latentDim ${m.latentDim}`,
      });
    }
    if (m.latentCode && m.numClasses !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['latentCode'],
        message:
          'a conditional model (numClasses) takes its class as an input; latentCode is for unconditional ones',
      });
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;

/** The dimensions of one image tensor after the batch axis: [H, W, C] (NHWC) or [C, H, W] (NCHW). */
export function imageRowDims(
  layout: 'NHWC' | 'NCHW',
  image: { width: number; height: number; channels: number },
): number[] {
  return layout === 'NHWC'
    ? [image.height, image.width, image.channels]
    : [image.channels, image.height, image.width];
}
export type ManifestInput = z.input<typeof manifestSchema>;

/**
 * A dataset classifier (`models/<name>/classifier.json` + its ONNX file): the judge of sample quality and mode
 * coverage for every model trained on the same `dataset`. Outputs class scores and penultimate-layer features.
 */
export const classifierManifestSchema = z.strictObject({
  kind: z.literal('classifier'),
  name: z.string().regex(MODEL_NAME_PATTERN),
  dataset: z.string().min(1).max(64),
  classNames: z.array(z.string()).min(2),
  image: imageSpec,
  file: z.string().default('classifier.onnx'),
  input: tensorName,
  inputRange: range,
  inputLayout: z.enum(['NHWC', 'NCHW']),
  /** Class scores, float32 [N, classNames.length]. */
  output: tensorName,
  outputKind: z.enum(['logits', 'probabilities']),
  /** Penultimate-layer features, float32 [N, featureDim]. */
  features: tensorName,
  featureDim: z.number().int().min(1),
  /** JSON file (relative to the folder) with reference statistics of the real test set's features. */
  referenceStats: z.string().optional(),
  provenance: provenanceSchema,
});

export type ClassifierManifest = z.infer<typeof classifierManifestSchema>;
