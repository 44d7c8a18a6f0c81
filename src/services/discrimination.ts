/**
 * Scoring uploaded images with a model's discriminator: the labels its discriminator takes (or refuses), decoding
 * every image to the model's size and channels through the shared decode queue within the decode budgets, then one
 * batched discriminator run.
 */
import type { Config } from '../config.ts';
import { invalid } from '../errors.ts';
import { decodeAllToModel } from '../imaging/codec.ts';
import type { DecodeQueue } from '../imaging/decode-queue.ts';
import type { ModelRuntime, ServedModel } from '../inference/runtime.ts';
import { discriminatePixels, requireDiscriminator, type Verdict } from './images.ts';
import { resolveLabels } from './latents.ts';

export interface ScoreRequest {
  files: Array<{ data: Buffer | Uint8Array; field: string }>;
  /** A label for every image (query), or one per image (JSON body). */
  label?: number | undefined;
  labels?: number[] | undefined;
}

type DecodeLimits = Pick<
  Config,
  'GAN_MAX_IMAGE_PIXELS' | 'GAN_MAX_IMAGE_SIDE' | 'GAN_MAX_IMAGE_ASPECT_RATIO' | 'GAN_MAX_DECODE_PIXELS'
>;

/** Decode uploads to the model's size and channels. @returns uint8 [count, H, W, C] */
async function decodeForModel(
  model: ServedModel,
  files: ScoreRequest['files'],
  limits: DecodeLimits,
  queue: DecodeQueue,
): Promise<Uint8Array> {
  const { width, height, channels } = model.manifest.image;
  const images = await decodeAllToModel(files, {
    width,
    height,
    channels,
    maxPixels: limits.GAN_MAX_IMAGE_PIXELS,
    maxSide: limits.GAN_MAX_IMAGE_SIDE,
    maxAspectRatio: limits.GAN_MAX_IMAGE_ASPECT_RATIO,
    maxTotalPixels: limits.GAN_MAX_DECODE_PIXELS,
    budgetField: files.length === 1 ? files[0]!.field : 'images',
    queue,
  });
  // One image is its own batch: no copy.
  if (images.length === 1) return images[0]!.data;
  const perImage = width * height * channels;
  const out = new Uint8Array(images.length * perImage);
  images.forEach((img, i) => {
    out.set(img.data, i * perImage);
  });
  return out;
}

/** Each image's verdict, in upload order; 409 for a generator-only model, 400 for labels it cannot take. */
export async function scoreUploads(
  runtime: ModelRuntime,
  model: ServedModel,
  request: ScoreRequest,
  limits: DecodeLimits,
  queue: DecodeQueue,
): Promise<Verdict[]> {
  const wantsLabel = requireDiscriminator(model).spec.inputs.some(
    (i) => i.role === 'class-index' || i.role === 'class-onehot',
  );
  if (!wantsLabel && (request.label !== undefined || request.labels !== undefined)) {
    throw invalid(
      request.label !== undefined ? 'label' : 'labels',
      `the discriminator of '${model.name}' takes no label`,
    );
  }
  const labels = wantsLabel
    ? resolveLabels(model, request.files.length, request.label, request.labels)
    : null;
  const pixels = await decodeForModel(model, request.files, limits, queue);
  return discriminatePixels(runtime, model, pixels, labels);
}
