/**
 * Image encoding and decoding. PNGs are written here with zlib (small ones on the event loop, larger ones on libuv's
 * thread pool) and only huge ones through sharp; decoding is sharp's (libvips, on libuv's thread pool).
 */
import { promisify } from 'node:util';
import { crc32, deflate, deflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { ServiceError } from '../errors.ts';

export interface RawImage {
  /** uint8 [height, width, channels] */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * PNG zlib level. Measured on a 64-digit grid (238×238 greyscale, the shipped generator's output): level 3
 * deflated in 0.64 ms to 16.2 KB, level 6 in 1.24 ms to 15.7 KB, level 9 in 16 ms to 15.3 KB, and sharp's whole
 * PNG pipeline took 2.66 ms (median of 200, one process); see docs/benchmarks.md.
 */
const PNG_COMPRESSION = 3;

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

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG colour type by channel count: greyscale, greyscale + alpha, RGB, RGBA. */
const COLOUR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** PNG scanlines (filter byte 0, then the row), nearest-neighbour upscaled `scale` times. */
function scanlines(image: RawImage, scale: number): Buffer {
  const { data, channels } = image;
  const rowBytes = image.width * scale * channels;
  const stride = rowBytes + 1;
  const raw = Buffer.alloc(stride * image.height * scale); // zero-filled: every filter byte is 0 (none)
  for (let y = 0; y < image.height; y++) {
    const src = y * image.width * channels;
    const first = y * scale * stride;
    if (scale === 1) {
      raw.set(data.subarray(src, src + rowBytes), first + 1);
      continue;
    }
    let o = first + 1;
    for (let x = 0; x < image.width; x++) {
      for (let r = 0; r < scale; r++) {
        for (let c = 0; c < channels; c++) raw[o++] = data[src + x * channels + c]!;
      }
    }
    // The other scale − 1 output rows repeat the first, filter byte included.
    for (let r = 1; r < scale; r++) raw.copyWithin(first + r * stride, first, first + stride);
  }
  return raw;
}

function assemblePng(width: number, height: number, channels: number, idat: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOUR_TYPE[channels]!;
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Encode raw 8-bit pixels (1–4 channels) as PNG, upscaled `scale` times with nearest-neighbour (crisp pixels for
 * 28 px digits). The same pixels at the same scale always give the same bytes (one size, one encoder).
 */
export async function encodePng(image: RawImage, scale = 1): Promise<Buffer> {
  const { data, width, height, channels } = image;
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `expected ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${data.length}`,
    );
  }
  if (!(channels in COLOUR_TYPE)) throw new RangeError(`expected 1 to 4 channels, got ${channels}`);
  const encoder = pngEncoderFor((width * scale * channels + 1) * height * scale);
  if (encoder === 'sharp') {
    let pipeline = sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
    if (scale > 1) pipeline = pipeline.resize(width * scale, height * scale, { kernel: 'nearest' });
    if (channels === 1) pipeline = pipeline.toColourspace('b-w');
    return pipeline.png({ compressionLevel: PNG_COMPRESSION, adaptiveFiltering: false }).toBuffer();
  }
  const raw = scanlines(image, scale);
  const idat =
    encoder === 'inline'
      ? deflateSync(raw, { level: PNG_COMPRESSION })
      : await deflateOnPool(raw, { level: PNG_COMPRESSION });
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
