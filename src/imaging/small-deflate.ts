/**
 * A zlib stream (RFC 1950/1951) for small inputs, in JavaScript: greedy LZ77 over a hash of the next three bytes and
 * one block of deflate's fixed Huffman codes, or stored blocks when those come out smaller. Built for the scanlines
 * of one small image (a 28×28 sample is 812 bytes), where zlib's per-call cost — a stream object and its native
 * state, each call — is most of the time: this takes a fraction of it and compresses such images about as well as
 * zlib level 3 (docs/benchmarks.md, "What sets the defaults and the hot path"). The same input always gives the
 * same bytes.
 */

/**
 * Largest input deflated here; larger ones go to zlib. Against zlib level 3 on a generated digit's scanlines
 * (`npx tsx scripts/bench/codec.ts` and the same digit upscaled): 812 bytes 6.7 against 33.9 µs, 3,192 bytes (×2)
 * 16.7 against 23.5 µs, 12,656 bytes (×4) 50.2 against 30.6 µs, where zlib's matching pulls ahead.
 */
export const SMALL_DEFLATE_MAX_BYTES = 4 * 1024;

const MIN_MATCH = 3;
const MAX_MATCH = 258;
/** Candidates tried per position: enough for the runs and repeated rows of an image, bounded for noise. */
const MAX_CHAIN = 4;
/** Longest match whose positions all enter the hash chains (zlib's `max_insert_length` at levels 1–3 is 4–6). */
const MAX_INSERT = 6;
const HASH_BITS = 12;
const HASH_SIZE = 1 << HASH_BITS;

/** Deflate's length codes: base length and extra bits of codes 257…285. */
const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
  227, 258,
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
/** Deflate's distance codes: base distance and extra bits of codes 0…29. */
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];

/** `bits` low bits of `code`, reversed: Huffman codes go into deflate's LSB-first stream most significant bit first. */
function reverse(code: number, bits: number): number {
  let out = 0;
  for (let i = 0; i < bits; i++) out |= ((code >> i) & 1) << (bits - 1 - i);
  return out;
}

/** The fixed literal/length code (RFC 1951 3.2.6), reversed, and its length, for symbols 0…287. */
const LIT_CODE = new Uint16Array(288);
const LIT_BITS = new Uint8Array(288);
for (let s = 0; s < 288; s++) {
  const [code, bits] =
    s < 144 ? [0x30 + s, 8] : s < 256 ? [0x190 + s - 144, 9] : s < 280 ? [s - 256, 7] : [0xc0 + s - 280, 8];
  LIT_CODE[s] = reverse(code, bits);
  LIT_BITS[s] = bits;
}
/** Fixed distance codes are five bits, reversed. */
const DIST_CODE = Uint8Array.from({ length: 30 }, (_, d) => reverse(d, 5));
/** Length 3…258 → its length code's index (0…28). */
const LENGTH_INDEX = new Uint8Array(MAX_MATCH + 1);
for (let i = 0; i < LENGTH_BASE.length; i++) {
  const end = i + 1 < LENGTH_BASE.length ? LENGTH_BASE[i + 1]! : MAX_MATCH + 1;
  for (let len = LENGTH_BASE[i]!; len < end; len++) LENGTH_INDEX[len] = i;
}

/** Distance 1…32768 → its distance code (0…29). */
function distanceCode(dist: number): number {
  let lo = 0;
  let hi = DIST_BASE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (DIST_BASE[mid]! <= dist) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Adler-32 of `data` (RFC 1950), the zlib stream's trailer. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = data.length;
  for (let i = 0; i < n; ) {
    // 3,800 bytes keep both sums far below 2^53 and within 32-bit ops before the modulo.
    const end = Math.min(n, i + 3800);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Head of each hash chain and the previous position with the same hash, reused between calls (one thread). */
const head = new Int32Array(HASH_SIZE);
const prev = new Int32Array(SMALL_DEFLATE_MAX_BYTES);

const hash3 = (d: Uint8Array, i: number) =>
  Math.imul((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!, 0x9e3779b1) >>> (32 - HASH_BITS);

/**
 * The fixed-Huffman block of `data` (BFINAL set) into `out` from byte 2; returns the end offset, or −1 once the block
 * grows past the stored form's size (noise), which the caller then writes instead. Bits are written inline, not
 * through a helper: a closure over the bit buffer costs more than the rest of the loop.
 */
function fixedBlock(data: Uint8Array, out: Uint8Array): number {
  const n = data.length;
  head.fill(-1);
  const chains = prev;
  const giveUp = n + 8;
  let pos = 2;
  let buf = 0b011; // BFINAL 1, BTYPE 01 (fixed Huffman codes), least significant bit first
  let count = 3;
  let i = 0;
  while (i < n) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + MIN_MATCH <= n) {
      const h = hash3(data, i);
      let candidate = head[h]!;
      chains[i] = candidate;
      head[h] = i;
      const limit = Math.min(n - i, MAX_MATCH);
      for (let chain = 0; candidate >= 0 && chain < MAX_CHAIN; chain++) {
        if (data[candidate + bestLen] === data[i + bestLen]) {
          let len = 0;
          while (len < limit && data[candidate + len] === data[i + len]) len++;
          if (len > bestLen) {
            bestLen = len;
            bestDist = i - candidate;
            if (len === limit) break;
          }
        }
        candidate = chains[candidate]!;
      }
    }
    if (bestLen >= MIN_MATCH) {
      const li = LENGTH_INDEX[bestLen]!;
      buf |= LIT_CODE[257 + li]! << count;
      count += LIT_BITS[257 + li]!;
      buf |= (bestLen - LENGTH_BASE[li]!) << count;
      count += LENGTH_EXTRA[li]!;
      while (count >= 8) {
        out[pos++] = buf & 0xff;
        buf >>>= 8;
        count -= 8;
      }
      const dc = distanceCode(bestDist);
      buf |= DIST_CODE[dc]! << count;
      count += 5;
      buf |= (bestDist - DIST_BASE[dc]!) << count;
      count += DIST_EXTRA[dc]!;
      // The positions a short match covers join their hash chains (position i already has); those inside a long
      // match do not (zlib's fast levels do the same): an upscaled image is mostly long matches.
      const last = bestLen <= MAX_INSERT ? Math.min(i + bestLen, n - MIN_MATCH + 1) : i + 1;
      for (let k = i + 1; k < last; k++) {
        const hk = hash3(data, k);
        chains[k] = head[hk]!;
        head[hk] = k;
      }
      i += bestLen;
    } else {
      const v = data[i]!;
      buf |= LIT_CODE[v]! << count;
      count += LIT_BITS[v]!;
      i++;
    }
    while (count >= 8) {
      out[pos++] = buf & 0xff;
      buf >>>= 8;
      count -= 8;
    }
    if (pos > giveUp) return -1;
  }
  buf |= LIT_CODE[256]! << count; // end of block
  count += LIT_BITS[256]!;
  while (count > 0) {
    out[pos++] = buf & 0xff;
    buf >>>= 8;
    count -= 8;
  }
  return pos;
}

/** Stored blocks (no compression) of `data` into `out` from byte 2; returns the end offset. */
function storedBlocks(data: Uint8Array, out: Uint8Array): number {
  let pos = 2;
  let at = 0;
  do {
    const len = Math.min(65535, data.length - at);
    out[pos++] = at + len >= data.length ? 1 : 0; // BFINAL, BTYPE 00, padded to the byte
    out[pos++] = len & 0xff;
    out[pos++] = len >> 8;
    out[pos++] = ~len & 0xff;
    out[pos++] = (~len >> 8) & 0xff;
    out.set(data.subarray(at, at + len), pos);
    pos += len;
    at += len;
  } while (at < data.length);
  return pos;
}

/**
 * `data` (at most `SMALL_DEFLATE_MAX_BYTES`) as a complete zlib stream, as `zlib.deflateSync` would return it up to
 * the choice of matches: any inflater reads it back to the same bytes.
 */
export function smallDeflate(data: Uint8Array): Buffer {
  if (data.length > SMALL_DEFLATE_MAX_BYTES) {
    throw new RangeError(`smallDeflate takes at most ${SMALL_DEFLATE_MAX_BYTES} bytes, got ${data.length}`);
  }
  // Room for the stored form (5 bytes per 65,535) or the fixed one (given up past data + 8), header and trailer.
  const out = Buffer.allocUnsafe(data.length + 5 * Math.ceil((data.length + 1) / 65535) + 16 + 6);
  out[0] = 0x78; // CMF: deflate, 32 KB window
  out[1] = 0x01; // FLG: fastest compression, no dictionary; (0x78 × 256 + 0x01) is a multiple of 31
  let end = fixedBlock(data, out);
  if (end < 0) end = storedBlocks(data, out);
  out.writeUInt32BE(adler32(data), end);
  return out.subarray(0, end + 4);
}
