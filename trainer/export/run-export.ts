/**
 * Exports a training run to a model folder the service loads:
 * - GAN run `<run>/{config.json, checkpoint/{generator,discriminator}/}` → `<out>/{generator.onnx,
 *   discriminator.onnx, model.json}` (the generator from `checkpoint/generator-average/` when the run kept one);
 * - classifier run `<run>/{config.json, checkpoint/classifier/}` → `<out>/{classifier.onnx, classifier.json}`.
 * Each ONNX file is written only after it matched tfjs on 256 random inputs; manifests are validated with the
 * service's own schemas before they are written.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import {
  type ClassifierManifest,
  classifierManifestSchema,
  type Manifest,
  manifestSchema,
} from '../../src/models/manifest.ts';
import { fileLoadHandler } from '../tfjs/io.ts';
import { AVERAGE_DIR, readState } from '../training/checkpoint.ts';
import '../models/latent-code.ts'; // registers the LatentCode layer, so InfoGAN checkpoints load
import type { IOSpec } from './convert.ts';
import {
  type CheckedExport,
  type CheckedExportOptions,
  exportChecked,
  finalActivation,
  penultimateLayer,
  rangeOfActivation,
} from './export-model.ts';

type Quality = NonNullable<Manifest['provenance']>['quality'];

/** What the exporter reads from a run's `config.json` (the trainer writes more; unknown keys are kept aside). */
const runConfigSchema = z.looseObject({
  dataset: z.string().min(1),
  arch: z.string().optional(),
  conditional: z.boolean().optional(),
  /** Categories of an InfoGAN latent code read from z (null or absent: none). */
  latentCode: z.number().int().nullable().optional(),
  /** Whether the code's Q head was also trained on real images' labels (`--code-labels`). */
  codeLabels: z.boolean().optional(),
  infoWeight: z.number().optional(),
  /** The run this one was warm-started from (`--init-from`), whose command is part of the provenance. */
  initFrom: z.string().nullable().optional(),
  /** The epoch of that run's checkpoint when it was copied (absent in runs from before it was recorded). */
  initFromEpoch: z.number().int().nullable().optional(),
  numClasses: z.number().int().nullable().optional(),
  width: z.number().optional(),
  latentDim: z.number().int().optional(),
  epochs: z.number().int().optional(),
  /** Decay of the generator's weight average (0 or absent: none kept). */
  emaDecay: z.number().optional(),
  classNames: z.array(z.string()).optional(),
  command: z.string().optional(),
  tfjs: z.string().optional(),
  backend: z.string().optional(),
  /** Classifier runs: the input range it was trained on. */
  inputRange: z.tuple([z.number(), z.number()]).optional(),
});
export type RunConfig = z.infer<typeof runConfigSchema>;

/** Per-epoch evaluation fields the trainer logs in metrics.jsonl that count as quality figures. */
const EVAL_KEYS = [
  'samples',
  'modesCovered',
  'klToUniform',
  'meanConfidence',
  'labelAgreement',
  'frechetDistance',
  'codePurity',
  'codeAgreement',
];

export interface ExportRunOptions extends CheckedExportOptions {
  /** Manifest name (default: the output folder's name). */
  name?: string;
  title?: string;
  description?: string;
  /** The export command, appended to the training command in provenance. */
  exportCommand?: string;
  /** Quality figures to record (override those read from the run). */
  quality?: Quality;
  notes?: string;
  /** Generator output range when its final activation doesn't fix it. */
  outputRange?: [number, number];
  /** Classifier input range (default: config.json's inputRange, else [-1, 1]). */
  inputRange?: [number, number];
}

export async function readRunConfig(runDir: string): Promise<RunConfig> {
  // GAN runs write config.json; classifier runs (npm run train:classifier) write classifier.json.
  const gan = path.join(runDir, 'config.json');
  const classifierFile = path.join(runDir, 'classifier.json');
  const file = !existsSync(gan) && existsSync(classifierFile) ? classifierFile : gan;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: expected the run's config.json (${(err as Error).message})`);
  }
  const parsed = runConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  return parsed.data;
}

async function readJson(file: string): Promise<unknown> {
  return existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
}

function numbersAndStrings(obj: unknown, keys?: readonly string[]): Quality {
  const out: Quality = {};
  if (obj === null || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) {
    if (keys && !keys.includes(k)) continue;
    if (typeof v === 'number' || typeof v === 'string' || v === null) out[k] = v;
  }
  return out;
}

/**
 * Quality figures of a run: the last per-epoch evaluation in metrics.jsonl, then `<run>/quality.json` (e.g.
 * written by `npm run evaluate`), then the caller's figures, later ones winning.
 */
export async function readRunQuality(runDir: string, extra: Quality = {}): Promise<Quality> {
  let fromMetrics: Quality = {};
  const metrics = path.join(runDir, 'metrics.jsonl');
  if (existsSync(metrics)) {
    const lines = (await readFile(metrics, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    for (const line of lines.reverse()) {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (typeof record.klToUniform === 'number') {
        fromMetrics = { ...numbersAndStrings(record, EVAL_KEYS), evaluatedAtEpoch: Number(record.epoch) };
        break;
      }
    }
  }
  const file = (await readJson(path.join(runDir, 'quality.json'))) as Record<string, unknown> | undefined;
  const fromFile = numbersAndStrings(file && typeof file.quality === 'object' ? file.quality : file);
  return { ...fromMetrics, ...fromFile, ...extra };
}

async function epochsDone(runDir: string, config: RunConfig): Promise<number | undefined> {
  const state = (await readJson(path.join(runDir, 'checkpoint', 'state.json'))) as
    | { epoch?: unknown }
    | undefined;
  return typeof state?.epoch === 'number' ? state.epoch : config.epochs;
}

async function loadModel(dir: string): Promise<tf.LayersModel> {
  if (!existsSync(path.join(dir, 'model.json')))
    throw new Error(`${dir}: expected a tfjs model.json, found none`);
  return tf.loadLayersModel(fileLoadHandler(dir));
}

function commandOf(config: RunConfig, options: ExportRunOptions, warmStart: string[] = []): string {
  return (
    [...warmStart, config.command, options.exportCommand].filter((c): c is string => !!c).join(' && ') ||
    'unknown'
  );
}

/** "warm-started from <run> (its checkpoint after epoch N)", or null for a run trained from scratch. */
async function warmStartNote(config: RunConfig): Promise<string | null> {
  if (!config.initFrom) return null;
  const epoch = config.initFromEpoch ?? (await readState(path.join(config.initFrom, 'checkpoint')))?.epoch;
  return `warm-started from ${config.initFrom}${epoch !== undefined ? ` (its checkpoint after epoch ${epoch})` : ''}`;
}

/** The training commands of the runs a run was warm-started from (`--init-from`), oldest first. */
async function warmStartCommands(config: RunConfig): Promise<string[]> {
  const chain: string[] = [];
  let from = config.initFrom;
  while (from) {
    if (chain.length >= 10) throw new Error(`--init-from chain longer than 10 runs at ${from}`);
    const source = await readRunConfig(from);
    chain.unshift(source.command ?? `(training command of ${from} not recorded)`);
    from = source.initFrom;
  }
  return chain;
}

function parityNote(exports: Record<string, CheckedExport>): string {
  const parts = Object.entries(exports).map(([what, e]) => `${what} ${e.parity.worst.toExponential(2)}`);
  const samples = Object.values(exports)[0]?.parity.samples ?? 0;
  return `ONNX vs tfjs max abs difference on ${samples} random inputs: ${parts.join(', ')}`;
}

function single(specs: IOSpec[], role: IOSpec['role'], what: string): IOSpec | null {
  const found = specs.filter((s) => s.role === role);
  if (found.length > 1)
    throw new Error(`${what}: expected at most one ${role} input, got ${found.map((s) => s.name)}`);
  return found[0] ?? null;
}

function imageOf(shape: IOSpec['shape'], what: string): Manifest['image'] {
  const [, height, width, channels] = shape;
  if (shape.length !== 4 || (channels !== 1 && channels !== 3)) {
    throw new Error(`${what}: expected an NHWC image [N, H, W, 1|3], got [${shape}]`);
  }
  return { width: Number(width), height: Number(height), channels };
}

/** Exports a GAN run; returns the written manifest. */
export async function exportGanRun(
  runDir: string,
  outDir: string,
  options: ExportRunOptions = {},
): Promise<Manifest> {
  const config = await readRunConfig(runDir);
  const ckpt = path.join(runDir, 'checkpoint');
  // A run that kept a weight average (--ema-decay) ships the average: it is what the trainer evaluated and drew.
  const averaged = existsSync(path.join(ckpt, AVERAGE_DIR, 'model.json'));
  const generator = await loadModel(path.join(ckpt, averaged ? AVERAGE_DIR : 'generator'));
  const discriminator = await loadModel(path.join(ckpt, 'discriminator'));

  const activation = finalActivation(generator);
  const outputRange = options.outputRange ?? rangeOfActivation(activation);
  if (!outputRange) {
    throw new Error(
      `generator ends in '${activation}', whose range is unbounded: pass --output-range low,high`,
    );
  }
  const g = await exportChecked(generator, path.join(outDir, 'generator.onnx'), options);
  const d = await exportChecked(discriminator, path.join(outDir, 'discriminator.onnx'), options);

  const latent = single(g.converted.inputs, 'data', 'generator');
  if (latent?.shape.length !== 2) throw new Error('generator: expected one float32 [N, latentDim] input');
  const label = single(g.converted.inputs, 'label', 'generator');
  const image = imageOf(g.converted.outputs[0]!.shape, `generator output '${g.converted.outputs[0]!.name}'`);
  const dImage = single(d.converted.inputs, 'data', 'discriminator');
  if (!dImage) throw new Error('discriminator: expected one image input');
  const dLabel = single(d.converted.inputs, 'label', 'discriminator');
  // An ACGAN discriminator has [validity, class scores]: the service wants the [N, 1] validity.
  const validityIndex = d.converted.outputs.findIndex((o) => o.shape.length === 2 && o.shape[1] === 1);
  if (validityIndex < 0) throw new Error('discriminator: expected an [N, 1] validity output');
  const validityActivation = finalActivation(discriminator, validityIndex);
  if (validityActivation !== 'linear' && validityActivation !== 'sigmoid') {
    throw new Error(
      `discriminator validity ends in '${validityActivation}': expected linear (logit) or sigmoid`,
    );
  }
  const numClasses =
    label?.numClasses ?? dLabel?.numClasses ?? (config.conditional ? (config.numClasses ?? null) : null);
  const latentDim = Number(latent.shape[1]);
  if (config.latentDim !== undefined && config.latentDim !== latentDim) {
    throw new Error(`config.json says latentDim ${config.latentDim}, the generator takes ${latentDim}`);
  }
  const name = options.name ?? path.basename(path.resolve(outDir));
  const arch = [
    config.arch,
    config.conditional ? 'conditional (ACGAN)' : null,
    config.latentCode
      ? `unconditional InfoGAN: a ${config.latentCode}-way code read from z (argmax of z[0:${config.latentCode}]), ` +
        (config.codeLabels
          ? "trained with the dataset's labels on the code (semi-supervised: code k draws class k)"
          : 'learned without labels')
      : null,
    config.width ? `width ${config.width}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  const manifest = manifestSchema.parse({
    name,
    title:
      options.title ??
      `${config.dataset} ${config.arch ?? 'GAN'}${config.conditional ? ' (conditional)' : ''}`,
    ...(options.description ? { description: options.description } : {}),
    dataset: config.dataset,
    ...(config.classNames ? { classNames: config.classNames } : {}),
    latentDim,
    image,
    generator: {
      file: 'generator.onnx',
      inputs: [
        { role: 'latent', name: latent.name },
        ...(label ? [{ role: 'class-index', name: label.name, dtype: label.dtype }] : []),
      ],
      output: g.converted.outputs[0]!.name,
      outputRange,
      outputLayout: 'NHWC',
    },
    discriminator: {
      file: 'discriminator.onnx',
      inputs: [
        { role: 'image', name: dImage.name },
        ...(dLabel ? [{ role: 'class-index', name: dLabel.name, dtype: dLabel.dtype }] : []),
      ],
      inputRange: outputRange,
      inputLayout: 'NHWC',
      output: d.converted.outputs[validityIndex]!.name,
      outputKind: validityActivation === 'linear' ? 'logit' : 'probability',
    },
    numClasses,
    latentCode: config.latentCode
      ? { categories: config.latentCode, supervised: config.codeLabels ?? false }
      : null,
    provenance: {
      command: commandOf(config, options, await warmStartCommands(config)),
      trainer: `TensorFlow.js ${config.tfjs ?? tf.version.tfjs}${config.backend ? ` (${config.backend} backend)` : ''}`,
      ...(arch ? { architecture: arch } : {}),
      ...(await epochsOrEmpty(runDir, config)),
      createdAt: new Date().toISOString(),
      quality: await readRunQuality(runDir, options.quality),
      notes: [
        options.notes,
        await warmStartNote(config),
        averaged
          ? `generator weights: exponential moving average (decay ${config.emaDecay ?? 'unknown'}) of the trained generator's`
          : null,
        parityNote({ generator: g, discriminator: d }),
      ]
        .filter(Boolean)
        .join('. '),
    },
  } satisfies z.input<typeof manifestSchema>);
  await writeFile(path.join(outDir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  generator.dispose();
  discriminator.dispose();
  return manifest;
}

async function epochsOrEmpty(runDir: string, config: RunConfig): Promise<{ epochs?: number }> {
  const epochs = await epochsDone(runDir, config);
  return epochs === undefined ? {} : { epochs };
}

/** Where a classifier run keeps its tfjs model: `<run>/checkpoint/classifier`, `<run>/checkpoint` or `<run>`. */
function classifierModelDir(runDir: string): string {
  for (const dir of [
    path.join(runDir, 'checkpoint', 'classifier'),
    path.join(runDir, 'checkpoint'),
    runDir,
  ]) {
    if (existsSync(path.join(dir, 'model.json'))) return dir;
  }
  throw new Error(
    `${runDir}: expected a classifier model.json in checkpoint/classifier/, checkpoint/ or the run folder`,
  );
}

export const CLASSIFIER_OUTPUTS = { probabilities: 'probabilities', features: 'features' } as const;

/** Exports a classifier run with two outputs, class scores and penultimate features; returns the manifest. */
export async function exportClassifierRun(
  runDir: string,
  outDir: string,
  options: ExportRunOptions = {},
): Promise<ClassifierManifest> {
  const config = await readRunConfig(runDir);
  const loaded = await loadModel(classifierModelDir(runDir));
  // The trainer's classifier also outputs its features; the scores output alone is exported, and the features
  // come back as an extra output taken from the final Dense layer's input.
  const model =
    loaded.outputs.length === 2 ? tf.model({ inputs: loaded.inputs, outputs: loaded.outputs[0]! }) : loaded;
  if (model.outputs.length !== 1)
    throw new Error(`classifier: expected one output (or scores and features), got ${loaded.outputs.length}`);
  const activation = finalActivation(model);
  const { layer, featureDim } = penultimateLayer(model);
  // The tfjs output is renamed so that the ONNX names say what they hold.
  const scoresName = activation === 'softmax' ? CLASSIFIER_OUTPUTS.probabilities : 'logits';
  const c = await exportChecked(model, path.join(outDir, 'classifier.onnx'), {
    ...options,
    outputNames: [scoresName],
    extraOutputs: { [CLASSIFIER_OUTPUTS.features]: layer },
  });
  const input = single(c.converted.inputs, 'data', 'classifier');
  if (!input || c.converted.inputs.length !== 1) throw new Error('classifier: expected a single image input');
  const numClasses = Number(c.converted.outputs[0]!.shape[1]);
  const classNames = config.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (classNames.length !== numClasses) {
    throw new Error(
      `config.json lists ${classNames.length} classNames, the classifier outputs ${numClasses} scores`,
    );
  }
  const manifest = classifierManifestSchema.parse({
    kind: 'classifier',
    name: options.name ?? path.basename(path.resolve(outDir)),
    dataset: config.dataset,
    classNames,
    image: imageOf(input.shape, `classifier input '${input.name}'`),
    file: 'classifier.onnx',
    input: input.name,
    inputRange: options.inputRange ?? config.inputRange ?? [-1, 1],
    inputLayout: 'NHWC',
    output: scoresName,
    outputKind: activation === 'softmax' ? 'probabilities' : 'logits',
    features: CLASSIFIER_OUTPUTS.features,
    featureDim,
    ...(existsSync(path.join(outDir, 'reference-stats.json'))
      ? { referenceStats: 'reference-stats.json' }
      : {}),
    provenance: {
      command: commandOf(config, options),
      trainer: `TensorFlow.js ${config.tfjs ?? tf.version.tfjs}${config.backend ? ` (${config.backend} backend)` : ''}`,
      ...(config.arch ? { architecture: config.arch } : {}),
      ...(await epochsOrEmpty(runDir, config)),
      createdAt: new Date().toISOString(),
      quality: {
        ...numbersAndStrings(await readJson(path.join(runDir, 'metrics.json'))),
        ...(await readRunQuality(runDir, options.quality)),
      },
      notes: [options.notes, parityNote({ classifier: c })].filter(Boolean).join('. '),
    },
  } satisfies z.input<typeof classifierManifestSchema>);
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'classifier.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  model.dispose();
  return manifest;
}
