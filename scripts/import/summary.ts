/**
 * What an import inferred, as the lines the CLI prints: each network's inputs (name → role, shape, dtype, and why),
 * its output, the image size, layout and range with the evidence, and the guesses the user should check.
 */
import path from 'node:path';
import { type InputSpec, type Manifest, truncationMode } from '../../src/models/manifest.ts';
import type { Measured } from './infer.ts';
import { formatShape } from './inspect.ts';
import type { Guess, ModelPlan, NetworkPlan } from './types.ts';

function detail(spec: InputSpec, numClasses: number | null): string {
  switch (spec.role) {
    case 'class-onehot':
    case 'class-index':
      return `, ${numClasses} classes`;
    case 'truncation':
      return `, default ψ ${spec.default}`;
    case 'constant':
      return `, value ${spec.value}`;
    case 'noise':
      return `, seed ${spec.seed}`;
    default:
      return '';
  }
}

function networkLines(
  net: NetworkPlan,
  file: string,
  source: string,
  numClasses: number | null,
  output: string,
): string[] {
  const width = Math.max(...net.inputs.map((i) => i.spec.name.length), net.output.name.length);
  const lines = [`${net.role}: ${file} (from ${path.basename(source)})`];
  for (const { spec, signature, reason } of net.inputs)
    lines.push(
      `  input  ${spec.name.padEnd(width)} → ${spec.role.padEnd(12)} ${formatShape(signature.shape)} ${signature.dtype}` +
        `${detail(spec, numClasses)} (${reason})`,
    );
  lines.push(`  output ${net.output.name.padEnd(width)} → ${output}`);
  return lines;
}

export function formatGuess(g: Guess): string {
  return `${g.network}${g.tensor ? ` '${g.tensor}'` : ''}: ${g.message}`;
}

export interface SummaryInput {
  plan: ModelPlan;
  manifest: Manifest;
  guesses: Guess[];
  measured: Measured;
  dir: string;
  sources: { generator: string; mapping?: string; discriminator?: string };
}

export function summarize(s: SummaryInput): string[] {
  const { plan, manifest: m, measured } = s;
  const files = ['generator.onnx'];
  if (m.mapping) files.unshift('mapping.onnx');
  if (m.discriminator) files.push('discriminator.onnx');
  if (m.mapping?.wAvg) files.push(m.mapping.wAvg);
  const lines = [`imported '${m.name}' into ${s.dir}: ${[...files, 'model.json'].join(', ')}`];
  if (plan.mapping && m.mapping && s.sources.mapping) {
    const w = plan.mapping.output;
    lines.push(
      ...networkLines(
        plan.mapping,
        'mapping.onnx',
        s.sources.mapping,
        m.numClasses,
        `w ${formatShape(w.shape)} ${w.dtype}`,
      ),
    );
  }
  const { image, layout, evidence } = measured.image;
  const r = measured.range;
  const range =
    `range [${r.range.join(', ')}] (${r.source}; ${plan.generator.role} output spans [${r.min.toFixed(3)}, ${r.max.toFixed(3)}], ` +
    `${(r.coverage * 100).toFixed(1)}% inside)`;
  const imageText = `image ${image.width}×${image.height}, ${image.channels} channel${image.channels === 1 ? '' : 's'}, ${layout} (${evidence}); ${range}`;
  lines.push(...networkLines(plan.generator, 'generator.onnx', s.sources.generator, m.numClasses, imageText));
  if (plan.discriminator && m.discriminator && measured.discriminator && s.sources.discriminator) {
    const k = measured.discriminator.score;
    const score = `${k.kind} (${k.source}; scores on the generated images span [${k.min.toFixed(3)}, ${k.max.toFixed(3)}]), reads ${m.discriminator.inputLayout} in [${m.discriminator.inputRange.join(', ')}]`;
    lines.push(
      ...networkLines(plan.discriminator, 'discriminator.onnx', s.sources.discriminator, m.numClasses, score),
    );
  }
  const truncation = {
    w: `on w (w_avg ${m.mapping?.wAvg ? `from ${m.mapping.wAvg}` : 'estimated at load'})`,
    input: 'fed to the truncation input',
    z: 'scales z',
  }[truncationMode(m)];
  lines.push(
    `model: latentDim ${m.latentDim}, ${m.numClasses === null ? 'unconditional' : `${m.numClasses} classes`}, truncation ${truncation}${m.default ? ', default model' : ''}`,
  );
  if (s.guesses.length > 0) lines.push('guesses to check:', ...s.guesses.map((g) => `  - ${formatGuess(g)}`));
  return lines;
}
