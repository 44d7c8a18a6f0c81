/**
 * Running a served model's networks on already-validated inputs: z (or w) → image through the generator (and the
 * mapping network of a StyleGAN-style model, with truncation in w space), images → scores through the
 * discriminator. Used by every route that makes or scores images (/generate, /discriminate, /interpolate,
 * diagnostics, v2 infer).
 */

import { ServiceError } from '../errors.ts';
import { encodeImage, encodePng, type ImageFormat, pngEncoderFor } from '../imaging/codec.ts';
import { pixelsToFloat } from '../imaging/pixels.ts';
import { scanlineBytes } from '../imaging/png.ts';
import { imageRows } from '../imaging/row-steps.ts';
import { type RowPostprocess, wholeBuffer } from '../inference/protocol.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import { modelKey } from '../inference/runtime.ts';
import type { NetworkResult } from '../inference/scheduler.ts';
import { feedsFor } from '../models/feeds.ts';
import { inputOf } from '../models/manifest.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));
const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** What to generate: z (through the mapping network, if any) or w-space latents, with classes and ψ. */
export interface GenerationInput {
  /**
   * float32 [count, latentDim]: z as the model takes it (for a model that truncates in z, already scaled by ψ).
   * Transferred to the inference worker (the buffer detaches).
   */
  latents?: Float32Array;
  /** float32 [count, wSize] (see `wShape`): w-space latents for a model with a mapping network, used as given. */
  ws?: Float32Array;
  /** Class ids, one per image, for conditional models (else null). */
  labels: readonly number[] | null;
  /** ψ for truncation in w space (mapping networks) or for a truncation input; 1 = none. */
  truncation?: number;
  /** Aborts when nobody waits for the images any more: queued work is dropped (see `NetworkRequest.signal`). */
  signal?: AbortSignal;
}

/** Values per image of a model's w-space latents (the synthesis network's w-latent row), or null without one. */
export function wShape(model: ServedModel): number[] | null {
  return model.generator.inputs.find((i) => i.spec.role === 'w-latent')?.dims ?? null;
}

/** How many images an input describes. */
function countOf(model: ServedModel, input: GenerationInput): number {
  if (input.ws) return input.ws.length / product(wShape(model) ?? [1]);
  return input.latents!.length / model.manifest.latentDim;
}

/**
 * z → w through the mapping network, truncated toward w_avg: w ← w_avg + ψ (w − w_avg) (StyleGAN's truncation
 * trick), and broadcast to the synthesis network's [numWs, wDim] when the mapping gives one w per image.
 * @param latents float32 [count, latentDim]; transferred
 * @returns float32 [count, ...wShape]
 */
export async function mapLatents(
  runtime: ModelRuntime,
  model: ServedModel,
  latents: Float32Array,
  labels: readonly number[] | null,
  truncation = 1,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const map = model.manifest.mapping;
  const state = model.mapping;
  if (!map || !state) throw new Error(`model '${model.name}' has no mapping network`);
  const rows = latents.length / model.manifest.latentDim;
  const feeds = feedsFor(state.inputs, { rows, latents, labels }, model.manifest.numClasses, state.fixed);
  const result = await runtime.run({
    key: modelKey(model, 'mapping'),
    model: model.name,
    network: 'mapping',
    rows,
    ...feeds,
    outputs: [map.output],
    signal,
  });
  const w = result.outputs[map.output]!.data as Float32Array;
  const size = w.length / rows;
  if (truncation !== 1 && model.wAvg) {
    const avg = model.wAvg.data;
    for (let i = 0; i < w.length; i++) {
      const a = avg[i % size]!;
      w[i] = a + truncation * (w[i]! - a);
    }
  }
  const target = product(wShape(model)!);
  if (target === size) return w;
  const out = new Float32Array(rows * target);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * size, (r + 1) * size);
    for (let k = 0; k < target; k += size) out.set(row, r * target + k);
  }
  return out;
}

/** Each served model version's row steps by PNG scale (0: pixels): built once, not per request. */
const imageSteps = new WeakMap<ServedModel, Map<number, RowPostprocess>>();

/** The step that turns the generator's output into pixels, or into PNGs at `png.scale`. */
function imageStep(model: ServedModel, png: { scale: number } | null): RowPostprocess {
  let byScale = imageSteps.get(model);
  if (!byScale) {
    byScale = new Map();
    imageSteps.set(model, byScale);
  }
  const scale = png?.scale ?? 0;
  let step = byScale.get(scale);
  if (!step) {
    const { generator: g, image } = model.manifest;
    step = imageRows(
      g.output,
      {
        range: g.outputRange,
        layout: g.outputLayout,
        height: image.height,
        width: image.width,
        channels: image.channels,
      },
      png ?? undefined,
    );
    byScale.set(scale, step);
  }
  return step;
}

async function runGenerator(
  runtime: ModelRuntime,
  model: ServedModel,
  input: GenerationInput,
  png: { scale: number } | null,
): Promise<NetworkResult> {
  const m = model.manifest;
  const g = m.generator;
  const count = countOf(model, input);
  let ws = input.ws;
  if (m.mapping && !ws) {
    ws = await mapLatents(runtime, model, input.latents!, input.labels, input.truncation, input.signal);
  }
  const truncation = inputOf(g, 'truncation') ? input.truncation : undefined;
  const feeds = feedsFor(
    model.generator.inputs,
    { rows: count, latents: input.latents, ws, labels: input.labels, truncation },
    m.numClasses,
    model.generator.fixed,
  );
  return runtime.run({
    key: modelKey(model, 'generator'),
    model: model.name,
    network: 'generator',
    rows: count,
    ...feeds,
    outputs: [g.output],
    postprocess: imageStep(model, png),
    signal: input.signal,
  });
}

/**
 * @returns uint8 [count, H, W, C]
 */
export async function generatePixels(
  runtime: ModelRuntime,
  model: ServedModel,
  input: GenerationInput,
): Promise<Uint8Array> {
  const rows = (await runGenerator(runtime, model, input, null)).rows!;
  if (rows.length === 1) return rows[0]!;
  // A request that had its batch to itself gets its rows as views of one array: no copy to join them.
  const whole = wholeBuffer(rows);
  if (whole) return whole;
  const out = new Uint8Array(rows.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const r of rows) {
    out.set(r, offset);
    offset += r.length;
  }
  return out;
}

/**
 * One PNG per image, byte-identical to `encodePng` of the same pixels. Small images (the inline tier of
 * `pngEncoderFor`, e.g. a 28×28 digit up to scale 4) are encoded by the inference worker right after its run, off
 * the event loop; larger ones come back as pixels and are encoded here, on libuv's pool or by sharp, so that a big
 * request never holds a worker (and the batches behind it) through dozens of deflates.
 */
export async function generatePngs(
  runtime: ModelRuntime,
  model: ServedModel,
  input: GenerationInput,
  scale: number,
): Promise<Uint8Array[]> {
  const { width, height, channels } = model.manifest.image;
  if (pngEncoderFor(scanlineBytes({ width, height, channels }, scale)) !== 'inline') {
    const rows = (await runGenerator(runtime, model, input, null)).rows!;
    return Promise.all(rows.map((data) => encodePng({ data, width, height, channels }, scale)));
  }
  return (await runGenerator(runtime, model, input, { scale })).rows!;
}

/** Encode each image of a batch of pixels (uint8 [count, H, W, C]) in `format`, on libuv's pool (sharp or zlib). */
export function encodeEach(
  pixels: Uint8Array,
  model: ServedModel,
  format: ImageFormat,
  options: { scale: number; quality?: number | undefined },
): Promise<Buffer[]> {
  const { width, height, channels } = model.manifest.image;
  const per = width * height * channels;
  return Promise.all(
    Array.from({ length: pixels.length / per }, (_, i) =>
      encodeImage({ data: pixels.subarray(i * per, (i + 1) * per), width, height, channels }, format, {
        scale: options.scale,
        ...(options.quality !== undefined ? { quality: options.quality } : {}),
      }),
    ),
  );
}

/** 413 when a request's images hold more pixels than GAN_MAX_REQUEST_PIXELS. */
export function checkPixelBudget(model: ServedModel, count: number, budget: number, field = 'count'): void {
  const { width, height } = model.manifest.image;
  const pixels = count * width * height;
  if (pixels > budget) {
    throw new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `${count} images of ${width}×${height} are ${pixels} pixels; the budget per request is ${budget} (GAN_MAX_REQUEST_PIXELS)`,
      field,
    );
  }
}

export interface Verdict {
  probabilityReal: number;
  logit: number;
}

/** The model's discriminator, or a 409 naming the model for a generator-only one. */
export function requireDiscriminator(model: ServedModel, field = 'model') {
  const d = model.manifest.discriminator;
  if (!d || !model.discriminator) {
    throw new ServiceError(
      'GAN_ERR_NO_DISCRIMINATOR',
      `model '${model.name}' has no discriminator: it serves generation only`,
      field,
    );
  }
  return { spec: d, state: model.discriminator };
}

/**
 * Score images with the discriminator.
 * @param pixels uint8 [count, H, W, C] at the model's size and channels
 */
export async function discriminatePixels(
  runtime: ModelRuntime,
  model: ServedModel,
  pixels: Uint8Array,
  labels: readonly number[] | null,
): Promise<Verdict[]> {
  const m = model.manifest;
  const { spec: d, state } = requireDiscriminator(model);
  const { width, height, channels } = m.image;
  const count = pixels.length / (width * height * channels);
  const images = pixelsToFloat(pixels, d.inputRange, d.inputLayout, height, width, channels);
  const feeds = feedsFor(state.inputs, { rows: count, images, labels }, m.numClasses, state.fixed);
  const result = await runtime.run({
    key: modelKey(model, 'discriminator'),
    model: model.name,
    network: 'discriminator',
    rows: count,
    ...feeds,
    outputs: [d.output],
  });
  const out = result.outputs[d.output]!.data as Float32Array;
  return Array.from(out, (v) =>
    d.outputKind === 'logit'
      ? { probabilityReal: sigmoid(v), logit: v }
      : { probabilityReal: v, logit: logit(v) },
  );
}
