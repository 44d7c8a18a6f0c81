/**
 * Image encoding and decoding: which image goes where. PNGs are written by png.ts with zlib (small ones on the event
 * loop, larger ones on libuv's thread pool) and only huge ones through sharp; uploads that are plain 8-bit PNGs of
 * the model's size are read by png.ts, everything else by sharp (libvips, on libuv's thread pool).
 */
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { ServiceError } from '../errors.ts';
import type { DecodeQueue } from './decode-queue.ts';
import {
  assemblePng,
  checkRawImage,
  decodePlainPng,
  deflateOptions,
  encodePngSync,
  PNG_COMPRESSION,
  type RawImage,
  scanlineBytes,
  scanlines,
} from './png.ts';

export type { RawImage } from './png.ts';

/**
 * Scanline data up to this many bytes is deflated on the event loop: a few kilobytes take microseconds, less than a
 * hop to libuv's thread pool and back.
 */
export const INLINE_PNG_MAX_BYTES = 16 * 1024;

/**
 * Scanline data up to this many bytes is built here and deflated by zlib on libuv's thread pool; larger images (big
 * grids at big scales) go to sharp, which streams them instead of holding the whole upscaled image in memory.
 */
export const POOLED_PNG_MAX_BYTES = 4 * 1024 * 1024;

/** Which encoder `encodePng` uses for an image whose upscaled scanlines take `bytes`. */
export function pngEncoderFor(bytes: number): 'inline' | 'pool' | 'sharp' {
  return bytes <= INLINE_PNG_MAX_BYTES ? 'inline' : bytes <= POOLED_PNG_MAX_BYTES ? 'pool' : 'sharp';
}

const deflateOnPool = promisify(deflate);

/**
 * Encode raw 8-bit pixels (1–4 channels) as PNG, upscaled `scale` times with nearest-neighbour (crisp pixels for
 * 28 px digits). The same pixels at the same scale always give the same bytes (one size, one encoder).
 */
export async function encodePng(image: RawImage, scale = 1): Promise<Buffer> {
  checkRawImage(image);
  const { data, width, height, channels } = image;
  const encoder = pngEncoderFor(scanlineBytes(image, scale));
  if (encoder === 'inline') return encodePngSync(image, scale);
  if (encoder === 'sharp') {
    let pipeline = sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
    if (scale > 1) pipeline = pipeline.resize(width * scale, height * scale, { kernel: 'nearest' });
    if (channels === 1) pipeline = pipeline.toColourspace('b-w');
    return pipeline.png({ compressionLevel: PNG_COMPRESSION, adaptiveFiltering: false }).toBuffer();
  }
  const raw = scanlines(image, scale);
  const idat = await deflateOnPool(raw, deflateOptions(raw.length));
  return assemblePng(width * scale, height * scale, channels, idat);
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';
export const IMAGE_FORMATS = ['png', 'jpeg', 'webp'] as const;
export const MEDIA_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};
/** JPEG and WebP quality when a request gives none (sharp's default for JPEG is 80; GAN samples want fewer artefacts). */
export const DEFAULT_QUALITY = 90;

/**
 * Encode raw 8-bit pixels as PNG (see `encodePng`), JPEG or WebP, upscaled `scale` times (nearest neighbour).
 * JPEG and WebP are encoded by sharp on libuv's thread pool, off the event loop; the same pixels and settings give
 * the same bytes.
 */
export async function encodeImage(
  image: RawImage,
  format: ImageFormat,
  options: { scale?: number; quality?: number } = {},
): Promise<Buffer> {
  const scale = options.scale ?? 1;
  if (format === 'png') return encodePng(image, scale);
  checkRawImage(image);
  const { data, width, height, channels } = image;
  let pipeline = sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
  if (scale > 1) pipeline = pipeline.resize(width * scale, height * scale, { kernel: 'nearest' });
  const quality = options.quality ?? DEFAULT_QUALITY;
  return format === 'jpeg'
    ? pipeline.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' }).toBuffer()
    : pipeline.webp({ quality }).toBuffer();
}

export interface DecodeOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  /** Largest accepted input, width × height (decompression bombs stop here, before decoding). */
  maxPixels: number;
  /** Longest accepted side, pixels (GAN_MAX_IMAGE_SIDE); decode time grows with rows and columns, not only pixels. */
  maxSide?: number;
  /** Most the input's aspect ratio may differ from width:height, as a factor (GAN_MAX_IMAGE_ASPECT_RATIO). */
  maxAspectRatio?: number;
  /** Where sharp's work waits for a slot (GAN_DECODE_CONCURRENCY); without one it starts at once. */
  queue?: DecodeQueue;
  /** Field name for error messages, e.g. `images[2]`. */
  field: string;
}

const SUPPORTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif']);

/** What an upload holds, read from its header alone: a plain PNG is already decoded (see `decodePlainPng`). */
type Probe = { width: number; height: number } & ({ image: RawImage } | { format: string });

const inQueue = <T>(opts: DecodeOptions, task: () => Promise<T>): Promise<T> =>
  opts.queue ? opts.queue.run(task) : task();

/** Refuse an input whose size or shape would cost far more to decode than the model can use. */
function checkShape(w: number, h: number, opts: DecodeOptions): void {
  if (w * h > opts.maxPixels) {
    throw new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `image is ${w}x${h} = ${w * h} pixels; the limit is ${opts.maxPixels}`,
      opts.field,
    );
  }
  if (opts.maxSide !== undefined && Math.max(w, h) > opts.maxSide) {
    throw new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `image is ${w}x${h}; each side may be at most ${opts.maxSide} pixels (GAN_MAX_IMAGE_SIDE)`,
      opts.field,
    );
  }
  if (opts.maxAspectRatio !== undefined) {
    const ratio = w / h / (opts.width / opts.height);
    const factor = Math.max(ratio, 1 / ratio);
    if (factor > opts.maxAspectRatio) {
      throw new ServiceError(
        'GAN_ERR_IMAGE_ASPECT_RATIO',
        `image is ${w}x${h}, ${Number(factor.toPrecision(4))} times ${ratio > 1 ? 'wider' : 'taller'} than the model's ${opts.width}x${opts.height}; the limit is ${opts.maxAspectRatio} (GAN_MAX_IMAGE_ASPECT_RATIO)`,
        opts.field,
      );
    }
  }
}

/**
 * A plain 8-bit PNG already of the model's size and channels is its own answer (no resize, no colour change), read
 * here without waiting on anything; null for every other upload (an empty one included).
 */
function probePlain(input: Buffer | Uint8Array, opts: Omit<DecodeOptions, 'field'>): Probe | null {
  const plain = decodePlainPng(input, opts);
  return plain ? { width: plain.width, height: plain.height, image: plain } : null;
}

/** Read an upload's header with sharp: its format and size, checked against the limits before anything is decoded. */
async function probeWithSharp(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<Probe> {
  if (input.length === 0) throw new ServiceError('GAN_ERR_UNDECODABLE_IMAGE', 'empty image', opts.field);
  let meta: Metadata;
  try {
    meta = await inQueue(opts, () => sharp(input, { limitInputPixels: false }).metadata());
  } catch {
    throw new ServiceError(
      'GAN_ERR_UNDECODABLE_IMAGE',
      'not a decodable PNG, JPEG, WebP or GIF image',
      opts.field,
    );
  }
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
    throw new ServiceError(
      'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
      `image format '${meta.format ?? 'unknown'}' is not supported (png, jpeg, webp, gif)`,
      opts.field,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  checkShape(width, height, opts);
  return { width, height, format: meta.format };
}

/** Decode a probed upload with sharp (or return the plain PNG the probe already read). */
async function decodeProbed(
  input: Buffer | Uint8Array,
  found: Probe,
  opts: DecodeOptions,
): Promise<RawImage> {
  if ('image' in found) return found.image;
  try {
    const { data, info } = await inQueue(opts, () => {
      let pipeline = sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'error', pages: 1 })
        .flatten({ background: '#000000' })
        .resize(opts.width, opts.height, { fit: 'fill', kernel: 'lanczos3' });
      pipeline = opts.channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb');
      return pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    });
    if (info.channels !== opts.channels || info.width !== opts.width || info.height !== opts.height) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      channels: info.channels,
    };
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    // libvips' own words ("vipspng: libpng read error") name its internals, not the client's mistake.
    throw new ServiceError(
      'GAN_ERR_UNDECODABLE_IMAGE',
      `the ${found.format.toUpperCase()} image data is corrupt or truncated`,
      opts.field,
      { cause: err },
    );
  }
}

/**
 * Decode an image (PNG, JPEG, WebP, first frame of a GIF), flatten alpha onto black, convert to the model's
 * channels and resize to its size.
 * @returns uint8 [height, width, channels]
 */
export async function decodeToModel(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<RawImage> {
  return decodeProbed(input, probePlain(input, opts) ?? (await probeWithSharp(input, opts)), opts);
}

/** The full decoder behind `decodeToModel`: any supported format, size or colour, through sharp. */
export async function decodeWithSharp(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<RawImage> {
  return decodeProbed(input, await probeWithSharp(input, opts), opts);
}

/**
 * Decode every image of one request, in order, under a pixel budget for all of them together: every header is read
 * and checked first (413 naming `budgetField` past `maxTotalPixels`), so a request over budget costs no decoding.
 * @returns uint8 [height, width, channels] per input
 */
export async function decodeAllToModel(
  inputs: ReadonlyArray<{ data: Buffer | Uint8Array; field: string }>,
  opts: Omit<DecodeOptions, 'field'> & { maxTotalPixels: number; budgetField: string },
): Promise<RawImage[]> {
  const probes: Probe[] = [];
  // Headers in order, a few at a time: plain PNGs are decoded here on the event loop, so yield between them.
  let sliceStart = performance.now();
  let allPlain = true;
  for (const input of inputs) {
    const plain = probePlain(input.data, opts);
    allPlain &&= plain !== null;
    probes.push(plain ?? (await probeWithSharp(input.data, { ...opts, field: input.field })));
    if (performance.now() - sliceStart > PROBE_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  const total = probes.reduce((sum, p) => sum + p.width * p.height, 0);
  if (total > opts.maxTotalPixels) {
    throw new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `the ${inputs.length} images hold ${total} pixels together; the limit is ${opts.maxTotalPixels} (GAN_MAX_DECODE_PIXELS)`,
      opts.budgetField,
    );
  }
  // Plain PNGs are decoded already: nothing to wait for.
  if (allPlain) return probes.map((p) => (p as { image: RawImage }).image);
  return Promise.all(
    inputs.map((input, i) => decodeProbed(input.data, probes[i]!, { ...opts, field: input.field })),
  );
}

/** Longest stretch of header reading (and plain-PNG decoding) on the event loop before yielding, ms. */
const PROBE_SLICE_MS = 5;
