/**
 * From ONNX signatures (and one seeded run of the networks) to a model manifest, the way Triton auto-completes a
 * model configuration: `planModel` gives every input a role and shape from the signatures alone; the caller runs
 * the networks on seeded inputs; `completeManifest` reads the image layout, size and range, and the discriminator's
 * score kind from what they gave, and returns a manifest validated by `manifestSchema` with the guesses the user
 * should check. Pure: no files, no sessions.
 */
import { imageRowDims, type Manifest, manifestSchema } from '../../src/models/manifest.ts';
import { type Dim, formatShape, type OnnxSignature, type TensorSignature } from './inspect.ts';
import {
  type ImageFacts,
  imageFromDims,
  type OutputKindFacts,
  outputKind,
  outputRange,
  type RangeFacts,
  rowsDiffer,
  TYPICAL_SIDE,
} from './measure.ts';
import { metadataFacts } from './metadata.ts';
import { pickImageOutput, pickScoreOutput, pickWOutput } from './outputs.ts';
import { planDiscriminatorInputs, planLatentNetwork, planSynthesis } from './roles.ts';
import {
  type Guess,
  ImportError,
  type InferOverrides,
  type Layout,
  type MetadataFacts,
  type ModelPlan,
  type NetworkPlan,
  rowDims,
} from './types.ts';

export interface Signatures {
  /** A one-file generator (z → image), or a synthesis network (w → image) when `mapping` is given. */
  generator: OnnxSignature;
  mapping?: OnnxSignature | null;
  discriminator?: OnnxSignature | null;
}

/** Every input name an override flag gives must exist: a typo is an error, not a silent no-op. */
function checkOverrideNames(sigs: Signatures, o: InferOverrides) {
  const nets = [sigs.generator, sigs.mapping, sigs.discriminator].filter((s): s is OnnxSignature => !!s);
  const all = new Set(nets.flatMap((s) => s.inputs.map((i) => i.name)));
  const list = [...all].map((n) => `'${n}'`).join(', ');
  const named: Array<[string, string | undefined]> = [
    ['--truncation-input', o.truncationInput],
    ...Object.keys(o.constants ?? {}).map((n): [string, string] => ['--constant', n]),
    ...Object.keys(o.noiseInputs ?? {}).map((n): [string, string] => ['--noise-input', n]),
  ];
  for (const [flag, name] of named)
    if (name !== undefined && !all.has(name))
      throw new ImportError(`${flag} '${name}': no network has an input '${name}' (they have ${list})`);
  const both = Object.keys(o.constants ?? {}).find((n) => n in (o.noiseInputs ?? {}));
  if (both !== undefined) throw new ImportError(`'${both}' is given both --constant and --noise-input`);
}

/**
 * A synthesis network's w shape, its dynamic dimensions (-1) filled from the mapping network's output row `from`;
 * an error if the two cannot fit.
 */
function fitW(w: readonly number[], from: readonly Dim[], what: string): number[] {
  const out = [...w];
  if (from.length === w.length) {
    from.forEach((d, i) => {
      if (typeof d !== 'number') return;
      if (out[i] === -1) out[i] = d;
      else if (out[i] !== d) throw new ImportError(what);
    });
  } else if (from.length === 1 && w.length === 2) {
    // w [N, wDim] broadcast to every layer's [N, numWs, wDim]
    const d = from[0];
    if (typeof d === 'number') {
      if (out[1] === -1) out[1] = d;
      else if (out[1] !== d) throw new ImportError(what);
    }
  } else throw new ImportError(what);
  return out;
}

function wMismatch(mapping: NetworkPlan, w: TensorSignature): string {
  return (
    `mapping output '${mapping.output.name}' ${formatShape(mapping.output.shape)} does not fit generator input ` +
    `'${w.name}' ${formatShape(w.shape)}: the synthesis network takes [N, wDim] or [N, numWs, wDim]`
  );
}

/** Roles, shapes and the number of classes from the signatures and the overrides; nothing runs. */
export function planModel(sigs: Signatures, o: InferOverrides = {}): ModelPlan {
  const guesses: Guess[] = [];
  checkOverrideNames(sigs, o);
  const facts: MetadataFacts = {
    ...(sigs.discriminator ? metadataFacts(sigs.discriminator.metadata, 'discriminator', guesses) : {}),
    ...(sigs.mapping ? metadataFacts(sigs.mapping.metadata, 'mapping', guesses) : {}),
    ...metadataFacts(sigs.generator.metadata, 'generator', guesses),
  };
  let mapping: NetworkPlan | null = null;
  let generator: NetworkPlan;
  let latentDim: number;
  let numClasses: number | null;
  if (sigs.mapping) {
    const z = planLatentNetwork('mapping', sigs.mapping, o, facts, guesses, true);
    ({ latentDim, numClasses } = z);
    mapping = {
      role: 'mapping',
      signature: sigs.mapping,
      inputs: z.inputs,
      output: pickWOutput(sigs.mapping),
    };
    generator = {
      role: 'generator',
      signature: sigs.generator,
      inputs: planSynthesis(sigs.generator, o, guesses),
      output: pickImageOutput(sigs.generator, guesses),
    };
    const w = generator.inputs.find((i) => i.spec.role === 'w-latent')!;
    if (w.spec.role === 'w-latent')
      w.spec.shape = fitW(w.spec.shape, rowDims(mapping.output), wMismatch(mapping, w.signature));
  } else {
    const z = planLatentNetwork('generator', sigs.generator, o, facts, guesses, false);
    ({ latentDim, numClasses } = z);
    generator = {
      role: 'generator',
      signature: sigs.generator,
      inputs: z.inputs,
      output: pickImageOutput(sigs.generator, guesses),
    };
  }
  if (o.truncationInput !== undefined) {
    const found = [generator, mapping].some((n) =>
      n?.inputs.some((i) => i.spec.name === o.truncationInput && i.spec.role === 'truncation'),
    );
    if (!found)
      throw new ImportError(
        `--truncation-input '${o.truncationInput}': no generator or mapping input has that name`,
      );
  }
  const discriminator: NetworkPlan | null = sigs.discriminator
    ? {
        role: 'discriminator',
        signature: sigs.discriminator,
        inputs: planDiscriminatorInputs(sigs.discriminator, o, numClasses, guesses),
        output: pickScoreOutput(sigs.discriminator, guesses),
      }
    : null;
  return { latentDim, numClasses, generator, mapping, discriminator, facts, guesses };
}

/**
 * The synthesis network's w-latent row shape with every dimension fixed, from the plan and the mapping network's
 * output dimensions as run.
 * @param mappingDims the mapping output's dimensions after the batch axis
 */
export function resolveWShape(plan: ModelPlan, mappingDims: readonly number[]): number[] {
  const w = plan.generator.inputs.find((i) => i.spec.role === 'w-latent');
  if (w?.spec.role !== 'w-latent' || !plan.mapping)
    throw new Error('resolveWShape: the plan has no mapping network');
  const shape = fitW(w.spec.shape, mappingDims, wMismatch(plan.mapping, w.signature));
  if (shape.includes(-1))
    throw new ImportError(
      `generator input '${w.signature.name}' ${formatShape(w.signature.shape)}: numWs is dynamic and the mapping network gives w [N, wDim]; re-export with a fixed numWs`,
    );
  return shape;
}

/** The image size and layout from the generator's output dimensions as run (checked against its signature). */
export function generatorImage(plan: ModelPlan, dims: readonly number[], o: InferOverrides): ImageFacts {
  const out = plan.generator.output;
  const declared = rowDims(out);
  if (declared.length !== dims.length || declared.some((d, i) => typeof d === 'number' && d !== dims[i]))
    throw new ImportError(
      `generator output '${out.name}' is declared ${formatShape(out.shape)} but a batch gave [N, ${dims.join(', ')}]`,
    );
  const stated = o.layout ?? plan.facts.layout;
  const facts = imageFromDims(dims, stated, `generator output '${out.name}'`);
  return o.layout ? facts : plan.facts.layout ? { ...facts, evidence: 'metadata' } : facts;
}

/** The discriminator's input layout: the one its image input's shape allows for the generator's images. */
export function discriminatorLayout(
  plan: ModelPlan,
  image: ImageFacts,
  o: InferOverrides,
): { layout: Layout; guessed: boolean } {
  const d = plan.discriminator!;
  const input = d.inputs.find((i) => i.spec.role === 'image')!.signature;
  const dims = rowDims(input);
  const fits = (layout: Layout) => {
    const want = imageRowDims(layout, image.image);
    return dims.length === 3 && dims.every((x, i) => typeof x === 'string' || x === want[i]);
  };
  const layouts = (['NCHW', 'NHWC'] as const).filter(fits);
  if (layouts.length === 1) return { layout: layouts[0]!, guessed: false };
  if (layouts.length === 2) return { layout: o.layout ?? image.layout, guessed: o.layout === undefined };
  const { width, height, channels } = image.image;
  throw new ImportError(
    `discriminator input '${input.name}' ${formatShape(input.shape)} does not take the generator's ${width}×${height}×${channels} images ` +
      `([N, ${channels}, ${height}, ${width}] or [N, ${height}, ${width}, ${channels}])`,
  );
}

/** What one seeded run of the networks gave. */
export interface ProbeResult {
  /** The mapping output's dimensions after the batch axis. */
  mappingDims?: number[];
  /** The generator output (float32) and its dimensions after the batch axis, for `rows` seeds. */
  image: { dims: number[]; values: Float32Array; rows: number };
  /** The discriminator's scores for those images. */
  scores?: Float32Array;
}

/** What the user names that no file says. */
export interface ManifestInfo {
  name: string;
  title?: string;
  dataset?: string | null;
  default?: boolean;
  /** The w_avg file in the model folder (e.g. 'w_avg.npy'), or null to have the service estimate it. */
  wAvg?: string | null;
  provenance?: Manifest['provenance'];
}

/** The measurements behind the manifest, for the summary. */
export interface Measured {
  image: ImageFacts;
  range: RangeFacts & { source: 'flag' | 'metadata' | 'measured' };
  discriminator: {
    layout: Layout;
    score: OutputKindFacts & { source: 'flag' | 'metadata' | 'measured' };
  } | null;
}

export interface CompletedImport {
  manifest: Manifest;
  guesses: Guess[];
  measured: Measured;
}

const specsOf = (n: NetworkPlan) => n.inputs.map((i) => i.spec);

/** The manifest from the plan and the seeded run; throws an ImportError if the result does not validate. */
export function completeManifest(
  plan: ModelPlan,
  probe: ProbeResult,
  info: ManifestInfo,
  o: InferOverrides = {},
): CompletedImport {
  const guesses = [...plan.guesses];
  const g = plan.generator;
  const note = (network: Guess['network'], tensor: string | null, message: string) =>
    guesses.push({ network, tensor, message });
  const image = generatorImage(plan, probe.image.dims, o);
  const { width, height } = image.image;
  if ([width, height].some((s) => s < TYPICAL_SIDE[0] || s > TYPICAL_SIDE[1]))
    note(
      'generator',
      g.output.name,
      `the image is ${width}×${height}, outside the usual ${TYPICAL_SIDE.join('–')} px`,
    );
  const stated = o.outputRange ?? plan.facts.outputRange;
  const what = `generator output '${g.output.name}'`;
  const range = {
    ...outputRange(probe.image.values, stated, what),
    source: o.outputRange ? 'flag' : plan.facts.outputRange ? 'metadata' : 'measured',
  } as Measured['range'];
  const span = `[${range.min.toFixed(3)}, ${range.max.toFixed(3)}]`;
  const share = `${(range.coverage * 100).toFixed(1)}%`;
  if (range.source === 'measured')
    note(
      'generator',
      g.output.name,
      `output range [${range.range.join(', ')}]: ${probe.image.rows} seeded images span ${span}, ${share} inside; if not, pass --output-range lo,hi`,
    );
  else if (range.coverage < 0.99)
    note(
      'generator',
      g.output.name,
      `only ${share} of the seeded output ${span} lies in the stated range [${range.range.join(', ')}]`,
    );
  const z = (plan.mapping ?? g).inputs.find((i) => i.spec.role === 'latent');
  if (probe.image.rows > 1 && !rowsDiffer(probe.image.values, probe.image.rows))
    note('generator', g.output.name, `every seed gives the same image: is '${z?.spec.name}' really z?`);

  const inputs = specsOf(g).map((spec) =>
    spec.role === 'w-latent' && probe.mappingDims
      ? { ...spec, shape: resolveWShape(plan, probe.mappingDims) }
      : spec,
  );
  let discriminator: Manifest['discriminator'] = null;
  let measuredD: Measured['discriminator'] = null;
  if (plan.discriminator) {
    const d = plan.discriminator;
    const { layout, guessed } = discriminatorLayout(plan, image, o);
    if (!probe.scores)
      throw new Error('completeManifest: the plan has a discriminator but the probe has no scores');
    const scoreWhat = `discriminator output '${d.output.name}'`;
    const measuredKind = outputKind(probe.scores, d.signature.outputOps[d.output.name] ?? null, scoreWhat);
    const statedKind = o.discriminatorOutputKind ?? plan.facts.outputKind;
    const score = {
      ...measuredKind,
      kind: statedKind ?? measuredKind.kind,
      source: o.discriminatorOutputKind ? 'flag' : plan.facts.outputKind ? 'metadata' : 'measured',
    } as const;
    if (!statedKind) {
      const op = d.signature.outputOps[d.output.name] ?? 'none';
      note(
        'discriminator',
        d.output.name,
        `score kind ${score.kind}: the last op is ${op}, scores span [${score.min.toFixed(3)}, ${score.max.toFixed(3)}]; if not, pass --discriminator-output-kind`,
      );
    }
    note(
      'discriminator',
      null,
      `the discriminator is taken to read images as the generator writes them: range [${range.range.join(', ')}]${guessed ? `, layout ${layout} (its input shape allows both)` : ''}`,
    );
    discriminator = {
      file: 'discriminator.onnx',
      inputs: specsOf(d),
      inputRange: range.range,
      inputLayout: layout,
      output: d.output.name,
      outputKind: score.kind,
    };
    measuredD = { layout, score };
  }
  if (plan.mapping && !info.wAvg)
    note(
      'mapping',
      null,
      'no --w-avg: the service estimates w_avg at load from 10,000 seeded z (truncation is centred there); pass --w-avg w_avg.npy (G.mapping.w_avg) for the trained one',
    );

  const classNames =
    plan.facts.classNames && plan.numClasses !== null && plan.facts.classNames.length === plan.numClasses
      ? plan.facts.classNames
      : undefined;
  const raw = {
    name: info.name,
    title: info.title ?? plan.facts.title ?? info.name,
    ...(plan.facts.description ? { description: plan.facts.description } : {}),
    dataset: info.dataset ?? plan.facts.dataset ?? null,
    ...(classNames ? { classNames } : {}),
    latentDim: plan.latentDim,
    image: image.image,
    default: info.default ?? false,
    generator: {
      file: 'generator.onnx',
      inputs,
      output: g.output.name,
      outputRange: range.range,
      outputLayout: image.layout,
    },
    mapping: plan.mapping
      ? {
          file: 'mapping.onnx',
          inputs: specsOf(plan.mapping),
          output: plan.mapping.output.name,
          wAvg: info.wAvg ?? null,
        }
      : null,
    discriminator,
    numClasses: plan.numClasses,
    provenance: info.provenance ?? null,
  };
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new ImportError(
      `the inferred manifest is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(model)'}: ${i.message}`).join('; ')}`,
    );
  return { manifest: parsed.data, guesses, measured: { image, range, discriminator: measuredD } };
}
