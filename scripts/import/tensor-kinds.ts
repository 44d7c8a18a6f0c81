/**
 * What kind of tensor a signature describes, by element type, shape and name: the predicates and name patterns
 * the importer's role rules are built from, and the messages that name a tensor.
 */
import { type Dim, formatShape, type OnnxSignature, type TensorSignature } from './inspect.ts';
import { ImportError, type NetworkRole, rowDims } from './types.ts';

export const LATENT_NAME = /^(z|zs|latents?|noise|inputs?|input[._]?\d+|x|z[._].*|.*latent.*)$/i;
export const CLASS_NAME = /^(y|c|cls|labels?|class(es)?|cond(ition)?|.*(label|class).*)$/i;
export const TRUNCATION_NAME = /trunc|psi/i;
export const NOISE_NAME = /noise/i;
export const W_NAME = /^(w|ws|w[._]?latents?|dlatents?|styles?)$/i;
export const IMAGE_NAME = /^(img|imgs|images?|x|inputs?|input[._]?\d+|pixels?)$/i;
/** One-hot widths common enough to read an unnamed float [N, K] input beside z as the class (CIFAR-10, ImageNet, …). */
export const TYPICAL_CLASS_COUNTS: ReadonlySet<number> = new Set([10, 100, 101, 102, 120, 200, 365, 1000]);

export type FloatType = 'float32' | 'float16';
export const FEEDABLE = ['float32', 'float16', 'int32', 'int64', 'bool'] as const;
export type Feedable = (typeof FEEDABLE)[number];

export const isFloat = (s: TensorSignature): s is TensorSignature & { dtype: FloatType } =>
  s.dtype === 'float32' || s.dtype === 'float16';
export const isInt = (s: TensorSignature) => s.dtype === 'int32' || s.dtype === 'int64';
export const isFeedable = (dtype: string): dtype is Feedable =>
  (FEEDABLE as readonly string[]).includes(dtype);
/** A batch axis is a symbolic first dimension. */
export const hasBatchAxis = (s: TensorSignature) =>
  s.shape !== null && s.shape.length >= 1 && typeof s.shape[0] === 'string';
export const allFixed = (dims: readonly Dim[]): dims is number[] => dims.every((d) => typeof d === 'number');
/** "generator input 'z' [batch, 512] (float32)" */
export const describe = (net: NetworkRole, kind: 'input' | 'output', s: TensorSignature) =>
  `${net} ${kind} '${s.name}' ${formatShape(s.shape)} (${s.dtype})`;

/** The error for an export whose batch axis is a fixed number. */
export function fixedBatchError(
  net: NetworkRole,
  kind: 'input' | 'output',
  s: TensorSignature,
  sig: OnnxSignature,
) {
  const axes = [...sig.inputs.slice(0, 1), ...sig.outputs.slice(0, 1)].map(
    (t) => `'${t.name}': {0: 'batch'}`,
  );
  return new ImportError(
    `${describe(net, kind, s)} has a fixed batch axis (${s.shape?.[0]}): the service batches requests, so the ` +
      `export needs a dynamic batch axis: torch.onnx.export(..., dynamic_axes={${axes.join(', ')}})`,
  );
}

/** The row shape of a latent: [d] or [d, 1, 1]; null if `s` is not shaped like one. */
export function latentRow(s: TensorSignature): Dim[] | null {
  if (!isFloat(s) || !s.shape) return null;
  const rest = rowDims(s);
  if (rest.length === 1) return rest;
  if (rest.length === 3 && rest[1] === 1 && rest[2] === 1) return rest;
  return null;
}

export const looksLikeImage = (s: TensorSignature) =>
  isFloat(s) && s.shape?.length === 4 && !(s.shape[2] === 1 && s.shape[3] === 1);
export const size = (dims: readonly Dim[]) =>
  dims.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

export const isScalar = (s: TensorSignature) =>
  s.shape !== null && (s.shape.length === 0 || (s.shape.length === 1 && s.shape[0] === 1));

export type ClassKind = { role: 'class-onehot'; classes: number } | { role: 'class-index'; shape: [] | [1] };

/** How `s` could take a class, or null. */
export function classKind(s: TensorSignature): ClassKind | null {
  if (!hasBatchAxis(s)) return null;
  const rest = rowDims(s);
  if (isFloat(s) && rest.length === 1 && typeof rest[0] === 'number' && rest[0] >= 2)
    return { role: 'class-onehot', classes: rest[0] };
  if ((isInt(s) || s.dtype === 'float32') && (rest.length === 0 || (rest.length === 1 && rest[0] === 1)))
    return { role: 'class-index', shape: rest.length === 0 ? [] : [1] };
  return null;
}
