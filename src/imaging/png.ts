/**
 * The PNG writer: 8-bit scanlines (filter 0, nearest-neighbour upscaling) deflated by zlib. Pure Node (no sharp), so
 * inference workers can encode too; codec.ts decides where each image is encoded.
 */
import { crc32, deflateSync } from 'node:zlib';

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
export const PNG_COMPRESSION = 3;

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

/** Bytes of scanline data (filter bytes included) of an image upscaled `scale` times. */
export function scanlineBytes(image: Omit<RawImage, 'data'>, scale: number): number {
  return (image.width * scale * image.channels + 1) * image.height * scale;
}

/** Throws unless `image` holds width × height × channels bytes of 1 to 4 channels. */
export function checkRawImage(image: RawImage): void {
  const { data, width, height, channels } = image;
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `expected ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${data.length}`,
    );
  }
  if (!(channels in COLOUR_TYPE)) throw new RangeError(`expected 1 to 4 channels, got ${channels}`);
}

/** PNG scanlines (filter byte 0, then the row), nearest-neighbour upscaled `scale` times. */
export function scanlines(image: RawImage, scale: number): Buffer {
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

/** Signature, IHDR, one IDAT holding `idat` (the deflated scanlines) and IEND. */
export function assemblePng(width: number, height: number, channels: number, idat: Uint8Array): Buffer {
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

/** The whole PNG, deflated on the calling thread. */
export function encodePngSync(image: RawImage, scale = 1): Buffer {
  checkRawImage(image);
  const idat = deflateSync(scanlines(image, scale), { level: PNG_COMPRESSION });
  return assemblePng(image.width * scale, image.height * scale, image.channels, idat);
}
