/**
 * `npm run export`: a training run to ONNX plus the manifest the service reads, refusing any file whose outputs
 * differ from tfjs by more than 1e-4. `npm run export -- --help` lists the flags; the exporter is trainer/export/.
 */
import path from 'node:path';
import { z } from 'zod';
import type { ConvertOptions } from '../../trainer/export/convert.ts';
import { type ExportRunOptions, exportClassifierRun, exportGanRun } from '../../trainer/export/run-export.ts';
import { initTf } from '../../trainer/tfjs/backend.ts';
import { type CliSpec, isMain, runCli, toArgv } from '../cli-args.ts';
import { commandLine } from '../command-line.ts';

const COMMAND = 'npm run export --';

/** Exporter forms: how convolutions and layouts are written (docs/export.md compares them). */
export const FORMS = {
  fast: {},
  plain: { foldBatchNorm: false, layout: 'nhwc', convTranspose: 'native' },
  'depth-to-space': { convTranspose: 'depthToSpace' },
} as const satisfies Record<string, ConvertOptions>;

/** `low,high` with low < high, or null. */
function parseRange(text: string): [number, number] | null {
  const parts = text.split(',').map(Number);
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[0]! >= parts[1]!) return null;
  return [parts[0]!, parts[1]!];
}

const range = z.string().superRefine((text, ctx) => {
  if (!parseRange(text))
    ctx.addIssue({ code: 'custom', message: `expected low,high with low < high, got ${text}` });
});

/** `key=value` items → a record; values that read as numbers become numbers. */
function parseQuality(items: readonly string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const value = item.slice(eq + 1);
    out[item.slice(0, eq)] = value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out;
}

const qualityItem = z.string().superRefine((item, ctx) => {
  if (item.indexOf('=') <= 0) ctx.addIssue({ code: 'custom', message: `expected key=value, got ${item}` });
});

const flags = z.object({
  runDir: z.string().min(1).describe('the training run, e.g. runs/mnist-dcgan'),
  outDir: z.string().min(1).describe('the model folder to write, e.g. models/mnist-dcgan'),
  classifier: z.boolean().default(false).describe('the run is a classifier (npm run train:classifier)'),
  name: z.string().min(1).optional().describe("the manifest's name (default: the model folder's name)"),
  title: z.string().optional().describe('a title for people'),
  description: z.string().optional().describe('what the model is'),
  notes: z.string().optional().describe('notes kept in the provenance'),
  quality: z
    .array(qualityItem)
    .default([])
    .describe('a quality figure key=value, overriding those read from the run'),
  outputRange: range
    .optional()
    .describe("the generator's output range low,high when its activation leaves it open"),
  inputRange: range
    .optional()
    .describe("a classifier's input range low,high (default: the run's, else -1,1)"),
  form: z.enum(['fast', 'plain', 'depth-to-space']).default('fast').describe('how the graph is written'),
  samples: z.number().int().min(1).max(100_000).default(256).describe('random inputs of the parity check'),
});

export type ExportOptions = z.input<typeof flags>;

export const exportCli: CliSpec<typeof flags> = {
  command: COMMAND,
  description:
    'Exports a training run to ONNX and the manifest the service reads (GAN: generator.onnx, discriminator.onnx,\n' +
    'model.json; classifier: classifier.onnx, classifier.json). A file is written only when its outputs match\n' +
    'tfjs within 1e-4 on random inputs.',
  flags,
  positionals: ['runDir', 'outDir'],
  examples: [
    `${COMMAND} runs/mnist-dcgan models/mnist-dcgan --title "MNIST DCGAN" --quality klToUniform=0.02`,
    `${COMMAND} runs/mnist-classifier models/mnist --classifier --name mnist-classifier`,
  ],
};

/** Exports as the flags say. `argv`, when the options came from a command line, is recorded in provenance. */
export async function run(
  options: ExportOptions,
  context: { argv?: readonly string[]; log?: (line: string) => void } = {},
): Promise<void> {
  const o = flags.parse(options);
  const log = context.log ?? ((line: string) => console.log(line));
  const exportOptions: ExportRunOptions = {
    ...FORMS[o.form],
    samples: o.samples,
    name: o.name,
    title: o.title,
    description: o.description,
    notes: o.notes,
    quality: parseQuality(o.quality),
    outputRange: o.outputRange === undefined ? undefined : (parseRange(o.outputRange) ?? undefined),
    inputRange: o.inputRange === undefined ? undefined : (parseRange(o.inputRange) ?? undefined),
    exportCommand: commandLine(COMMAND, context.argv ?? toArgv(exportCli, options)),
  };
  const tf = await initTf();
  log(`exporting ${o.runDir} → ${o.outDir} (tfjs ${tf.getBackend()} backend, form ${o.form})`);
  if (o.classifier) {
    const m = await exportClassifierRun(o.runDir, o.outDir, exportOptions);
    log(
      `wrote ${path.join(o.outDir, m.file)} and classifier.json: ${m.classNames.length} classes, ${m.featureDim} features`,
    );
    if (m.provenance?.notes) log(m.provenance.notes);
  } else {
    const m = await exportGanRun(o.runDir, o.outDir, exportOptions);
    log(
      `wrote ${path.join(o.outDir, 'generator.onnx')}, discriminator.onnx and model.json: '${m.name}', latent ${m.latentDim}` +
        `${m.numClasses ? `, ${m.numClasses} classes` : ''}`,
    );
    if (m.provenance?.notes) log(m.provenance.notes);
  }
}

if (isMain(import.meta.url)) {
  await runCli(exportCli, process.argv.slice(2), (o, argv) => run(o, { argv }));
}
