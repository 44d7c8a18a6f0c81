/**
 * Image encoding and decoding with sharp (libvips, on libuv's thread pool: never on the event loop).
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { ServiceError } from '../errors.ts';

export interface RawImage {
  /** uint8 [height, width, channels] */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** PNG zlib level: small images compress to about the same size at 6 and 9; 6 is faster. */
const PNG_COMPRESSION = 6;

/**
 * Images up to this many output bytes are encoded inline: one zlib deflate of a few kilobytes takes microseconds,
 * less than handing a sharp pipeline to libuv's pool and back (measured in docs/benchmarks.md). Larger images (grids,
 * big scales) go to sharp, off the event loop.
 */
export const INLINE_PNG_MAX_BYTES = 16 * 1024;

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit greyscale or RGB PNG with filter 0 rows, nearest-neighbour upscaled `scale` times. */
function encodePngInline(image: RawImage, scale: number): Buffer {
  const { data, channels } = image;
  const width = image.width * scale;
  const height = image.height * scale;
  const rowBytes = width * channels;
  const raw = Buffer.alloc((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const src = Math.floor(y / scale) * image.width * channels;
    let o = y * (rowBytes + 1) + 1; // byte 0 of each row: filter type 0 (none)
    for (let x = 0; x < image.width; x++) {
      for (let r = 0; r < scale; r++) {
        for (let c = 0; c < channels; c++) raw[o++] = data[src + x * channels + c]!;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // greyscale or RGB
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: PNG_COMPRESSION })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Encode raw pixels as PNG, upscaled `scale` times with nearest-neighbour (crisp pixels for 28 px digits). */
export async function encodePng(image: RawImage, scale = 1): Promise<Buffer> {
  const { data, width, height, channels } = image;
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `expected ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${data.length}`,
    );
  }
  if ((channels === 1 || channels === 3) && data.length * scale * scale <= INLINE_PNG_MAX_BYTES) {
    return encodePngInline(image, scale);
  }
  let pipeline = sharp(data, { raw: { width, height, channels: channels as 1 | 3 | 4 } });
  if (scale > 1) pipeline = pipeline.resize(width * scale, height * scale, { kernel: 'nearest' });
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  return pipeline.png({ compressionLevel: PNG_COMPRESSION, adaptiveFiltering: false }).toBuffer();
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
