/**
 * Compare a loaded session's inputs and outputs with what the manifest promises. Pure: returns the mismatches as
 * sentences that name the tensor and both values (`latentDim is 100 but generator input 'z' has 64`).
 */
import type { SessionInfo, ValueInfo } from '../inference/protocol.ts';
import { type ClassifierManifest, imageRowDims, type Manifest } from './manifest.ts';

const isDynamic = (d: number | string | undefined) => typeof d === 'string' || d === -1 || d === undefined;

function find(list: ValueInfo[], name: string, what: string, problems: string[]): ValueInfo | undefined {
  const v = list.find((x) => x.name === name);
  if (!v)
    problems.push(`${what} '${name}' not found (has ${list.map((x) => `'${x.name}'`).join(', ') || 'none'})`);
  return v;
}

function checkBatchAxis(v: ValueInfo, what: string, problems: string[]) {
  if (v.shape && v.shape.length > 0 && !isDynamic(v.shape[0])) {
    problems.push(`${what} '${v.name}' has a fixed batch axis (${v.shape[0]}); a dynamic one is required`);
  }
}

function checkShape(
  v: ValueInfo,
  expected: number[],
  what: string,
  manifestWhat: string,
  problems: string[],
) {
  if (!v.shape) {
    problems.push(`${what} '${v.name}' is not a tensor`);
    return;
  }
  const actual = v.shape.slice(1);
  if (actual.length !== expected.length) {
    problems.push(
      `${manifestWhat} needs rank ${expected.length + 1} but ${what} '${v.name}' has rank ${v.shape.length}`,
    );
    return;
  }
  expected.forEach((e, i) => {
    const a = actual[i];
    if (!isDynamic(a) && a !== e) {
      problems.push(`${manifestWhat} is ${e} but ${what} '${v.name}' has ${a} (dimension ${i + 1})`);
    }
  });
  checkBatchAxis(v, what, problems);
}

function checkLabel(
  info: SessionInfo,
  labelInput: string | null,
  labelDtype: string,
  numClasses: number | null,
  what: string,
  problems: string[],
) {
  if (labelInput === null) return;
  if (numClasses === null) problems.push(`${what} has label input '${labelInput}' but numClasses is null`);
  const v = find(info.inputs, labelInput, `${what} input`, problems);
  if (v && v.type !== labelDtype)
    problems.push(`labelDtype is ${labelDtype} but ${what} input '${v.name}' is ${v.type}`);
  if (v?.shape && (v.shape.length < 1 || v.shape.length > 2)) {
    problems.push(`${what} input '${v.name}' must be [N] or [N, 1], has rank ${v.shape.length}`);
  }
}

function checkExtraInputs(info: SessionInfo, known: Array<string | null>, what: string, problems: string[]) {
  for (const input of info.inputs) {
    if (!known.includes(input.name))
      problems.push(`${what} input '${input.name}' is not named in the manifest`);
  }
}

export function checkGenerator(m: Manifest, info: SessionInfo): string[] {
  const problems: string[] = [];
  const g = m.generator;
  const z = find(info.inputs, g.latentInput, 'generator input', problems);
  if (z?.shape) {
    const dim = z.shape[1];
    if (z.shape.length !== 2)
      problems.push(`generator input '${z.name}' must be [N, latentDim], has rank ${z.shape.length}`);
    else if (!isDynamic(dim) && dim !== m.latentDim)
      problems.push(`latentDim is ${m.latentDim} but generator input '${z.name}' has ${dim}`);
    checkBatchAxis(z, 'generator input', problems);
    if (z.type !== 'float32') problems.push(`generator input '${z.name}' must be float32, is ${z.type}`);
  }
  if (m.numClasses !== null && g.labelInput === null) {
    problems.push(`numClasses is ${m.numClasses} but the manifest names no generator.labelInput`);
  }
  checkLabel(info, g.labelInput, g.labelDtype, m.numClasses, 'generator', problems);
  checkExtraInputs(info, [g.latentInput, g.labelInput], 'generator', problems);
  const out = find(info.outputs, g.output, 'generator output', problems);
  if (out) checkShape(out, imageRowDims(g.outputLayout, m.image), 'generator output', 'image', problems);
  return problems;
}

export function checkDiscriminator(m: Manifest, info: SessionInfo): string[] {
  const problems: string[] = [];
  const d = m.discriminator;
  const x = find(info.inputs, d.input, 'discriminator input', problems);
  if (x) checkShape(x, imageRowDims(d.inputLayout, m.image), 'discriminator input', 'image', problems);
  checkLabel(info, d.labelInput, d.labelDtype, m.numClasses, 'discriminator', problems);
  checkExtraInputs(info, [d.input, d.labelInput], 'discriminator', problems);
  const out = find(info.outputs, d.output, 'discriminator output', problems);
  if (out?.shape) {
    const rest = out.shape.slice(1);
    if (rest.length > 1 || (rest.length === 1 && !isDynamic(rest[0]) && rest[0] !== 1)) {
      problems.push(
        `discriminator output '${out.name}' must be [N] or [N, 1], has [${out.shape.join(', ')}]`,
      );
    }
  }
  return problems;
}

export function checkClassifier(m: ClassifierManifest, info: SessionInfo): string[] {
  const problems: string[] = [];
  const x = find(info.inputs, m.input, 'classifier input', problems);
  if (x) checkShape(x, imageRowDims(m.inputLayout, m.image), 'classifier input', 'image', problems);
  checkExtraInputs(info, [m.input], 'classifier', problems);
  const out = find(info.outputs, m.output, 'classifier output', problems);
  if (out) checkShape(out, [m.classNames.length], 'classifier output', 'classNames.length', problems);
  const feats = find(info.outputs, m.features, 'classifier output', problems);
  if (feats) checkShape(feats, [m.featureDim], 'classifier output', 'featureDim', problems);
  return problems;
}
