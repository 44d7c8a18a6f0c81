/**
 * The model manifest (`models/<name>/model.json`): what the service needs to know about a served GAN. Each network's
 * inputs are described by role (latent, class index, one-hot class, truncation, w-space latent, constant, seeded
 * noise, image), so a new generator family is a manifest, not a new code path. A model is a generator (one file,
 * z → image, or a StyleGAN-style mapping + synthesis pair) and, optionally, a discriminator. Written by the exporter
 * (`npm run export`) and the importer (`npm run import`), validated here with zod at start-up. Manifests written
 * before inputs had roles (`latentInput`, `labelInput`, `labelDtype`, a required discriminator) still load: they
 * are migrated on parse.
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

const layout = z.enum(['NHWC', 'NCHW']);
const dim = z
  .number()
  .int()
  .min(1)
  .max(1 << 20);
/** Dimensions after the batch axis (batched inputs), or the whole shape (inputs without a batch axis). */
const dims = z.array(dim).max(8);
const floatType = z.enum(['float32', 'float16']);
const classIndexType = z.enum(['int32', 'int64', 'float32']);
const anyType = z.enum(['float32', 'float16', 'int32', 'int64', 'bool']);

/** z: batched, float. `shape` is the row shape, e.g. [100] or [100, 1, 1] (PyTorch DCGAN); default [latentDim]. */
const latentInput = z.strictObject({
  role: z.literal('latent'),
  name: tensorName,
  dtype: floatType.default('float32'),
  shape: dims.optional(),
});

/** A class id per row: [N] or [N, 1] (`shape` [] or [1]; unset = read from the network). */
const classIndexInput = z.strictObject({
  role: z.literal('class-index'),
  name: tensorName,
  dtype: classIndexType.default('int32'),
  shape: z.union([z.tuple([]), z.tuple([z.literal(1)])]).optional(),
});

/** A one-hot class row [N, numClasses] (BigGAN's `y`, StyleGAN's `c`). */
const classOneHotInput = z.strictObject({
  role: z.literal('class-onehot'),
  name: tensorName,
  dtype: floatType.default('float32'),
});

/**
 * A truncation value fed to the network itself (BigGAN's `truncation`, a `truncation_psi` input): shape [] or [1],
 * no batch axis. Requests' `truncation` goes here instead of scaling z; `default` when a request gives none.
 */
const truncationInput = z.strictObject({
  role: z.literal('truncation'),
  name: tensorName,
  dtype: floatType.default('float32'),
  shape: z.union([z.tuple([]), z.tuple([z.literal(1)])]).default([]),
  default: z.number().min(0).max(2).default(1),
});

/** A StyleGAN synthesis network's w-space input: rows of [numWs, wDim] (`ws`) or [wDim] (`w`). */
const wLatentInput = z.strictObject({
  role: z.literal('w-latent'),
  name: tensorName,
  dtype: floatType.default('float32'),
  shape: dims.min(1).max(2),
});

/**
 * A fixed value the export left as an input (StyleGAN's `noise_mode`, a `force_fp32` flag): every element is
 * `value`. `batched`: `shape` is the row shape and the value is repeated per row; otherwise `shape` is the whole shape.
 */
const constantInput = z.strictObject({
  role: z.literal('constant'),
  name: tensorName,
  dtype: anyType.default('float32'),
  shape: dims.default([]),
  batched: z.boolean().default(false),
  value: z.number(),
});

/**
 * A noise tensor the network takes as an input (per-layer StyleGAN noise, exported as inputs): standard normal ×
 * `std` from RandomState(`seed`), drawn once at load, so the same request gives the same image. Shapes as for constants.
 */
const noiseInput = z.strictObject({
  role: z.literal('noise'),
  name: tensorName,
  dtype: floatType.default('float32'),
  shape: dims.default([]),
  batched: z.boolean().default(false),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(0),
  std: z.number().min(0).default(1),
});

/** A discriminator's image input, in its `inputRange` and `inputLayout`. */
const imageInput = z.strictObject({
  role: z.literal('image'),
  name: tensorName,
  dtype: floatType.default('float32'),
});

export const inputSpecSchema = z.discriminatedUnion('role', [
  latentInput,
  classIndexInput,
  classOneHotInput,
  truncationInput,
  wLatentInput,
  constantInput,
  noiseInput,
  imageInput,
]);
export type InputSpec = z.infer<typeof inputSpecSchema>;
export type InputRole = InputSpec['role'];
export type InputOfRole<R extends InputRole> = Extract<InputSpec, { role: R }>;

const unique = (inputs: readonly { name: string }[]) =>
  new Set(inputs.map((i) => i.name)).size === inputs.length;

const inputsOf = (allowed: readonly InputRole[]) =>
  z
    .array(inputSpecSchema)
    .min(1)
    .max(64)
    .refine(unique, { message: 'input names must be unique' })
    .superRefine((inputs, ctx) => {
      inputs.forEach((input, i) => {
        if (!allowed.includes(input.role))
          ctx.addIssue({
            code: 'custom',
            path: [i, 'role'],
            message: `role '${input.role}' is not one this network takes (${allowed.join(', ')})`,
          });
      });
      for (const role of allowed) {
        if (role === 'constant' || role === 'noise') continue;
        if (inputs.filter((x) => x.role === role).length > 1)
          ctx.addIssue({ code: 'custom', path: [], message: `at most one input may have role '${role}'` });
      }
      if (inputs.some((x) => x.role === 'class-index') && inputs.some((x) => x.role === 'class-onehot'))
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'give a class-index or a class-onehot input, not both',
        });
    });

const CLASS_ROLES = ['class-index', 'class-onehot'] as const;
const FIXED_ROLES = ['constant', 'noise'] as const;

/** Output of a generator or synthesis network: images in `outputRange`, `outputLayout`. */
const imageOutput = {
  output: tensorName,
  /** Value range of the output, mapped to [0, 255] (values outside it are clamped). */
  outputRange: range,
  outputLayout: layout,
};

const generatorSchema = z.strictObject({
  file: z.string().default('generator.onnx'),
  /**
   * One file from z (a `latent` input), or a StyleGAN synthesis network fed by `mapping` (a `w-latent` input).
   */
  inputs: inputsOf(['latent', 'w-latent', ...CLASS_ROLES, 'truncation', ...FIXED_ROLES]),
  ...imageOutput,
});

const mappingSchema = z.strictObject({
  file: z.string().default('mapping.onnx'),
  inputs: inputsOf(['latent', ...CLASS_ROLES, 'truncation', ...FIXED_ROLES]),
  /** w [N, wDim] or ws [N, numWs, wDim]. */
  output: tensorName,
  /**
   * The average w (a `.npy` float32 file of [wDim], [1, wDim] or the output's row shape, relative to the folder),
   * the centre of truncation in w space; null = estimated at load from `wAvgSamples` seeded z's (seeds 0, 1, …).
   */
  wAvg: z.string().nullable().default(null),
  wAvgSamples: z.number().int().min(1).max(1_000_000).default(10_000),
});

const discriminatorSchema = z.strictObject({
  file: z.string().default('discriminator.onnx'),
  inputs: inputsOf(['image', ...CLASS_ROLES, ...FIXED_ROLES]),
  inputRange: range,
  inputLayout: layout,
  /** [N], [N, 1] or [N, 1, 1, 1]: one score per image. */
  output: tensorName,
  /** Whether the output is a raw logit (sigmoid applied by the service) or already a probability. */
  outputKind: z.enum(['logit', 'probability']),
});

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

type LegacyNetwork = Record<string, unknown>;

/** The pre-role form of a network: named fields instead of `inputs`. */
function migrateNetwork(net: unknown, imageField: 'latentInput' | 'input'): unknown {
  if (typeof net !== 'object' || net === null || 'inputs' in net) return net;
  const { latentInput, input, labelInput, labelDtype, ...rest } = net as LegacyNetwork;
  const main = imageField === 'latentInput' ? latentInput : input;
  if (main === undefined) return net;
  const inputs: unknown[] = [{ role: imageField === 'latentInput' ? 'latent' : 'image', name: main }];
  if (labelInput !== null && labelInput !== undefined)
    inputs.push({ role: 'class-index', name: labelInput, ...(labelDtype ? { dtype: labelDtype } : {}) });
  return { ...rest, inputs };
}

function migrate(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const m = { ...(raw as Record<string, unknown>) };
  if ('generator' in m) m.generator = migrateNetwork(m.generator, 'latentInput');
  if ('discriminator' in m) m.discriminator = migrateNetwork(m.discriminator, 'input');
  return m;
}

export const manifestSchema = z.preprocess(
  migrate,
  z
    .strictObject({
      /** Folder name; also the name clients use. */
      name: z.string().regex(MODEL_NAME_PATTERN),
      title: z.string().min(1).max(200),
      description: z.string().max(2000).optional(),
      /** e.g. "mnist", "fashion-mnist"; null for a model with no dataset classifier to judge it. */
      dataset: z.string().min(1).max(64).nullable().default(null),
      /** Class names of the dataset, index = class id (used for labels and diagnostics). */
      classNames: z.array(z.string()).optional(),
      /** Length of z. */
      latentDim: z.number().int().min(1).max(4096),
      image: imageSpec,
      /** Served when a request names no model (GAN_DEFAULT_MODEL, when set, wins). */
      default: z.boolean().default(false),
      generator: generatorSchema,
      /** A StyleGAN-style mapping network (z → w) that feeds the generator's `w-latent` input; null for one file. */
      mapping: mappingSchema.nullable().default(null),
      /** Null for a generator-only model: /discriminate then answers 4xx for it. */
      discriminator: discriminatorSchema.nullable().default(null),
      /** Number of classes for conditional models, null for unconditional ones. */
      numClasses: z.number().int().min(2).max(100_000).nullable(),
      /**
       * A categorical code the generator reads from z itself (InfoGAN): the index of the largest of z's first
       * `categories` entries. /generate's `code` sets it. `supervised`: trained with the dataset's labels on the
       * code, so code k draws class k; otherwise the codes are whatever kinds of image training gave them.
       */
      latentCode: latentCodeSchema.nullable().default(null),
      /** How the model was made; optional for imported models. */
      provenance: provenanceSchema.nullable().default(null),
    })
    .superRefine((m, ctx) => {
      const issue = (path: (string | number)[], message: string) =>
        ctx.addIssue({ code: 'custom', path, message });
      const zNet = m.mapping ?? m.generator;
      const zPath = m.mapping ? 'mapping' : 'generator';
      const hasRole = (inputs: readonly InputSpec[], role: InputRole) => inputs.some((i) => i.role === role);
      if (m.mapping) {
        if (!hasRole(m.generator.inputs, 'w-latent'))
          issue(['generator', 'inputs'], 'with a mapping network the generator needs a w-latent input');
        if (hasRole(m.generator.inputs, 'latent'))
          issue(['generator', 'inputs'], 'with a mapping network z goes to the mapping, not the generator');
        for (const role of CLASS_ROLES)
          if (hasRole(m.generator.inputs, role))
            issue(['generator', 'inputs'], 'with a mapping network the class goes to the mapping');
      } else if (hasRole(m.generator.inputs, 'w-latent')) {
        issue(['mapping'], 'a generator with a w-latent input needs a mapping network');
      }
      if (!hasRole(zNet.inputs, 'latent')) issue([zPath, 'inputs'], 'needs an input with role latent');
      const latent = zNet.inputs.find((i) => i.role === 'latent');
      if (latent?.shape) {
        const size = latent.shape.reduce((a, b) => a * b, 1);
        if (size !== m.latentDim)
          issue(
            [zPath, 'inputs'],
            `latent shape [${latent.shape}] holds ${size} values but latentDim is ${m.latentDim}`,
          );
      }
      const hasClass = CLASS_ROLES.some((r) => hasRole(zNet.inputs, r));
      if (m.numClasses !== null && !hasClass)
        issue(
          [zPath, 'inputs'],
          `numClasses is ${m.numClasses} but no input has role class-index or class-onehot`,
        );
      if (m.numClasses === null && hasClass)
        issue(['numClasses'], 'a network takes a class but numClasses is null');
      if (
        m.discriminator &&
        m.numClasses === null &&
        CLASS_ROLES.some((r) => hasRole(m.discriminator!.inputs, r))
      )
        issue(['numClasses'], 'the discriminator takes a class but numClasses is null');
      if (m.discriminator && !hasRole(m.discriminator.inputs, 'image'))
        issue(['discriminator', 'inputs'], 'needs an input with role image');
      if (m.latentCode && m.latentCode.categories > m.latentDim) {
        issue(
          ['latentCode', 'categories'],
          `a code of ${m.latentCode.categories} categories needs at least that many latent entries, got latentDim ${m.latentDim}`,
        );
      }
      if (m.latentCode && m.numClasses !== null) {
        issue(
          ['latentCode'],
          'a conditional model (numClasses) takes its class as an input; latentCode is for unconditional ones',
        );
      }
    }),
);

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<(typeof manifestSchema)['_def']['out']>;
export type GeneratorSpec = Manifest['generator'];
export type MappingSpec = NonNullable<Manifest['mapping']>;
export type DiscriminatorSpec = NonNullable<Manifest['discriminator']>;
export type NetworkSpec = GeneratorSpec | MappingSpec | DiscriminatorSpec;

/** The input of a network with a role (at most one per role, except constants and noise). */
export function inputOf<R extends InputRole>(
  net: { inputs: readonly InputSpec[] },
  role: R,
): InputOfRole<R> | undefined {
  return net.inputs.find((i): i is InputOfRole<R> => i.role === role);
}

/** The network that takes z (and the class): the mapping network when there is one, else the generator. */
export function latentNetwork(m: Manifest): GeneratorSpec | MappingSpec {
  return m.mapping ?? m.generator;
}

/** How a request's truncation ψ acts: on w (mapping networks), fed to a truncation input, or scaling z. */
export function truncationMode(m: Manifest): 'w' | 'input' | 'z' {
  if (m.mapping) return 'w';
  return inputOf(m.generator, 'truncation') ? 'input' : 'z';
}

/** The dimensions of one image tensor after the batch axis: [H, W, C] (NHWC) or [C, H, W] (NCHW). */
export function imageRowDims(
  layout: 'NHWC' | 'NCHW',
  image: { width: number; height: number; channels: number },
): number[] {
  return layout === 'NHWC'
    ? [image.height, image.width, image.channels]
    : [image.channels, image.height, image.width];
}

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
  inputLayout: layout,
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
