/**
 * Pure tensor ↔ pixel conversions, shape-checked. No I/O here: encoding and decoding live in codec.ts.
 */

/**
 * Map model outputs to uint8 pixels: clamp to `range`, scale to [0, 255], round half up.
 * @param data float32 [N, H, W, C] (NHWC) or [N, C, H, W] (NCHW), values nominally in `range`
 * @returns uint8 [N, H, W, C]
 */
export function floatToPixels(
  data: Float32Array,
  range: readonly [number, number],
  layout: 'NHWC' | 'NCHW',
  height: number,
  width: number,
  channels: number,
): Uint8Array {
  const perImage = height * width * channels;
  if (data.length % perImage !== 0) {
    throw new RangeError(`expected a multiple of ${height}x${width}x${channels} values, got ${data.length}`);
  }
  const [lo, hi] = range;
  const scale = 255 / (hi - lo);
  // y = (v − lo) · scale + 0.5: storing a y in (0.5, 255) into a Uint8Array truncates it, which is floor(x + 0.5) of
  // x = y − 0.5 (round half up). NaN fails both comparisons and maps to 0; out-of-range values saturate.
  const offset = 0.5 - lo * scale;
  const out = new Uint8Array(data.length);
  if (layout === 'NHWC' || channels === 1) {
    for (let i = 0; i < data.length; i++) {
      const y = data[i]! * scale + offset;
      out[i] = y >= 255 ? 255 : y > 0.5 ? y : 0;
    }
    return out;
  }
  const n = data.length / perImage;
  const plane = height * width;
  for (let b = 0; b < n; b++) {
    const base = b * perImage;
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < plane; p++) {
        const y = data[base + c * plane + p]! * scale + offset;
        out[base + p * channels + c] = y >= 255 ? 255 : y > 0.5 ? y : 0;
      }
    }
  }
  return out;
}

/**
 * Map uint8 pixels (NHWC) to the model's input range and layout.
 * @param pixels uint8 [N, H, W, C]
 * @returns float32 [N, H, W, C] or [N, C, H, W], values in `range`
 */
export function pixelsToFloat(
  pixels: Uint8Array,
  range: readonly [number, number],
  layout: 'NHWC' | 'NCHW',
  height: number,
  width: number,
  channels: number,
): Float32Array {
  const perImage = height * width * channels;
  if (pixels.length % perImage !== 0) {
    throw new RangeError(
      `expected a multiple of ${height}x${width}x${channels} pixels, got ${pixels.length}`,
    );
  }
  const [lo, hi] = range;
  const scale = (hi - lo) / 255;
  const out = new Float32Array(pixels.length);
  if (layout === 'NHWC' || channels === 1) {
    for (let i = 0; i < pixels.length; i++) out[i] = lo + pixels[i]! * scale;
    return out;
  }
  const n = pixels.length / perImage;
  const plane = height * width;
  for (let b = 0; b < n; b++) {
    const base = b * perImage;
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < plane; p++)
        out[base + c * plane + p] = lo + pixels[base + p * channels + c]! * scale;
    }
  }
  return out;
}

/**
 * Tile N images into a grid, row-major, with `columns` per row and a `gap` of background pixels between tiles.
 * @param pixels uint8 [N, H, W, C]
 * @returns uint8 [rows*H + (rows-1)*gap, columns*W + (columns-1)*gap, C] and its size
 */
export function tileGrid(
  pixels: Uint8Array,
  count: number,
  height: number,
  width: number,
  channels: number,
  columns: number,
  gap = 0,
  background = 0,
): { data: Uint8Array; width: number; height: number } {
  if (pixels.length !== count * height * width * channels) {
    throw new RangeError(
      `expected ${count} images of ${height}x${width}x${channels}, got ${pixels.length} bytes`,
    );
  }
  const cols = Math.max(1, Math.min(columns, count));
  const rows = Math.ceil(count / cols);
  const gridW = cols * width + (cols - 1) * gap;
  const gridH = rows * height + (rows - 1) * gap;
  const data = new Uint8Array(gridW * gridH * channels).fill(background);
  const rowBytes = width * channels;
  for (let i = 0; i < count; i++) {
    const x0 = (i % cols) * (width + gap);
    const y0 = Math.floor(i / cols) * (height + gap);
    for (let y = 0; y < height; y++) {
      const src = (i * height + y) * rowBytes;
      data.set(pixels.subarray(src, src + rowBytes), ((y0 + y) * gridW + x0) * channels);
    }
  }
  return { data, width: gridW, height: gridH };
}

/**
 * Nearest-neighbour upscaling of one row of pixels by an integer factor: each pixel `scale` times, channels kept
 * together, written into `out` from `at`. The one upscaling kernel: `upscaleNearest` and the PNG writer's
 * scanlines (png.ts) both repeat rows of its output.
 * @param pixels uint8, the row's W·C bytes from `from`
 * @returns the offset in `out` after the W·scale·C bytes written
 */
export function upscaleRowNearest(
  pixels: Uint8Array,
  from: number,
  width: number,
  channels: number,
  scale: number,
  out: Uint8Array,
  at: number,
): number {
  let o = at;
  for (let x = 0; x < width; x++) {
    const src = from + x * channels;
    for (let r = 0; r < scale; r++) {
      for (let c = 0; c < channels; c++) out[o++] = pixels[src + c]!;
    }
  }
  return o;
}

/**
 * Nearest-neighbour upscaling by an integer factor.
 * @param pixels uint8 [H, W, C]
 * @returns uint8 [H·scale, W·scale, C]; `pixels` itself when scale is 1
 */
export function upscaleNearest(
  pixels: Uint8Array,
  height: number,
  width: number,
  channels: number,
  scale: number,
): Uint8Array {
  if (pixels.length !== height * width * channels) {
    throw new RangeError(
      `expected ${height}x${width}x${channels} = ${height * width * channels} bytes, got ${pixels.length}`,
    );
  }
  if (!Number.isInteger(scale) || scale < 1)
    throw new RangeError(`expected an integer scale ≥ 1, got ${scale}`);
  if (scale === 1) return pixels;
  const outRow = width * scale * channels;
  const out = new Uint8Array(height * scale * outRow);
  for (let y = 0; y < height; y++) {
    const first = y * scale * outRow;
    upscaleRowNearest(pixels, y * width * channels, width, channels, scale, out, first);
    for (let r = 1; r < scale; r++) out.copyWithin(first + r * outRow, first, first + outRow);
  }
  return out;
}

/** Columns for a near-square grid of `count` tiles. */
export function defaultColumns(count: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(count)));
}
