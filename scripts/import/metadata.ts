/**
 * Facts an ONNX file's metadata_props state about the model: a `gan-serve` key holding a JSON object
 * (`{"latentDim": 512, "numClasses": 10, "outputRange": [-1, 1], "outputLayout": "NCHW", "title": …}`) or plain keys
 * (`latent_dim`, `num_classes`, `output_range` "-1,1", `layout`, `title`, `description`, `dataset`, `class_names`).
 * A value that does not parse is reported as a guess and ignored.
 */
import type { Guess, Layout, MetadataFacts, NetworkRole, OutputKind, Range } from './types.ts';

/** Metadata keys, plain and inside the `gan-serve` object, by fact. */
const KEYS: Record<keyof MetadataFacts, readonly string[]> = {
  latentDim: ['latentDim', 'latent_dim', 'z_dim'],
  numClasses: ['numClasses', 'num_classes', 'n_classes'],
  outputRange: ['outputRange', 'output_range'],
  layout: ['outputLayout', 'output_layout', 'layout'],
  outputKind: ['outputKind', 'output_kind'],
  title: ['title'],
  description: ['description'],
  dataset: ['dataset'],
  classNames: ['classNames', 'class_names'],
};

export const GAN_SERVE_KEY = 'gan-serve';

function positiveInt(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : undefined;
}

function parseRange(v: unknown): Range | undefined {
  let parts: unknown = v;
  if (typeof v === 'string') {
    const text = v.trim().replace(/^\[|\]$/g, '');
    parts = text.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
  }
  if (!Array.isArray(parts) || parts.length !== 2) return undefined;
  const [lo, hi] = parts as unknown[];
  if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo) || !Number.isFinite(hi))
    return undefined;
  return lo < hi ? [lo, hi] : undefined;
}

function parseNames(v: unknown): string[] | undefined {
  let list: unknown = v;
  if (typeof v === 'string') {
    try {
      list = JSON.parse(v);
    } catch {
      list = v.split(',').map((s) => s.trim());
    }
  }
  return Array.isArray(list) && list.length >= 2 && list.every((x) => typeof x === 'string' && x !== '')
    ? (list as string[])
    : undefined;
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

const PARSERS: { [K in keyof MetadataFacts]-?: (v: unknown) => MetadataFacts[K] } = {
  latentDim: positiveInt,
  numClasses: positiveInt,
  outputRange: parseRange,
  layout: (v) => (v === 'NCHW' || v === 'NHWC' ? (v as Layout) : undefined),
  outputKind: (v) => (v === 'logit' || v === 'probability' ? (v as OutputKind) : undefined),
  title: text,
  description: text,
  dataset: text,
  classNames: parseNames,
};

/**
 * The facts in one file's metadata_props; unparsable values become guesses (warnings) and are left out.
 * @param network which network's file it is (for the warnings)
 */
export function metadataFacts(
  metadata: Readonly<Record<string, string>>,
  network: NetworkRole,
  guesses: Guess[],
): MetadataFacts {
  const sources: Array<Record<string, unknown>> = [];
  const json = metadata[GAN_SERVE_KEY];
  if (json !== undefined) {
    try {
      const parsed: unknown = JSON.parse(json);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      sources.push(parsed as Record<string, unknown>);
    } catch (err) {
      guesses.push({
        network,
        tensor: null,
        message: `metadata '${GAN_SERVE_KEY}' is not a JSON object (${(err as Error).message}); ignored`,
      });
    }
  }
  sources.push(metadata);
  const facts: MetadataFacts = {};
  for (const fact of Object.keys(KEYS) as Array<keyof MetadataFacts>) {
    for (const source of sources) {
      const key = KEYS[fact].find((k) => source[k] !== undefined);
      if (key === undefined) continue;
      const value = PARSERS[fact](source[key]);
      if (value === undefined) {
        guesses.push({
          network,
          tensor: null,
          message: `metadata '${key}' = ${JSON.stringify(source[key])} is not a valid ${fact}; ignored`,
        });
        continue;
      }
      (facts as Record<string, unknown>)[fact] = value;
      break;
    }
  }
  return facts;
}
