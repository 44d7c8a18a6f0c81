/**
 * Gives each input of an ONNX network a role from its signature alone, the way Triton completes a model
 * configuration from an ONNX file: element type and shape first, names as tie-breakers, flags over both. Pure:
 * signatures in, planned inputs and guesses out, an ImportError naming the tensor when a network does not fit.
 */
import type { InputSpec } from '../../src/models/manifest.ts';
import { formatShape, type OnnxSignature, type TensorSignature } from './inspect.ts';
import {
  allFixed,
  CLASS_NAME,
  type ClassKind,
  classKind,
  describe,
  FEEDABLE,
  fixedBatchError,
  hasBatchAxis,
  IMAGE_NAME,
  isFeedable,
  isFloat,
  isInt,
  isScalar,
  LATENT_NAME,
  latentRow,
  looksLikeImage,
  NOISE_NAME,
  size,
  TRUNCATION_NAME,
  TYPICAL_CLASS_COUNTS,
  W_NAME,
} from './tensor-kinds.ts';
import {
  type Guess,
  ImportError,
  type InferOverrides,
  type MetadataFacts,
  type NetworkRole,
  type PlannedInput,
  rowDims,
} from './types.ts';

/** Everything one network's planning reads and writes. */
interface Context {
  net: NetworkRole;
  sig: OnnxSignature;
  o: InferOverrides;
  guesses: Guess[];
  /** Inputs given a role so far, by name. */
  planned: Map<string, PlannedInput>;
}

function guess(ctx: Context, tensor: string | null, message: string) {
  ctx.guesses.push({ network: ctx.net, tensor, message });
}

function plan(ctx: Context, s: TensorSignature, spec: InputSpec, reason: string) {
  ctx.planned.set(s.name, { spec, signature: s, reason });
}

const free = (ctx: Context) => ctx.sig.inputs.filter((s) => !ctx.planned.has(s.name));

function inputNamed(ctx: Context, name: string, flag: string): TensorSignature {
  const s = ctx.sig.inputs.find((i) => i.name === name);
  if (!s)
    throw new ImportError(
      `${flag} '${name}': the ${ctx.net} has no input '${name}' (it has ${ctx.sig.inputs.map((i) => `'${i.name}'`).join(', ')})`,
    );
  return s;
}

/** The row shape (batched) or whole shape of a constant or noise input; throws when a dimension is dynamic. */
function fixedShape(ctx: Context, s: TensorSignature, what: string): { shape: number[]; batched: boolean } {
  if (s.shape === null)
    throw new ImportError(`${describe(ctx.net, 'input', s)}: its shape is unknown, so ${what} cannot be fed`);
  const batched = hasBatchAxis(s);
  const dims = batched ? s.shape.slice(1) : s.shape;
  if (!allFixed(dims))
    throw new ImportError(
      `${describe(ctx.net, 'input', s)} has dynamic dimensions besides the batch axis, so ${what} cannot be fed: re-export it with fixed ones`,
    );
  return { shape: dims, batched };
}

function planConstant(ctx: Context, s: TensorSignature, value: number, reason: string) {
  if (!isFeedable(s.dtype))
    throw new ImportError(
      `${describe(ctx.net, 'input', s)}: the service feeds inputs of type ${FEEDABLE.join(', ')}, not ${s.dtype}`,
    );
  plan(
    ctx,
    s,
    { role: 'constant', name: s.name, dtype: s.dtype, ...fixedShape(ctx, s, 'a constant'), value },
    reason,
  );
}

function planNoise(ctx: Context, s: TensorSignature, seed: number, reason: string) {
  if (!isFloat(s))
    throw new ImportError(`${describe(ctx.net, 'input', s)}: a noise input must be float32 or float16`);
  plan(
    ctx,
    s,
    { role: 'noise', name: s.name, dtype: s.dtype, ...fixedShape(ctx, s, 'noise'), seed, std: 1 },
    reason,
  );
}

/** --constant and --noise-input entries that name this network's inputs. */
function planFixedOverrides(ctx: Context) {
  const names = new Set(ctx.sig.inputs.map((s) => s.name));
  for (const [name, value] of Object.entries(ctx.o.constants ?? {}))
    if (names.has(name)) planConstant(ctx, inputNamed(ctx, name, '--constant'), value, '--constant');
  for (const [name, seed] of Object.entries(ctx.o.noiseInputs ?? {}))
    if (names.has(name)) planNoise(ctx, inputNamed(ctx, name, '--noise-input'), seed, '--noise-input');
}

/** Why no input of the network that takes z is a latent: an image (a discriminator?) or a w (a synthesis network?). */
function noLatentError(ctx: Context): ImportError {
  const image = free(ctx).find(looksLikeImage);
  if (image)
    return new ImportError(
      `${describe(ctx.net, 'input', image)} looks like an image, not a latent: is this a discriminator? pass it as --discriminator`,
    );
  const w = free(ctx).find((s) => isFloat(s) && (s.shape?.length === 3 || W_NAME.test(s.name)));
  if (w)
    return new ImportError(
      `${describe(ctx.net, 'input', w)} looks like a StyleGAN w (a synthesis network): pass its mapping network with --mapping M.onnx, or --latent-input ${w.name} if it is z`,
    );
  return new ImportError(
    `no input of the ${ctx.net} looks like a latent z (a float input [N, d] or [N, d, 1, 1]; it has ${ctx.sig.inputs
      .map((s) => `'${s.name}' ${formatShape(s.shape)} ${s.dtype}`)
      .join(', ')}): name it with --latent-input`,
  );
}

function pickLatent(ctx: Context, hasMapping: boolean): TensorSignature {
  if (ctx.o.latentInput !== undefined) return inputNamed(ctx, ctx.o.latentInput, '--latent-input');
  let candidates = free(ctx).filter((s) => latentRow(s) !== null);
  // Without a mapping network an input named like w is a synthesis network's, not z (--latent-input can say it is).
  if (!hasMapping && candidates.some((s) => W_NAME.test(s.name))) {
    const plain = candidates.filter((s) => !W_NAME.test(s.name));
    if (plain.length === 0) throw noLatentError(ctx);
    candidates = plain;
  }
  if (candidates.some(hasBatchAxis)) candidates = candidates.filter(hasBatchAxis);
  if (candidates.length === 0) throw noLatentError(ctx);
  if (candidates.length === 1) return candidates[0]!;
  const named = candidates.filter((s) => LATENT_NAME.test(s.name) && !CLASS_NAME.test(s.name));
  if (named.length === 1) return named[0]!;
  const notClass = candidates.filter(
    (s) => !CLASS_NAME.test(s.name) && !TYPICAL_CLASS_COUNTS.has(size(latentRow(s)!)),
  );
  if (notClass.length === 1) return notClass[0]!;
  const widest = [...candidates].sort((a, b) => size(latentRow(b)!) - size(latentRow(a)!))[0]!;
  guess(
    ctx,
    widest.name,
    `z is '${widest.name}', the widest of ${candidates.map((s) => `'${s.name}'`).join(', ')}; if not, pass --latent-input`,
  );
  return widest;
}

function planLatent(ctx: Context, facts: MetadataFacts, hasMapping: boolean): number {
  const s = pickLatent(ctx, hasMapping);
  const flag = ctx.o.latentInput !== undefined;
  if (!isFloat(s))
    throw new ImportError(`${describe(ctx.net, 'input', s)}: a latent must be float32 or float16`);
  if (!s.shape || s.shape.length < 2)
    throw new ImportError(
      `${describe(ctx.net, 'input', s)}: a latent is [N, d] or [N, d, 1, 1] with a batch axis`,
    );
  if (!hasBatchAxis(s)) throw fixedBatchError(ctx.net, 'input', s, ctx.sig);
  const row = rowDims(s);
  let shape: number[];
  if (allFixed(row)) shape = row;
  else if (row.length === 1 && facts.latentDim !== undefined) shape = [facts.latentDim];
  else
    throw new ImportError(
      `${describe(ctx.net, 'input', s)}: the latent's length is dynamic; re-export with a fixed one (or state it in the metadata as latent_dim)`,
    );
  const latentDim = size(shape);
  if (facts.latentDim !== undefined && facts.latentDim !== latentDim)
    guess(
      ctx,
      s.name,
      `the metadata says latent_dim ${facts.latentDim} but '${s.name}' takes ${latentDim}; the shape wins`,
    );
  const spec: InputSpec = {
    role: 'latent',
    name: s.name,
    dtype: s.dtype,
    ...(shape.length > 1 ? { shape } : {}),
  };
  plan(
    ctx,
    s,
    spec,
    flag
      ? '--latent-input'
      : `float [N, d${shape.length > 1 ? ', 1, 1' : ''}]${LATENT_NAME.test(s.name) ? ' named like z' : ''}`,
  );
  return latentDim;
}

function pickClass(ctx: Context): { s: TensorSignature; kind: ClassKind; reason: string } | null {
  if (ctx.o.classInput !== undefined) {
    const s = inputNamed(ctx, ctx.o.classInput, '--class-input');
    const kind = classKind(s);
    if (!kind)
      throw new ImportError(
        `--class-input: ${describe(ctx.net, 'input', s)} is not a class input ([N] or [N, 1] class ids, or [N, K] one-hot rows)`,
      );
    return { s, kind, reason: '--class-input' };
  }
  const found: Array<{ s: TensorSignature; kind: ClassKind; reason: string }> = [];
  for (const s of free(ctx)) {
    const kind = classKind(s);
    if (!kind) continue;
    const named = CLASS_NAME.test(s.name);
    if (kind.role === 'class-index' && (isInt(s) || named))
      found.push({ s, kind, reason: `${s.dtype} [N${kind.shape.length ? ', 1' : ''}]: a class id per row` });
    else if (kind.role === 'class-onehot' && (named || TYPICAL_CLASS_COUNTS.has(kind.classes)))
      found.push({
        s,
        kind,
        reason: named
          ? `float [N, ${kind.classes}] named like a class`
          : `float [N, ${kind.classes}] beside z`,
      });
  }
  if (found.length === 0) return null;
  if (found.length === 1) return found[0]!;
  const named = found.filter((f) => CLASS_NAME.test(f.s.name));
  if (named.length === 1) return named[0]!;
  throw new ImportError(
    `${ctx.net} inputs ${found.map((f) => `'${f.s.name}'`).join(' and ')} could each be the class: name it with --class-input`,
  );
}

/** The class input of the network that takes z; returns the number of classes (null: unconditional). */
function planClass(ctx: Context, facts: MetadataFacts): number | null {
  const picked = pickClass(ctx);
  if (!picked) {
    if (ctx.o.numClasses !== undefined)
      throw new ImportError(
        `--num-classes ${ctx.o.numClasses}, but no input of the ${ctx.net} takes a class`,
      );
    return null;
  }
  const { s, kind, reason } = picked;
  if (kind.role === 'class-onehot') {
    if (ctx.o.numClasses !== undefined && ctx.o.numClasses !== kind.classes)
      throw new ImportError(
        `--num-classes ${ctx.o.numClasses}, but ${describe(ctx.net, 'input', s)} takes one-hot rows of ${kind.classes}`,
      );
    if (!CLASS_NAME.test(s.name) && ctx.o.classInput === undefined)
      guess(
        ctx,
        s.name,
        `'${s.name}' [N, ${kind.classes}] is read as a one-hot class (${kind.classes} classes) for its width; if it is not, pass --constant ${s.name}=0 or --noise-input ${s.name}`,
      );
    plan(ctx, s, { role: 'class-onehot', name: s.name, dtype: s.dtype as 'float32' | 'float16' }, reason);
    return kind.classes;
  }
  const classes = ctx.o.numClasses ?? facts.numClasses;
  if (classes === undefined)
    throw new ImportError(
      `${describe(ctx.net, 'input', s)} takes a class id: pass --num-classes K (the number of classes; the file's metadata does not say)`,
    );
  if (classes < 2) throw new ImportError(`--num-classes must be at least 2, got ${classes}`);
  const dtype = s.dtype as 'int32' | 'int64' | 'float32';
  plan(ctx, s, { role: 'class-index', name: s.name, dtype, shape: kind.shape }, reason);
  return classes;
}

/** A truncation ψ input: --truncation-input when it names one of this network's inputs, else one named like ψ. */
function planTruncation(ctx: Context) {
  let s: TensorSignature | undefined;
  let reason = '--truncation-input';
  if (ctx.o.truncationInput !== undefined) {
    s = ctx.sig.inputs.find((i) => i.name === ctx.o.truncationInput);
    if (!s) return;
    if (!isFloat(s) || !isScalar(s))
      throw new ImportError(
        `--truncation-input: ${describe(ctx.net, 'input', s)} is not a float scalar ([] or [1]), which a truncation ψ is`,
      );
  } else {
    s = free(ctx).find((i) => isFloat(i) && isScalar(i) && TRUNCATION_NAME.test(i.name));
    reason = 'float scalar named like ψ';
  }
  if (!s?.shape || !isFloat(s)) return;
  const shape: [] | [1] = s.shape.length === 0 ? [] : [1];
  plan(ctx, s, { role: 'truncation', name: s.name, dtype: s.dtype, shape, default: 1 }, reason);
}

/** Float inputs named like noise (per-layer StyleGAN noise, a generic noise map) get seeded N(0, 1) noise. */
function planNamedNoise(ctx: Context) {
  for (const s of free(ctx)) {
    if (!isFloat(s) || !NOISE_NAME.test(s.name) || s.shape === null) continue;
    const dims = hasBatchAxis(s) ? s.shape.slice(1) : s.shape;
    if (!allFixed(dims)) continue;
    planNoise(ctx, s, 0, 'float named like noise');
    guess(
      ctx,
      s.name,
      `'${s.name}' ${formatShape(s.shape)} is fed seeded N(0, 1) noise (seed 0, drawn once); pass --noise-input ${s.name}:SEED for another, --constant ${s.name}=0 for none`,
    );
  }
}

/** Whatever is left is fed a constant: 1 for a ψ, else 0 (with a warning). */
function planLeftovers(ctx: Context) {
  for (const s of free(ctx)) {
    const value = TRUNCATION_NAME.test(s.name) ? 1 : 0;
    planConstant(ctx, s, value, 'left over: a constant');
    guess(
      ctx,
      s.name,
      `${describe(ctx.net, 'input', s)} has no role the importer knows, so it is fed the constant ${value}; pass --constant ${s.name}=VALUE to set it`,
    );
  }
}

function ordered(ctx: Context): PlannedInput[] {
  return ctx.sig.inputs.map((s) => ctx.planned.get(s.name)).filter((p): p is PlannedInput => p !== undefined);
}

function newContext(net: NetworkRole, sig: OnnxSignature, o: InferOverrides, guesses: Guess[]): Context {
  if (sig.inputs.length === 0) throw new ImportError(`the ${net} (${sig.file}) has no inputs`);
  for (const s of sig.inputs)
    if (s.dtype === 'non-tensor') throw new ImportError(`${net} input '${s.name}' is not a tensor`);
  return { net, sig, o, guesses, planned: new Map() };
}

/** The network that takes z: a one-file generator, or the mapping network. */
export function planLatentNetwork(
  net: 'generator' | 'mapping',
  sig: OnnxSignature,
  o: InferOverrides,
  facts: MetadataFacts,
  guesses: Guess[],
  hasMapping: boolean,
): { inputs: PlannedInput[]; latentDim: number; numClasses: number | null } {
  const ctx = newContext(net, sig, o, guesses);
  planFixedOverrides(ctx);
  planTruncation(ctx);
  const latentDim = planLatent(ctx, facts, hasMapping);
  const numClasses = planClass(ctx, facts);
  planNamedNoise(ctx);
  planLeftovers(ctx);
  return { inputs: ordered(ctx), latentDim, numClasses };
}

/** A StyleGAN synthesis network fed by the mapping network: its w-latent input, then fixed ones. */
export function planSynthesis(sig: OnnxSignature, o: InferOverrides, guesses: Guess[]): PlannedInput[] {
  const ctx = newContext('generator', sig, o, guesses);
  planFixedOverrides(ctx);
  planTruncation(ctx);
  let candidates = free(ctx).filter((s) => isFloat(s) && (s.shape?.length === 2 || s.shape?.length === 3));
  if (candidates.length > 1 && candidates.some((s) => W_NAME.test(s.name)))
    candidates = candidates.filter((s) => W_NAME.test(s.name));
  const s = candidates[0];
  if (!s || !isFloat(s) || !s.shape)
    throw new ImportError(
      `no input of the generator (${sig.file}) takes w from the mapping network (a float [N, wDim] or [N, numWs, wDim] input; it has ${sig.inputs
        .map((i) => `'${i.name}' ${formatShape(i.shape)}`)
        .join(', ')})`,
    );
  if (candidates.length > 1)
    guess(
      ctx,
      s.name,
      `'${s.name}' is taken as the w input of ${candidates.map((c) => `'${c.name}'`).join(', ')}`,
    );
  if (!hasBatchAxis(s)) throw fixedBatchError('generator', 'input', s, sig);
  // Dynamic dimensions (-1) are filled from the mapping network's output once it has run.
  const shape = rowDims(s).map((d) => (typeof d === 'number' ? d : -1));
  plan(
    ctx,
    s,
    { role: 'w-latent', name: s.name, dtype: s.dtype, shape },
    'float [N, (numWs,) wDim] beside a mapping network',
  );
  const classy = free(ctx).find((i) => classKind(i) !== null && CLASS_NAME.test(i.name));
  if (classy)
    throw new ImportError(
      `${describe('generator', 'input', classy)} looks like a class, but with a mapping network the class goes to the mapping network`,
    );
  planNamedNoise(ctx);
  planLeftovers(ctx);
  return ordered(ctx);
}

/** A discriminator: its image input, a class input when the model has classes, fixed ones. */
export function planDiscriminatorInputs(
  sig: OnnxSignature,
  o: InferOverrides,
  numClasses: number | null,
  guesses: Guess[],
): PlannedInput[] {
  const ctx = newContext('discriminator', sig, o, guesses);
  planFixedOverrides(ctx);
  let images = free(ctx).filter(looksLikeImage);
  if (images.length > 1 && images.some((s) => IMAGE_NAME.test(s.name)))
    images = images.filter((s) => IMAGE_NAME.test(s.name));
  const image = images[0];
  if (!image || !isFloat(image)) {
    const latent = free(ctx).find((s) => latentRow(s) !== null);
    throw new ImportError(
      latent
        ? `${describe('discriminator', 'input', latent)} looks like a latent, not an image: is this a generator? pass it as --generator`
        : `no input of the discriminator is an image ([N, C, H, W] or [N, H, W, C], float; it has ${sig.inputs
            .map((s) => `'${s.name}' ${formatShape(s.shape)}`)
            .join(', ')})`,
    );
  }
  if (!hasBatchAxis(image)) throw fixedBatchError('discriminator', 'input', image, sig);
  plan(
    ctx,
    image,
    { role: 'image', name: image.name, dtype: image.dtype },
    'float [N, C, H, W] or [N, H, W, C]',
  );
  const cls = free(ctx)
    .map((s) => ({ s, kind: classKind(s) }))
    .find(({ s, kind }) => kind !== null && (isInt(s) || CLASS_NAME.test(s.name)));
  if (cls?.kind) {
    const { s, kind } = cls;
    if (numClasses === null)
      throw new ImportError(
        `${describe('discriminator', 'input', s)} takes a class, but the generator takes none (an unconditional model)`,
      );
    if (kind.role === 'class-onehot') {
      if (kind.classes !== numClasses)
        throw new ImportError(
          `${describe('discriminator', 'input', s)} takes one-hot rows of ${kind.classes} but the generator has ${numClasses} classes`,
        );
      plan(
        ctx,
        s,
        { role: 'class-onehot', name: s.name, dtype: s.dtype as 'float32' | 'float16' },
        'one-hot class',
      );
    } else {
      const dtype = s.dtype as 'int32' | 'int64' | 'float32';
      plan(ctx, s, { role: 'class-index', name: s.name, dtype, shape: kind.shape }, 'a class id per row');
    }
  }
  planNamedNoise(ctx);
  planLeftovers(ctx);
  return ordered(ctx);
}
