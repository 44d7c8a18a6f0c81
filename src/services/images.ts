/**
 * Running the generator and discriminator of a served model on already-validated inputs. Used by every route
 * that makes or scores images (/generate, /discriminate, /interpolate, diagnostics, v2 infer).
 */

import { encodePng, pngEncoderFor } from '../imaging/codec.ts';
import { pixelsToFloat } from '../imaging/pixels.ts';
import { scanlineBytes } from '../imaging/png.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import { labelFeed, networkKey } from '../inference/runtime.ts';
import type { NetworkRequest, NetworkResult } from '../inference/scheduler.ts';
import { imageRowDims } from '../models/manifest.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));

function runGenerator(
  runtime: ModelRuntime,
  model: ServedModel,
  latents: Float32Array,
  labels: readonly number[] | null,
  png: { scale: number } | null,
): Promise<NetworkResult> {
  const m = model.manifest;
  const g = m.generator;
  const count = latents.length / m.latentDim;
  const inputs: NetworkRequest['inputs'] = {
    [g.latentInput]: { type: 'float32', data: latents, rowDims: [m.latentDim] },
  };
  if (g.labelInput) {
    inputs[g.labelInput] = labelFeed(
      labels ?? new Array<number>(count).fill(0),
      g.labelDtype,
      model.generator.info,
      g.labelInput,
    );
  }
  return runtime.run({
    key: networkKey(model.name, 'generator'),
    model: model.name,
    network: 'generator',
    rows: count,
    inputs,
    outputs: [g.output],
    postprocess: {
      kind: 'image-uint8',
      output: g.output,
      range: g.outputRange,
      layout: g.outputLayout,
      height: m.image.height,
      width: m.image.width,
      channels: m.image.channels,
      ...(png ? { png } : {}),
    },
  });
}

/**
 * @param latents float32 [count, latentDim]; transferred to the inference worker (the buffer detaches)
 * @param labels class ids, one per image, for conditional models (else null)
 * @returns uint8 [count, H, W, C]
 */
export async function generatePixels(
  runtime: ModelRuntime,
  model: ServedModel,
  latents: Float32Array,
  labels: readonly number[] | null,
): Promise<Uint8Array> {
  return (await runGenerator(runtime, model, latents, labels, null)).pixels!;
}

/**
 * One PNG per image, byte-identical to `encodePng` of the same pixels. Small images (the inline tier of
 * `pngEncoderFor`, e.g. a 28×28 digit up to scale 4) are encoded by the inference worker right after its run, off
 * the event loop; larger ones come back as pixels and are encoded here, on libuv's pool or by sharp, so that a big
 * request never holds a worker (and the batches behind it) through dozens of deflates.
 * @param latents float32 [count, latentDim]; transferred to the inference worker (the buffer detaches)
 */
export async function generatePngs(
  runtime: ModelRuntime,
  model: ServedModel,
  latents: Float32Array,
  labels: readonly number[] | null,
  scale: number,
): Promise<Uint8Array[]> {
  const { width, height, channels } = model.manifest.image;
  if (pngEncoderFor(scanlineBytes({ width, height, channels }, scale)) !== 'inline') {
    const pixels = await generatePixels(runtime, model, latents, labels);
    const perImage = width * height * channels;
    return Promise.all(
      Array.from({ length: pixels.length / perImage }, (_, i) =>
        encodePng(
          { data: pixels.subarray(i * perImage, (i + 1) * perImage), width, height, channels },
          scale,
        ),
      ),
    );
  }
  return (await runGenerator(runtime, model, latents, labels, { scale })).pngs!;
}

export interface Verdict {
  probabilityReal: number;
  logit: number;
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
  const d = m.discriminator;
  const { width, height, channels } = m.image;
  const count = pixels.length / (width * height * channels);
  const data = pixelsToFloat(pixels, d.inputRange, d.inputLayout, height, width, channels);
  const inputs: NetworkRequest['inputs'] = {
    [d.input]: {
      type: 'float32',
      data,
      rowDims: imageRowDims(d.inputLayout, m.image),
    },
  };
  if (d.labelInput) {
    inputs[d.labelInput] = labelFeed(
      labels ?? new Array<number>(count).fill(0),
      d.labelDtype,
      model.discriminator.info,
      d.labelInput,
    );
  }
  const result = await runtime.run({
    key: networkKey(model.name, 'discriminator'),
    model: model.name,
    network: 'discriminator',
    rows: count,
    inputs,
    outputs: [d.output],
  });
  const out = result.outputs[d.output]!.data as Float32Array;
  return Array.from(out, (v) =>
    d.outputKind === 'logit'
      ? { probabilityReal: sigmoid(v), logit: v }
      : { probabilityReal: v, logit: logit(v) },
  );
}
