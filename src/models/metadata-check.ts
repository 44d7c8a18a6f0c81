/**
 * Compare a loaded session's inputs and outputs with what the manifest promises, role by role, and resolve what the
 * manifest leaves to the network (the rank of a class-index input, the w shape a mapping network gives). Pure:
 * returns the mismatches as sentences that name the tensor and both values (`latentDim is 100 but generator input
 * 'z' has 64`), and the shapes every input is fed with.
 */
import type { SessionInfo, ValueInfo } from '../inference/protocol.ts';
import {
  type ClassifierManifest,
  type DiscriminatorSpec,
  type GeneratorSpec,
  type InputSpec,
  imageRowDims,
  inputOf,
  type Manifest,
  type MappingSpec,
} from './manifest.ts';

export type NetworkRole = 'generator' | 'mapping' | 'discriminator';

/** An input as it is fed: its spec, and its dimensions (after the batch axis when batched, else whole). */
export interface ResolvedInput {
  spec: InputSpec;
  batched: boolean;
  dims: number[];
}

export interface NetworkCheck {
  problems: string[];
  inputs: ResolvedInput[];
  /** The output's dimensions after the batch axis, where the network fixes them (dynamic ones are -1). */
  outputDims: number[];
}

const isDynamic = (d: number | string | undefined) => typeof d === 'string' || d === -1 || d === undefined;
const fixedOr = (d: number | string | undefined): number => (isDynamic(d) ? -1 : (d as number));

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

/** Check a batched tensor's dimensions after the batch axis against `expected` (dynamic ones match anything). */
function checkShape(
  v: ValueInfo,
  expected: readonly number[],
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
      `${manifestWhat} needs rank ${expected.length + 1} but ${what} '${v.name}' has rank ${v.shape.length} ([${v.shape.join(', ')}])`,
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

/** A tensor without a batch axis must have exactly `expected` (dynamic dimensions match anything). */
function checkWholeShape(v: ValueInfo, expected: readonly number[], what: string, problems: string[]) {
  if (!v.shape) {
    problems.push(`${what} '${v.name}' is not a tensor`);
    return;
  }
  const ok = v.shape.length === expected.length && v.shape.every((d, i) => isDynamic(d) || d === expected[i]);
  if (!ok)
    problems.push(
      `${what} '${v.name}' has shape [${v.shape.join(', ')}]; the manifest says [${expected.join(', ')}]`,
    );
}

function checkType(v: ValueInfo, dtype: string, what: string, problems: string[]) {
  if (v.type !== dtype) problems.push(`${what} '${v.name}' is ${v.type} but the manifest says ${dtype}`);
}

/** Resolve and check one input of a network against its session. */
function resolveInput(
  m: Manifest,
  net: GeneratorSpec | MappingSpec | DiscriminatorSpec,
  spec: InputSpec,
  v: ValueInfo,
  what: string,
  problems: string[],
): ResolvedInput {
  const label = `${what} input`;
  checkType(v, spec.dtype, label, problems);
  switch (spec.role) {
    case 'latent': {
      const dims = spec.shape ?? [m.latentDim];
      if (
        v.shape &&
        v.shape.length === 2 &&
        !spec.shape &&
        !isDynamic(v.shape[1]) &&
        v.shape[1] !== m.latentDim
      )
        problems.push(`latentDim is ${m.latentDim} but ${label} '${v.name}' has ${v.shape[1]}`);
      else
        checkShape(v, dims, label, spec.shape ? `latent shape [${dims.join(', ')}]` : 'latentDim', problems);
      return { spec, batched: true, dims };
    }
    case 'class-index': {
      const rank = v.shape?.length ?? 1;
      if (rank < 1 || rank > 2) problems.push(`${label} '${v.name}' must be [N] or [N, 1], has rank ${rank}`);
      const dims = spec.shape ? [...spec.shape] : rank === 2 ? [1] : [];
      if (spec.shape && v.shape && v.shape.length !== dims.length + 1)
        problems.push(
          `${label} '${v.name}' has rank ${v.shape.length}; the manifest says [N${dims.length ? ', 1' : ''}]`,
        );
      else if (v.shape) checkBatchAxis(v, label, problems);
      return { spec, batched: true, dims };
    }
    case 'class-onehot': {
      const classes = m.numClasses ?? 0;
      checkShape(v, [classes], label, 'numClasses', problems);
      return { spec, batched: true, dims: [classes] };
    }
    case 'truncation':
      checkWholeShape(v, spec.shape, label, problems);
      return { spec, batched: false, dims: [...spec.shape] };
    case 'w-latent':
      checkShape(v, spec.shape, label, `w shape [${spec.shape.join(', ')}]`, problems);
      return { spec, batched: true, dims: spec.shape };
    case 'constant':
    case 'noise':
      if (spec.batched)
        checkShape(v, spec.shape, label, `${spec.role} shape [${spec.shape.join(', ')}]`, problems);
      else checkWholeShape(v, spec.shape, label, problems);
      return { spec, batched: spec.batched, dims: spec.shape };
    case 'image': {
      const d = net as DiscriminatorSpec;
      const dims = imageRowDims(d.inputLayout, m.image);
      checkShape(v, dims, label, 'image', problems);
      return { spec, batched: true, dims };
    }
  }
}

function checkInputs(
  m: Manifest,
  net: GeneratorSpec | MappingSpec | DiscriminatorSpec,
  info: SessionInfo,
  what: string,
  problems: string[],
): ResolvedInput[] {
  const resolved: ResolvedInput[] = [];
  for (const spec of net.inputs) {
    const v = find(info.inputs, spec.name, `${what} input`, problems);
    if (v) resolved.push(resolveInput(m, net, spec, v, what, problems));
  }
  for (const input of info.inputs) {
    if (!net.inputs.some((i) => i.name === input.name))
      problems.push(
        `${what} input '${input.name}' is not named in the manifest (give it a role, e.g. constant)`,
      );
  }
  return resolved;
}

/** The generator (one file z → image, or a synthesis network ws → image). */
export function checkGenerator(m: Manifest, info: SessionInfo): NetworkCheck {
  const problems: string[] = [];
  const g = m.generator;
  const inputs = checkInputs(m, g, info, 'generator', problems);
  const out = find(info.outputs, g.output, 'generator output', problems);
  const dims = imageRowDims(g.outputLayout, m.image);
  if (out) checkShape(out, dims, 'generator output', 'image', problems);
  if (out?.shape && out.type !== 'float32' && out.type !== 'float16')
    problems.push(`generator output '${out.name}' must be float32 or float16, is ${out.type}`);
  return { problems, inputs, outputDims: dims };
}

/** A StyleGAN-style mapping network: its output must fit the generator's w-latent input. */
export function checkMapping(m: Manifest, info: SessionInfo): NetworkCheck {
  const problems: string[] = [];
  const map = m.mapping!;
  const inputs = checkInputs(m, map, info, 'mapping', problems);
  const out = find(info.outputs, map.output, 'mapping output', problems);
  const w = inputOf(m.generator, 'w-latent');
  let outputDims: number[] = [];
  if (out?.shape && w) {
    outputDims = out.shape.slice(1).map(fixedOr);
    checkBatchAxis(out, 'mapping output', problems);
    const wDim = w.shape[w.shape.length - 1]!;
    const fits =
      (outputDims.length === w.shape.length && outputDims.every((d, i) => d === -1 || d === w.shape[i])) ||
      (outputDims.length === 1 && (outputDims[0] === -1 || outputDims[0] === wDim));
    if (!fits)
      problems.push(
        `mapping output '${out.name}' has [${out.shape.join(', ')}] but the generator's w-latent input '${w.name}' takes [N, ${w.shape.join(', ')}]`,
      );
    if (outputDims.includes(-1)) outputDims = outputDims.length === 1 ? [wDim] : [...w.shape];
  }
  return { problems, inputs, outputDims };
}

export function checkDiscriminator(m: Manifest, info: SessionInfo): NetworkCheck {
  const problems: string[] = [];
  const d = m.discriminator!;
  const inputs = checkInputs(m, d, info, 'discriminator', problems);
  const out = find(info.outputs, d.output, 'discriminator output', problems);
  if (out?.shape) {
    const rest = out.shape.slice(1);
    if (!rest.every((x) => isDynamic(x) || x === 1) || rest.length > 3) {
      problems.push(
        `discriminator output '${out.name}' must be one score per image ([N], [N, 1] or [N, 1, 1, 1]), has [${out.shape.join(', ')}]`,
      );
    }
  }
  return { problems, inputs, outputDims: [] };
}

export function checkClassifier(m: ClassifierManifest, info: SessionInfo): string[] {
  const problems: string[] = [];
  const x = find(info.inputs, m.input, 'classifier input', problems);
  if (x) checkShape(x, imageRowDims(m.inputLayout, m.image), 'classifier input', 'image', problems);
  for (const input of info.inputs) {
    if (input.name !== m.input)
      problems.push(`classifier input '${input.name}' is not named in the manifest`);
  }
  const out = find(info.outputs, m.output, 'classifier output', problems);
  if (out) checkShape(out, [m.classNames.length], 'classifier output', 'classNames.length', problems);
  const feats = find(info.outputs, m.features, 'classifier output', problems);
  if (feats) checkShape(feats, [m.featureDim], 'classifier output', 'featureDim', problems);
  return problems;
}
