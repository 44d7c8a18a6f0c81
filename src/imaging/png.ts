/**
 * PNG in pure Node (zlib, or small-deflate.ts for small images; no sharp): the writer (8-bit scanlines, filter 0,
 * nearest-neighbour upscaling), usable in inference workers too, and a reader for plain 8-bit PNGs of a known size.
 * codec.ts decides which images take these paths and which go to sharp.
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { upscaleRowNearest } from './pixels.ts';
import { SMALL_DEFLATE_MAX_BYTES, smallDeflate } from './small-deflate.ts';

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

/**
 * zlib options for `bytes` of scanlines: PNG_COMPRESSION, and an output buffer large enough for the whole stream.
 * With zlib's default 16 KB chunks a 2.8 MB PNG grid comes back in about 175 pieces, each a round trip between the
 * zlib thread and the event loop (async) or through JavaScript (sync); one buffer takes a quarter less CPU, same bytes.
 */
export function deflateOptions(bytes: number): { level: number; chunkSize: number } {
  return {
    level: PNG_COMPRESSION,
    chunkSize: Math.min(64 << 20, Math.max(16 * 1024, bytes + (bytes >> 8) + 1024)),
  };
}

/** Writes a chunk (length, type, data, CRC of type and data) into `out` at `at`; returns the offset after it. */
function writeChunk(out: Buffer, at: number, type: string, data: Uint8Array): number {
  out.writeUInt32BE(data.length, at);
  out.write(type, at + 4, 'ascii');
  out.set(data, at + 8);
  out.writeUInt32BE(crc32(out.subarray(at + 4, at + 8 + data.length)) >>> 0, at + 8 + data.length);
  return at + 12 + data.length;
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
    upscaleRowNearest(data, src, image.width, channels, scale, raw, first + 1);
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
  // One allocation and one copy of the deflated data: a grid's IDAT runs to megabytes.
  const out = Buffer.allocUnsafe(PNG_SIGNATURE.length + 3 * 12 + ihdr.length + idat.length);
  out.set(PNG_SIGNATURE, 0);
  let at = writeChunk(out, PNG_SIGNATURE.length, 'IHDR', ihdr);
  at = writeChunk(out, at, 'IDAT', idat);
  writeChunk(out, at, 'IEND', new Uint8Array(0));
  return out;
}

/**
 * The whole PNG, deflated on the calling thread: small images (a sample, not a grid) by `smallDeflate`, a third of
 * zlib's time for them, larger ones by zlib at PNG_COMPRESSION. Which one depends on the size alone, so the same
 * pixels always give the same bytes.
 */
export function encodePngSync(image: RawImage, scale = 1): Buffer {
  checkRawImage(image);
  const raw = scanlines(image, scale);
  const idat =
    raw.length <= SMALL_DEFLATE_MAX_BYTES ? smallDeflate(raw) : deflateSync(raw, deflateOptions(raw.length));
  return assemblePng(image.width * scale, image.height * scale, image.channels, idat);
}

/** Ancillary chunks that do not change pixel values (text, time, physical size); any other one means "not plain". */
const INERT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);

/** The four-letter type of the chunk whose type starts at `at`; the common ones without building a string. */
function chunkType(buf: Buffer, at: number): string {
  const t = buf.readUInt32BE(at);
  if (t === 0x49444154) return 'IDAT';
  if (t === 0x49454e44) return 'IEND';
  if (t === 0x49484452) return 'IHDR';
  return buf.toString('latin1', at, at + 4);
}

/** The Paeth predictor of the PNG specification. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a *plain* PNG: 8-bit greyscale (1 channel) or RGB (3 channels), not interlaced, no palette, transparency
 * or colour-management chunks, every CRC right. For such a file the pixels are exactly the unfiltered scanlines,
 * so no resampling or colour conversion can change them. Returns null for anything else (including a damaged
 * file, or one whose header does not match `expected`, checked before anything is inflated), which the caller hands
 * to a full decoder.
 */
export function decodePlainPng(input: Uint8Array, expected: Omit<RawImage, 'data'>): RawImage | null {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.length);
  if (buf.length < 8 + 25 + 12 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let idatOpen = false;
  let ended = false;
  for (let at = 8; at + 12 <= buf.length && !ended; ) {
    const length = buf.readUInt32BE(at);
    if (at + 12 + length > buf.length) return null;
    const type = chunkType(buf, at + 4);
    const body = buf.subarray(at + 8, at + 8 + length);
    if (crc32(buf.subarray(at + 4, at + 8 + length)) >>> 0 !== buf.readUInt32BE(at + 8 + length)) return null;
    if (at === 8) {
      if (type !== 'IHDR' || length !== 13) return null;
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, compression, filter, interlace] = body.subarray(8, 13);
      if (depth !== 8 || compression !== 0 || filter !== 0 || interlace !== 0) return null;
      channels = colour === 0 ? 1 : colour === 2 ? 3 : 0;
      if (width !== expected.width || height !== expected.height || channels !== expected.channels)
        return null;
    } else if (type === 'IDAT') {
      if (idat.length > 0 && !idatOpen) return null; // IDAT chunks must be consecutive (libpng refuses others)
      idat.push(body);
    } else if (type === 'IEND') ended = true;
    else if (!INERT_CHUNKS.has(type)) return null;
    idatOpen = type === 'IDAT';
    at += 12 + length;
  }
  if (!ended || idat.length === 0) return null;
  const stride = width * channels;
  let raw: Buffer;
  try {
    // One output chunk a little larger than the expected size: zlib's default 16 KB chunk was most of this decode's
    // allocation, and a chunk of exactly the size fills up before zlib sees the stream's end and goes round again.
    const expected = (stride + 1) * height;
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat), {
      maxOutputLength: expected,
      chunkSize: expected + 64,
    });
  } catch {
    return null;
  }
  if (raw.length !== (stride + 1) * height) return null;
  const out = new Uint8Array(stride * height);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride; // previous output row (y > 0)
    if (filter === 0) {
      out.set(bytes.subarray(src, src + stride), row);
      continue;
    }
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? out[row + x - channels]! : 0;
      const up = y > 0 ? out[prev + x]! : 0;
      const upLeft = y > 0 && x >= channels ? out[prev + x - channels]! : 0;
      const v = raw[src + x]!;
      let predicted: number;
      if (filter === 0) predicted = 0;
      else if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) predicted = paeth(left, up, upLeft);
      else return null;
      out[row + x] = (v + predicted) & 0xff;
    }
  }
  return { data: out, width, height, channels };
}
