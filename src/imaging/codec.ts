/**
 * Image encoding and decoding: which image goes where. PNGs are written by png.ts with zlib (small ones on the event
 * loop, larger ones on libuv's thread pool) and only huge ones through sharp; uploads that are plain 8-bit PNGs of
 * the model's size are read by png.ts, everything else by sharp (libvips, on libuv's thread pool).
 */
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { ServiceError } from '../errors.ts';
import {
  assemblePng,
  checkRawImage,
  decodePlainPng,
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
  const idat = await deflateOnPool(scanlines(image, scale), { level: PNG_COMPRESSION });
  return assemblePng(width * scale, height * scale, channels, idat);
}

export interface DecodeOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  /** Largest accepted input, width × height (decompression bombs stop here, before decoding). */
  maxPixels: number;
  /** Field name for error messages, e.g. `images[2]`. */
  field: string;
}

const SUPPORTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif']);

/**
 * Decode an image (PNG, JPEG, WebP, first frame of a GIF), flatten alpha onto black, convert to the model's
 * channels and resize to its size.
 * @returns uint8 [height, width, channels]
 */
export async function decodeToModel(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<RawImage> {
  if (input.length === 0) throw new ServiceError('GAN_ERR_UNDECODABLE_IMAGE', 'empty image', opts.field);
  // A plain 8-bit PNG already of the model's size and channels is its own answer: no resize, no colour change.
  return decodePlainPng(input, opts) ?? decodeWithSharp(input, opts);
}

/** The full decoder behind `decodeToModel`: any supported format, size or colour, through sharp. */
export async function decodeWithSharp(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<RawImage> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
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
  const w = meta.width ?? 0;
  const h = meta.pageHeight ?? meta.height ?? 0;
  if (w * h > opts.maxPixels) {
    throw new ServiceError(
      'GAN_ERR_PAYLOAD_TOO_LARGE',
      `image is ${w}x${h} = ${w * h} pixels; the limit is ${opts.maxPixels}`,
      opts.field,
    );
  }
  try {
    let pipeline = sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'error', pages: 1 })
      .flatten({ background: '#000000' })
      .resize(opts.width, opts.height, { fit: 'fill', kernel: 'lanczos3' });
    pipeline = opts.channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
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
    throw new ServiceError(
      'GAN_ERR_UNDECODABLE_IMAGE',
      `image could not be decoded: ${(err as Error).message.split('\n')[0]}`,
      opts.field,
    );
  }
}
