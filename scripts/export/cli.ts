/**
 * Exports a training run to ONNX plus the manifest the service reads, refusing any file whose outputs differ from
 * tfjs by more than 1e-4.
 *
 *   npm run export -- runs/mnist-dcgan models/mnist-dcgan [--title "MNIST DCGAN"] [--name mnist-dcgan]
 *     [--description ...] [--quality klToUniform=0.02 --quality meanConfidence=0.95] [--notes ...]
 *     [--output-range -1,1] [--form fast|plain|depth-to-space] [--samples 256]
 *   npm run export -- runs/mnist-classifier models/mnist --classifier [--name mnist-classifier]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ConvertOptions } from '../../trainer/export/convert.ts';
import { type ExportRunOptions, exportClassifierRun, exportGanRun } from '../../trainer/export/run-export.ts';
import { initTf } from '../../trainer/tfjs/backend.ts';
import { commandLine } from '../command-line.ts';

const FORMS: Record<string, ConvertOptions> = {
  fast: {},
  plain: { foldBatchNorm: false, layout: 'nhwc', convTranspose: 'native' },
  'depth-to-space': { convTranspose: 'depthToSpace' },
};

function parseRange(flag: string, value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map(Number);
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[0]! >= parts[1]!) {
    throw new Error(`--${flag}: expected low,high with low < high, got ${value}`);
  }
  return [parts[0]!, parts[1]!];
}

function parseQuality(items: string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--quality: expected key=value, got ${item}`);
    const value = item.slice(eq + 1);
    out[item.slice(0, eq)] = value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      classifier: { type: 'boolean', default: false },
      name: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      notes: { type: 'string' },
      quality: { type: 'string', multiple: true, default: [] },
      'output-range': { type: 'string' },
      'input-range': { type: 'string' },
      form: { type: 'string', default: 'fast' },
      samples: { type: 'string', default: '256' },
    },
  });
  const [runDir, outDir] = positionals;
  if (!runDir || !outDir || positionals.length !== 2) {
    throw new Error(
      `expected <run-dir> <out-dir> (e.g. runs/mnist-dcgan models/mnist-dcgan), got ${positionals.length} arguments`,
    );
  }
  const form = FORMS[values.form!];
  if (!form) throw new Error(`--form: expected ${Object.keys(FORMS).join(', ')}, got ${values.form}`);
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 1)
    throw new Error(`--samples: expected a positive integer, got ${values.samples}`);
  const options: ExportRunOptions = {
    ...form,
    samples,
    name: values.name,
    title: values.title,
    description: values.description,
    notes: values.notes,
    quality: parseQuality(values.quality!),
    outputRange: parseRange('output-range', values['output-range']),
    inputRange: parseRange('input-range', values['input-range']),
    exportCommand: commandLine('npm run export --', argv),
  };
  const tf = await initTf();
  console.log(`exporting ${runDir} → ${outDir} (tfjs ${tf.getBackend()} backend, form ${values.form})`);
  if (values.classifier) {
    const m = await exportClassifierRun(runDir, outDir, options);
    console.log(
      `wrote ${path.join(outDir, m.file)} and classifier.json: ${m.classNames.length} classes, ${m.featureDim} features`,
    );
    if (m.provenance?.notes) console.log(m.provenance.notes);
  } else {
    const m = await exportGanRun(runDir, outDir, options);
    console.log(
      `wrote ${path.join(outDir, 'generator.onnx')}, discriminator.onnx and model.json: '${m.name}', latent ${m.latentDim}` +
        `${m.numClasses ? `, ${m.numClasses} classes` : ''}`,
    );
    if (m.provenance?.notes) console.log(m.provenance.notes);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`export failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
