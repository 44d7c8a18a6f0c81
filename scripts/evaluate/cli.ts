/**
 * Mode-collapse diagnostics from the command line, with the service's own runtime (onnxruntime, same batching)
 * and no HTTP. Prints a table and writes report.json, grid.png (one row per predicted class) and histogram.png.
 *
 *   npm run evaluate -- --model mnist-dcgan [--models-dir models] [--samples 10000] [--seed 0] [--truncation 1]
 *                       [--rejection drs|top-k [--oversample 4] [--gamma γ]] [--out <dir>] [--record]
 *   npm run evaluate -- --run runs/mnist-dcgan [--samples 2000] [--out <dir>]   (exports to a temp folder first)
 *   npm run evaluate -- --reference --classifier models/mnist-classifier        (reference statistics, once)
 *
 * `--out` defaults to reports/<model> (or <run>/eval). The dataset classifier is taken from --models-dir by the
 * model's dataset; its reference statistics (from --reference) enable the Fréchet distance, precision/recall,
 * the real floor and the discriminator's real-vs-fake balance. `--rejection` judges the samples /generate gives with
 * that `rejection` option (sample i is the candidate kept for seed seed + i), so its effect shows in the same figures.
 * `--help` lists every flag.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { classGridPng, histogramPng } from '../../src/diagnostics/pictures.ts';
import {
  DEFAULT_SAMPLES,
  type DiagnosticsReport,
  type DiagnosticsResult,
  MAX_SAMPLES,
  MIN_SAMPLES,
  runDiagnostics,
} from '../../src/diagnostics/run.ts';
import { ModelRuntime } from '../../src/inference/runtime.ts';
import { MAX_SEED } from '../../src/latent/random-state.ts';
import { Metrics } from '../../src/prometheus.ts';
import {
  GAMMA_LIMIT,
  OVERSAMPLE_LIMIT,
  REJECTION_METHODS,
  type RejectionOptions,
  rejectionSchema,
} from '../../src/schemas/rejection.ts';
import { loadDataset } from '../../trainer/data/datasets.ts';
import { type CliSpec, isMain, runCli, toArgv } from '../cli-args.ts';
import { commandLine } from '../command-line.ts';
import { onnxClassifier, readClassifierManifest, referenceFromImages, writeReference } from './reference.ts';

export const evaluateFlags = z
  .object({
    model: z.string().min(1).optional().describe('the model folder under --models-dir to evaluate'),
    run: z
      .string()
      .min(1)
      .optional()
      .describe('a training run folder: exported to ONNX in a temp folder, then evaluated'),
    reference: z
      .boolean()
      .default(false)
      .describe("build the reference statistics of --classifier's dataset (once per classifier)"),
    classifier: z.string().min(1).optional().describe('the classifier folder (with --reference)'),
    modelsDir: z
      .string()
      .min(1)
      .default('models')
      .describe('the model repository; the classifiers that judge are taken from it'),
    samples: z
      .number()
      .int()
      .min(MIN_SAMPLES)
      .max(MAX_SAMPLES)
      .default(DEFAULT_SAMPLES)
      .describe('samples generated and judged'),
    seed: z
      .number()
      .int()
      .min(0)
      .max(MAX_SEED)
      .default(0)
      .describe('the first seed: samples are seed, seed + 1, …'),
    truncation: z.number().gt(0).max(1).default(1).describe('the truncation ψ in (0, 1]'),
    rejection: z
      .enum(REJECTION_METHODS)
      .optional()
      .describe(
        "judge /generate's samples with this rejection option (the discriminator keeps the most real)",
      ),
    oversample: z
      .number()
      .int()
      .min(1)
      .max(OVERSAMPLE_LIMIT)
      .optional()
      .describe('candidates per sample, with --rejection (default 4)'),
    gamma: z
      .number()
      .min(-GAMMA_LIMIT)
      .max(GAMMA_LIMIT)
      .optional()
      .describe("drs's shift γ, with --rejection drs (negative: --gamma=-1); default: calibrated"),
    out: z.string().min(1).optional().describe('the report folder (default: reports/<model>, or <run>/eval)'),
    record: z
      .boolean()
      .default(false)
      .describe("write the figures into the model's model.json (provenance.quality)"),
  })
  .superRefine((o, ctx) => {
    const fail = (flag: string, message: string) => ctx.addIssue({ code: 'custom', path: [flag], message });
    if (o.reference) {
      if (!o.classifier) fail('classifier', '--reference needs --classifier <folder with classifier.json>');
      return;
    }
    if (!o.model === !o.run) fail('model', 'expected one of --model <name> or --run <run folder>');
    if (o.rejection === undefined) {
      if (o.oversample !== undefined) fail('oversample', `needs --rejection ${REJECTION_METHODS.join('|')}`);
      if (o.gamma !== undefined) fail('gamma', 'needs --rejection drs');
    } else if (o.gamma !== undefined && o.rejection !== 'drs') {
      fail('gamma', 'applies to --rejection drs only');
    }
    if (o.record) {
      // A model's recorded quality is what /generate gives by default: no truncation, no rejection.
      if (!o.model) fail('record', 'records into a model folder: give --model');
      if (o.truncation !== 1)
        fail('record', 'the recorded figures are at truncation 1; drop --record or --truncation');
      if (o.rejection)
        fail('record', 'the recorded figures are of plain samples; drop --record or --rejection');
    }
  });

export type EvaluateOptions = z.output<typeof evaluateFlags>;

export const cli: CliSpec<typeof evaluateFlags> = {
  command: 'npm run evaluate --',
  description:
    "Mode-collapse diagnostics with the service's own runtime and no HTTP: prints a table and writes report.json, " +
    'grid.png (one row per predicted class) and histogram.png.',
  flags: evaluateFlags,
  examples: [
    'npm run evaluate -- --model mnist-dcgan --samples 10000',
    'npm run evaluate -- --model mnist-dcgan --rejection drs --oversample 4',
    'npm run evaluate -- --run runs/mnist-dcgan --samples 2000',
    'npm run evaluate -- --reference --classifier models/mnist-classifier',
  ],
};

const GRID_PER_CLASS = 16;
const GRID_SCALE = 2;
/** Rows per inference call: bigger than the service default, nothing else competes here. */
const BATCH = 256;

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits);

/** The figures as a table: metric, value, real floor. */
export function reportTable(r: DiagnosticsReport): string {
  const f = r.floor;
  const rows: Array<[string, string, string]> = [
    ['samples', String(r.samples), f ? String(f.samples) : '-'],
    [
      'modes covered',
      `${r.modesCovered}/${r.classNames.length}`,
      f ? `${f.modesCovered}/${r.classNames.length}` : '-',
    ],
    ['KL(hist ‖ uniform)', fmt(r.klToUniform), fmt(f?.klToUniform)],
    ['mean confidence', fmt(r.meanConfidence), fmt(f?.meanConfidence)],
    ['Fréchet distance', fmt(r.frechetDistance, 2), fmt(f?.frechetDistance, 2)],
    ['precision (k=3)', fmt(r.precision), fmt(f?.precision)],
    ['recall (k=3)', fmt(r.recall), fmt(f?.recall)],
    ['mean D(x) real', fmt(r.discriminator?.meanRealScore), ''],
    ['mean D(G(z))', fmt(r.discriminator?.meanFakeScore), ''],
    ['D real-vs-fake AUC', fmt(r.discriminator?.auc), ''],
  ];
  if (r.labelAgreement) rows.push(['label agreement', fmt(r.labelAgreement.overall), '']);
  if (r.code) rows.push(['code purity', fmt(r.code.purity), '']);
  if (r.code?.agreement != null) rows.push(['class = code', fmt(r.code.agreement), '']);
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(5, ...rows.map((x) => x[1].length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`;
  const hist = r.classNames
    .map((name, c) => `${name}: ${(r.histogram.shares[c]! * 100).toFixed(1)}%`)
    .join(', ');
  return [
    `${r.model} (${r.dataset}), judged by ${r.classifier}; seeds ${r.seed}..${r.seed + r.samples - 1}` +
      (r.truncation === 1 ? '' : `, truncation ψ ${r.truncation}`) +
      rejectionNote(r),
    line('metric', 'value', 'real floor'),
    ...rows.map(([a, b, c]) => line(a, b, c)),
    `histogram: ${hist}`,
    unclearLine(r),
    ...(r.referenceProblem ? [`note: ${r.referenceProblem}`] : []),
    `verdict: ${r.verdict.summary}`,
    ...r.verdict.findings.map((x) => `  - ${x}`),
  ].join('\n');
}

/** ", rejection drs ×4 (γ 1.23, D*max 4.56; 31,234 candidates, 62% accepted by draw)", or nothing. */
function rejectionNote(r: DiagnosticsReport): string {
  const j = r.rejection;
  if (!j) return '';
  const drs =
    j.gamma !== null && j.maxLogit !== null
      ? `γ ${j.gamma.toFixed(3)}, D*max ${j.maxLogit.toFixed(3)}; `
      : '';
  const drawn =
    j.acceptedByDraw === null
      ? ''
      : `, ${((j.acceptedByDraw / r.samples) * 100).toFixed(1)}% accepted by draw`;
  return `, rejection ${j.method} ×${j.oversample} (${drs}${j.candidates} candidates${drawn})`;
}

/** "unclear (confidence < 0.9): 35.4% of samples, top two 0.913 on average; commonest blends 3/5 2.1%, …". */
function unclearLine(r: DiagnosticsReport): string {
  const u = r.unclear;
  const pairs = u.pairs
    .map((p) => `${r.classNames[p.classes[0]]}/${r.classNames[p.classes[1]]} ${(p.share * 100).toFixed(1)}%`)
    .join(', ');
  return (
    `unclear (confidence < ${u.threshold}): ${(u.share * 100).toFixed(1)}% of samples, top two ${u.meanTopTwo.toFixed(3)} on average` +
    (pairs ? `; commonest blends ${pairs}` : '')
  );
}

/** Writes report.json, grid.png and histogram.png into `out`. */
export async function writeReport(result: DiagnosticsResult, out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const r = result.report;
  await writeFile(path.join(out, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  const perImage = result.image.width * result.image.height * result.image.channels;
  await writeFile(
    path.join(out, 'grid.png'),
    await classGridPng({
      examples: result.examples.map((e) => e.subarray(0, Math.min(e.length, GRID_PER_CLASS * perImage))),
      counts: r.histogram.counts,
      classNames: r.classNames,
      ...result.image,
      perClass: GRID_PER_CLASS,
      scale: GRID_SCALE,
    }),
  );
  await writeFile(
    path.join(out, 'histogram.png'),
    await histogramPng({
      counts: r.histogram.counts,
      classNames: r.classNames,
      title: `${r.model}: ${r.samples} samples from seed ${r.seed}${r.rejection ? ` (${r.rejection.method} ×${r.rejection.oversample})` : ''}, judged by ${r.classifier}`,
      subtitle: r.verdict.summary,
      collapsed: r.verdict.collapsed,
    }),
  );
}

/** Classifier folders of `modelsDir` for `dataset`. */
async function classifierDirs(modelsDir: string, dataset: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(modelsDir, { withFileTypes: true })) {
    const file = path.join(modelsDir, d.name, 'classifier.json');
    if (!d.isDirectory() || !existsSync(file)) continue;
    const m = JSON.parse(await readFile(file, 'utf8')) as { dataset?: string };
    if (m.dataset === dataset) out.push(path.join(modelsDir, d.name));
  }
  return out;
}

/**
 * Runs diagnostics on one model folder with the service runtime, over a temp models folder holding only that
 * model and its dataset's classifiers (so nothing else is loaded).
 */
export async function evaluateModelDir(
  modelDir: string,
  classifiersFrom: string,
  samples: number,
  seed: number,
  truncation = 1,
  rejection?: RejectionOptions,
): Promise<DiagnosticsResult> {
  const manifest = JSON.parse(await readFile(path.join(modelDir, 'model.json'), 'utf8')) as {
    name: string;
    dataset: string;
  };
  const tmp = await mkdtemp(path.join(tmpdir(), 'gan-evaluate-'));
  const log = Fastify({ logger: { level: 'warn' } }).log;
  let runtime: ModelRuntime | null = null;
  try {
    await cp(modelDir, path.join(tmp, manifest.name), { recursive: true });
    const classifiers = await classifierDirs(classifiersFrom, manifest.dataset);
    if (classifiers.length === 0) {
      throw new Error(
        `${classifiersFrom}: no classifier for dataset '${manifest.dataset}' (export one: npm run export -- runs/${manifest.dataset}-classifier ${classifiersFrom}/${manifest.dataset}-classifier --classifier)`,
      );
    }
    for (const c of classifiers) await cp(c, path.join(tmp, path.basename(c)), { recursive: true });
    const config = loadConfig({
      GAN_MODELS_DIR: tmp,
      GAN_LOG_LEVEL: 'warn',
      GAN_EXECUTION_PROVIDERS: 'cpu',
      GAN_MAX_BATCH: String(BATCH),
      GAN_REQUEST_TIMEOUT_MS: '600000',
    });
    runtime = new ModelRuntime(config, log, new Metrics());
    await runtime.scan();
    await runtime.start();
    return await runDiagnostics(runtime, runtime.model(manifest.name), {
      samples,
      seed,
      truncation,
      chunk: BATCH,
      ...(rejection ? { rejection } : {}),
    });
  } finally {
    await runtime?.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Exports a trainer run to ONNX (the project's exporter, as its CLI) in a temp folder. @returns the model folder */
async function exportRun(runDir: string, into: string): Promise<string> {
  const name = path
    .basename(path.resolve(runDir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-');
  const out = path.join(into, name);
  const tsx = path.join('node_modules', '.bin', 'tsx');
  const res = spawnSync(tsx, ['scripts/export/cli.ts', runDir, out], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error(`export of ${runDir} failed (exit ${res.status})`);
  return out;
}

async function buildReference(classifierDir: string, command: string): Promise<void> {
  const manifest = await readClassifierManifest(classifierDir);
  if (manifest.dataset !== 'mnist' && manifest.dataset !== 'fashion-mnist') {
    throw new Error(`${classifierDir}: dataset '${manifest.dataset}' has no loader in scripts/data`);
  }
  const test = await loadDataset(manifest.dataset, 'test');
  const { classify, release } = await onnxClassifier(classifierDir, manifest);
  try {
    const built = await referenceFromImages(
      manifest,
      { images: test.images, labels: test.labels, count: test.count, source: `${manifest.dataset} test` },
      classify,
      command,
    );
    const file = await writeReference(classifierDir, built);
    console.log(`wrote ${file} (+ features, held-out images); classifier.json points at it`);
    console.log(`reference ${built.json.split.reference}, held out ${built.json.split.heldOut}`);
    for (const f of built.json.floor) {
      console.log(
        `floor at ${String(f.samples).padStart(5)}: Fréchet ${f.frechetDistance.toFixed(2)} precision ${f.precision.toFixed(3)} recall ${f.recall.toFixed(3)} KL ${f.klToUniform.toFixed(4)} modes ${f.modesCovered} confidence ${f.meanConfidence.toFixed(3)}`,
      );
    }
  } finally {
    await release();
  }
}

/**
 * Evaluates a model (or a training run) as the flags say, prints the table and writes the report folder; with
 * `reference`, builds a classifier's reference statistics instead.
 * @param argv the command line it was run with, recorded as provenance (default: the flags that give `o`)
 */
export async function run(o: EvaluateOptions, argv?: readonly string[]): Promise<DiagnosticsResult | null> {
  const command = commandLine(cli.command, argv ?? toArgv(cli, o));
  if (o.reference) {
    await buildReference(o.classifier!, command);
    return null;
  }
  const { samples, seed, truncation } = o;
  const rejection =
    o.rejection === undefined
      ? undefined
      : rejectionSchema.parse({
          method: o.rejection,
          ...(o.oversample !== undefined ? { oversample: o.oversample } : {}),
          ...(o.gamma !== undefined ? { gamma: o.gamma } : {}),
        });
  const modelsDir = o.modelsDir;
  let result: DiagnosticsResult;
  let out: string;
  if (o.model) {
    const dir = path.join(modelsDir, o.model);
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`--model: ${dir}/model.json not found`);
    result = await evaluateModelDir(dir, modelsDir, samples, seed, truncation, rejection);
    out = o.out ?? path.join('reports', o.model);
  } else {
    const tmp = await mkdtemp(path.join(tmpdir(), 'gan-export-'));
    try {
      const dir = await exportRun(o.run!, tmp);
      result = await evaluateModelDir(dir, modelsDir, samples, seed, truncation, rejection);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    out = o.out ?? path.join(o.run!, 'eval');
  }
  console.log(reportTable(result.report));
  await writeReport(result, out);
  if (o.record && o.model) {
    const file = path.join(modelsDir, o.model, 'model.json');
    await recordQuality(file, result.report, command);
    console.log(`recorded the figures in ${file} (provenance.quality)`);
  }
  console.log(
    `wrote ${path.join(out, 'report.json')}, grid.png, histogram.png (${result.report.seconds.toFixed(1)} s)`,
  );
  return result;
}

/** Write the measured figures into a model's manifest (`--record`), so /v1/models and the README show them. */
async function recordQuality(file: string, report: DiagnosticsReport, command: string): Promise<void> {
  const manifest = JSON.parse(await readFile(file, 'utf8')) as {
    provenance: { quality: Record<string, unknown> };
  };
  // Code figures are set only where they apply: drop any a previous evaluation left.
  const { codePurity: _purity, codeAgreement: _agreement, ...earlier } = manifest.provenance.quality;
  manifest.provenance.quality = {
    ...earlier,
    evaluatedWith: command,
    evaluatedAt: new Date().toISOString(),
    samples: report.samples,
    modesCovered: report.modesCovered,
    klToUniform: round(report.klToUniform),
    meanConfidence: round(report.meanConfidence),
    labelAgreement: report.labelAgreement ? round(report.labelAgreement.overall) : null,
    ...(report.code
      ? {
          codePurity: round(report.code.purity),
          ...(report.code.agreement !== null ? { codeAgreement: round(report.code.agreement) } : {}),
        }
      : {}),
    frechetDistance: report.frechetDistance === null ? null : round(report.frechetDistance),
    precision: report.precision,
    recall: report.recall,
    discriminatorAuc: report.discriminator ? round(report.discriminator.auc) : null,
    verdict: report.verdict.summary,
  };
  await writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
