/**
 * From a request's seeds, latents or w-space latents, classes, code and ψ to a `GenerationInput`, checked against the
 * model (latent length, class range, code range, what the model's truncation acts on). Shared by /generate,
 * /interpolate, /discriminate and v2.
 */
import { invalid } from '../errors.ts';
import type { ServedModel } from '../inference/runtime.ts';
import { codesOf, setCode } from '../latent/code.ts';
import { freshSeeds, seededLatents, seedRange, truncate } from '../latent/sampling.ts';
import { truncationMode } from '../models/manifest.ts';
import { type GenerationInput, wShape } from './images.ts';

/** ψ as the z side sees it: the model's own truncation when it truncates in z, else 1 (w space or an input does). */
export function zTruncation(model: ServedModel, psi: number | undefined): number {
  return truncationMode(model.manifest) === 'z' ? (psi ?? 1) : 1;
}

/** Give every latent the requested code; refused for models without a latentCode or past its categories. */
export function applyCode(model: ServedModel, latents: Float32Array, count: number, code: number): void {
  const spec = model.manifest.latentCode;
  if (spec === null) throw invalid('code', `model '${model.name}' reads no code from z; remove code`);
  if (code >= spec.categories) {
    throw invalid('code', `code must be in 0..${spec.categories - 1}, got ${code}`);
  }
  for (let i = 0; i < count; i++) setCode(latents, i, model.manifest.latentDim, spec.categories, code);
}

/** Check a request's labels against the model: required for conditional models, refused otherwise. */
export function resolveLabels(
  model: ServedModel,
  count: number,
  label: number | undefined,
  labels: number[] | undefined,
): number[] | null {
  const classes = model.manifest.numClasses;
  if (classes === null) {
    if (label !== undefined) throw invalid('label', `model '${model.name}' is not conditional; remove label`);
    if (labels !== undefined)
      throw invalid('labels', `model '${model.name}' is not conditional; remove labels`);
    return null;
  }
  if (label === undefined && labels === undefined) {
    throw invalid('label', `model '${model.name}' is conditional: give label (0..${classes - 1}) or labels`);
  }
  const out = labels ?? new Array<number>(count).fill(label!);
  out.forEach((l, i) => {
    if (l >= classes) {
      throw invalid(labels ? `labels[${i}]` : 'label', `label must be in 0..${classes - 1}, got ${l}`);
    }
  });
  return out;
}

/**
 * w-space latents given by a request, one per image: each either the whole w row (numWs × wDim values) or one w
 * (wDim values, repeated for every layer, as StyleGAN's mapping does).
 * @returns float32 [count, ...wShape]
 */
export function wsFromRequest(model: ServedModel, ws: readonly number[][], field = 'ws'): Float32Array {
  const shape = wShape(model);
  if (!shape) {
    throw invalid(
      field,
      `model '${model.name}' has no mapping network, so it takes no w-space latents; use latents`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const wDim = shape[shape.length - 1]!;
  const out = new Float32Array(ws.length * size);
  ws.forEach((w, i) => {
    if (w.length === size) out.set(w, i * size);
    else if (w.length === wDim) for (let k = 0; k < size; k += wDim) out.set(w, i * size + k);
    else {
      throw invalid(
        `${field}[${i}]`,
        `expected ${wDim} values (one w) or ${size} (${shape.join(' × ')}), got ${w.length}`,
      );
    }
  });
  return out;
}

export interface LatentSources {
  seed?: number | undefined;
  seeds?: number[] | undefined;
  latents?: number[][] | undefined;
  ws?: number[][] | undefined;
  count?: number | undefined;
  /** ψ; absent = none, or the model's truncation input default. */
  truncation?: number | undefined;
  label?: number | undefined;
  labels?: number[] | undefined;
  code?: number | undefined;
}

export interface PreparedGeneration {
  input: GenerationInput;
  seeds: Array<number | null>;
  labels: number[] | null;
  count: number;
  /** The code each latent carries (models with a latentCode), when asked for. */
  codes: number[] | null;
  /** The latents fed (z, or w for `ws`), copied before they go to the worker, when asked for. */
  returned: Float32Array | null;
}

/** A request's sources → the model's generation input; `keep` copies the latents, `withCodes` reads their codes. */
export function prepareGeneration(
  model: ServedModel,
  body: LatentSources,
  options: { keep?: boolean; withCodes?: boolean } = {},
): PreparedGeneration {
  const dim = model.manifest.latentDim;
  const psi = body.truncation;
  let seeds: Array<number | null>;
  let input: GenerationInput;
  if (body.ws) {
    if (psi !== undefined && psi !== 1)
      throw invalid(
        'truncation',
        'truncation applies to z through the mapping network; ws are used as given',
      );
    if (body.code !== undefined) throw invalid('code', 'code is read from z; it cannot be set on ws');
    input = { ws: wsFromRequest(model, body.ws), labels: null };
    seeds = body.ws.map(() => null);
  } else {
    let latents: Float32Array;
    if (body.latents) {
      latents = new Float32Array(body.latents.length * dim);
      body.latents.forEach((z, i) => {
        if (z.length !== dim)
          throw invalid(`latents[${i}]`, `expected latent of length ${dim}, got ${z.length}`);
        latents.set(z, i * dim);
      });
      truncate(latents, zTruncation(model, psi));
      seeds = body.latents.map(() => null);
    } else {
      const count = body.seeds?.length ?? body.count ?? 1;
      const list = body.seeds ?? (body.seed !== undefined ? seedRange(body.seed, count) : freshSeeds(count));
      latents = seededLatents(list, dim, zTruncation(model, psi));
      seeds = list;
    }
    input = { latents, labels: null, ...(psi !== undefined ? { truncation: psi } : {}) };
  }
  const count = seeds.length;
  if (body.ws && (body.label !== undefined || body.labels !== undefined))
    throw invalid(
      body.label !== undefined ? 'label' : 'labels',
      'the class goes through the mapping network; ws already carry it',
    );
  const labels = body.ws ? null : resolveLabels(model, count, body.label, body.labels);
  input.labels = labels;
  if (body.code !== undefined) applyCode(model, input.latents!, count, body.code);
  const spec = model.manifest.latentCode;
  const codes =
    spec && options.withCodes && input.latents
      ? Array.from(codesOf(input.latents, count, dim, spec.categories))
      : null;
  const returned = options.keep ? (input.ws ?? input.latents!).slice() : null;
  return { input, seeds, labels, count, codes, returned };
}
