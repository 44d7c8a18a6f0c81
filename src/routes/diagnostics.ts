/**
 * Mode-collapse diagnostics of a served model: POST /v1/models/:name/diagnostics (figures as JSON),
 * GET …/diagnostics/grid.png (samples sorted into one row per predicted class) and …/diagnostics/histogram.png.
 * Runs, their sharing and their budget live in src/services/diagnostics.ts; the grid picture is bounded here, at
 * MAX_GRID_PIXELS, before any work.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { classGridSize } from '../diagnostics/pictures.ts';
import {
  classifierOf,
  DEFAULT_SAMPLES,
  MAX_PER_CLASS,
  MAX_SAMPLES,
  MIN_SAMPLES,
} from '../diagnostics/run.ts';
import {
  HEAD_SHARE,
  MAX_DISCRIMINATOR_AUC,
  MAX_KL,
  MIN_COVERED_FRACTION,
  MODE_SHARE,
  RECALL_DROP,
} from '../diagnostics/statistics.ts';
import { ServiceError } from '../errors.ts';
import {
  errorResponses,
  errorSchema,
  modelNameSchema,
  noQuerySchema,
  queryDecimal,
  queryInt,
  seedSchema,
  truncationSchema,
} from '../schemas/common.ts';
import { rejectionSchema, rejectionSummarySchema } from '../schemas/rejection.ts';
import { DiagnosticsService } from '../services/diagnostics.ts';
import { requireDiscriminator } from '../services/images.ts';
import { checkOversample } from '../services/rejection.ts';
import { sendBinary, sendJson } from './reply.ts';

/**
 * Largest class grid, pixels: 32 samples per class at scale 5 for a 28×28 model. A 15,392×4,832 grid (scale 16)
 * took 3.9 s to draw and encode on 2 cores; this size takes about a tenth of that.
 */
export const MAX_GRID_PIXELS = 8_388_608;

const paramsSchema = z.strictObject({ name: modelNameSchema.describe('Model name (see GET /v1/models)') });

const samplesSchema = z
  .number()
  .int()
  .min(MIN_SAMPLES)
  .max(MAX_SAMPLES)
  .describe(`Samples to generate and judge (${MIN_SAMPLES}..${MAX_SAMPLES})`);
const diagnosticsSeedSchema = seedSchema.describe(
  'First seed: samples use seeds seed, seed+1, … (mod 2^32), so results repeat',
);

const diagnosticsTruncationSchema = truncationSchema.describe(
  'Truncation ψ in (0, 1] of the latents, as in /generate: lower ψ trades diversity for fidelity, a controlled partial collapse',
);

export const diagnosticsBodySchema = z.strictObject({
  samples: samplesSchema.default(DEFAULT_SAMPLES),
  seed: diagnosticsSeedSchema.default(0),
  truncation: diagnosticsTruncationSchema,
  rejection: rejectionSchema
    .optional()
    .describe(
      'Judge the samples /generate gives with this rejection (sample i is the kept candidate of seed seed + i); samples × oversample count against GAN_DIAGNOSTICS_MAX_SAMPLES_IN_FLIGHT',
    ),
});

const querySchema = z.strictObject({
  samples: queryInt(samplesSchema.default(DEFAULT_SAMPLES)),
  seed: queryInt(diagnosticsSeedSchema.default(0)),
  truncation: queryDecimal(diagnosticsTruncationSchema),
});

const gridQuerySchema = querySchema.extend({
  perClass: queryInt(
    z
      .number()
      .int()
      .min(1)
      .max(MAX_PER_CLASS)
      .default(10)
      .describe(`Samples shown per class row (1..${MAX_PER_CLASS})`),
  ),
  scale: queryInt(z.number().int().min(1).max(16).default(2).describe('Nearest-neighbour upscaling factor')),
});

const floorSchema = z.object({
  samples: z.number(),
  frechetDistance: z.number(),
  precision: z.number(),
  recall: z.number(),
  klToUniform: z.number(),
  modesCovered: z.number(),
  meanConfidence: z.number(),
});

export const diagnosticsReportSchema = z
  .object({
    model: z.string(),
    dataset: z.string(),
    classifier: z.string().describe('The dataset classifier that judged the samples'),
    samples: z.number(),
    seed: z.number(),
    truncation: z.number().describe('Truncation ψ of the latents (1 = none)'),
    conditional: z.boolean().describe('Conditional models are asked for label i mod numClasses for sample i'),
    classNames: z.array(z.string()),
    histogram: z.object({
      counts: z.array(z.number()).describe('Samples per predicted class'),
      shares: z.array(z.number()),
    }),
    modesCovered: z.number().describe(`Classes holding at least ${MODE_SHARE * 100}% of samples`),
    klToUniform: z.number().describe('KL(histogram ‖ uniform), nats: 0 balanced, ln(classes) for one class'),
    meanConfidence: z.number().describe("Mean of the classifier's top probability"),
    unclear: z
      .object({
        threshold: z.number().describe('Top probability below which a sample counts as unclear'),
        share: z.number().describe('Share of all samples that are unclear'),
        meanTopTwo: z
          .number()
          .describe(
            'Mean top + second probability of the unclear samples: near 1 when they blend two classes',
          ),
        pairs: z
          .array(
            z.object({
              classes: z.tuple([z.number(), z.number()]).describe('Class indices, smaller first'),
              share: z.number().describe('Share of all samples'),
            }),
          )
          .describe('The commonest pairs of classes the unclear samples blend (top two), at most 5'),
      })
      .describe('Samples the classifier is unsure of, and which classes they mix'),
    labelAgreement: z
      .object({
        overall: z.number(),
        perLabel: z.array(z.object({ label: z.number(), samples: z.number(), agreement: z.number() })),
      })
      .nullable()
      .describe('Conditional models: share of samples classified as the requested label'),
    code: z
      .object({
        categories: z.number(),
        supervised: z.boolean().describe('Trained with labels on the code, so code k should draw class k'),
        purity: z.number().describe("Share of samples in their code's commonest class"),
        agreement: z
          .number()
          .nullable()
          .describe('Supervised codes: share of samples classified as their code'),
      })
      .nullable()
      .describe('Models that read a code from z (InfoGAN): how far the codes separate the classes'),
    frechetDistance: z
      .number()
      .nullable()
      .describe('Fréchet classifier distance d² to the real reference statistics (null without them)'),
    precision: z.number().nullable().describe('Kynkäänniemi 2019 precision (k = 3) in feature space'),
    recall: z.number().nullable().describe('Kynkäänniemi 2019 recall (k = 3); mode dropping lowers it'),
    floor: floorSchema
      .nullable()
      .describe(
        'Real held-out data against the same reference at the nearest sample size: the reachable best',
      ),
    discriminator: z
      .object({
        meanRealScore: z.number().describe('Mean D(x) on real held-out images'),
        meanFakeScore: z.number().describe('Mean D(G(z)) on the samples'),
        auc: z.number().describe('Real-vs-generated ROC AUC of the discriminator'),
        realImages: z.number(),
      })
      .nullable(),
    referenceProblem: z.string().nullable().describe('Why reference-based figures are null, when they are'),
    rejection: rejectionSummarySchema
      .nullable()
      .describe('With rejection: candidates and accepted draws summed over all samples'),
    verdict: z.object({
      status: z.enum(['ok', 'collapsed']),
      collapsed: z.boolean(),
      summary: z.string(),
      findings: z.array(z.string()),
      thresholds: z.object({
        modeShare: z.number(),
        minModesCovered: z.number(),
        maxKlToUniform: z.number(),
        baseline: z.enum(['real held-out data', 'uniform']),
        headShare: z.number(),
        maxDiscriminatorAuc: z.number(),
        recallDrop: z.number(),
      }),
    }),
    seconds: z.number(),
  })
  .describe(
    `Diagnostics. Collapse is reported when fewer than ${MIN_COVERED_FRACTION * 100}% of the classes real data covers hold ≥ ${MODE_SHARE * 100}% of samples, or KL to uniform exceeds real data's by ${MAX_KL} (without reference statistics: against a uniform histogram); the summary names the fewest classes holding ${HEAD_SHARE * 100}% of samples. Also flagged: discriminator AUC > ${MAX_DISCRIMINATOR_AUC}, recall below ${RECALL_DROP}× the real floor.`,
  );

const responses = { ...errorResponses, 409: errorSchema };

export const diagnosticsRoutes: FastifyPluginAsyncZod = async (app) => {
  const diagnostics = new DiagnosticsService(app.runtime, app.config, app.metrics);

  app.post(
    '/v1/models/:name/diagnostics',
    {
      config: { inference: true },
      schema: {
        tags: ['models'],
        summary: 'Mode-collapse diagnostics of a model',
        description:
          'Generates `samples` images from seeds seed, seed+1, … through the batched generator, classifies them with the dataset classifier and scores them with the discriminator; returns the class histogram, modes covered, KL to uniform, Fréchet classifier distance, precision/recall, discriminator balance and a verdict. 409 GAN_ERR_NO_CLASSIFIER when the model has no dataset classifier.',
        params: paramsSchema,
        querystring: noQuerySchema,
        body: diagnosticsBodySchema,
        response: { 200: diagnosticsReportSchema, ...responses },
      },
    },
    async (request, reply) => {
      const model = app.runtime.model(request.params.name, 'name');
      reply.header('x-model', model.name);
      const { samples, seed, truncation, rejection } = request.body;
      if (rejection) {
        requireDiscriminator(model, 'rejection');
        checkOversample(rejection.oversample, app.config.GAN_MAX_OVERSAMPLE);
      }
      const { report } = await diagnostics.diagnose(model, { samples, seed, truncation, rejection });
      return sendJson(reply, report, { field: 'samples' });
    },
  );

  app.get(
    '/v1/models/:name/diagnostics/grid.png',
    {
      config: { inference: true, binaryResponse: ['image/png'] },
      schema: {
        tags: ['models'],
        summary: 'Samples sorted into one row per predicted class',
        description:
          'Each row is a class of the dataset classifier with its sample count and share; a collapsed generator shows a few full rows and many empty (grey) ones.',
        params: paramsSchema,
        querystring: gridQuerySchema,
        response: { 200: z.string().describe('image/png'), ...responses },
      },
    },
    async (request, reply) => {
      const model = app.runtime.model(request.params.name, 'name');
      reply.header('x-model', model.name);
      const q = request.query;
      // Its size is known before the run: refuse a grid too large to draw before spending anything on it.
      const size = classGridSize({
        ...model.manifest.image,
        classes: classifierOf(model).manifest.classNames.length,
        perClass: q.perClass,
        scale: q.scale,
      });
      if (size.width * size.height > MAX_GRID_PIXELS) {
        throw new ServiceError(
          'GAN_ERR_VALIDATION',
          `the grid would be ${size.width}x${size.height} = ${size.width * size.height} pixels; the limit is ${MAX_GRID_PIXELS}: lower scale or perClass`,
          'scale',
        );
      }
      const run = { samples: q.samples, seed: q.seed, truncation: q.truncation };
      const png = await diagnostics.grid(model, run, q.perClass, q.scale);
      return sendBinary(reply, 'image/png', png);
    },
  );

  app.get(
    '/v1/models/:name/diagnostics/histogram.png',
    {
      config: { inference: true, binaryResponse: ['image/png'] },
      schema: {
        tags: ['models'],
        summary: 'Bar chart of the predicted-class histogram',
        description: `Shares per class, the uniform share and the ${MODE_SHARE * 100}% "covered" share marked; the subtitle is the verdict.`,
        params: paramsSchema,
        querystring: querySchema,
        response: { 200: z.string().describe('image/png'), ...responses },
      },
    },
    async (request, reply) => {
      const model = app.runtime.model(request.params.name, 'name');
      reply.header('x-model', model.name);
      const q = request.query;
      const png = await diagnostics.histogram(model, {
        samples: q.samples,
        seed: q.seed,
        truncation: q.truncation,
      });
      return sendBinary(reply, 'image/png', png);
    },
  );
};
