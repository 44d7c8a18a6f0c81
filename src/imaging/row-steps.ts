/**
 * The per-row post-processing steps an inference worker can apply to a network output right after its run, in one
 * place: each turns a float image tensor into one byte buffer per row. The inference core only knows their names
 * (protocol.ts `RowPostprocess`); the scheduler splits the rows without knowing what they hold.
 */
import type { RowPostprocess } from '../inference/protocol.ts';
import { floatToPixels } from './pixels.ts';
import { encodePngSync } from './png.ts';

/** How a generator's output tensor maps to pixels. */
export interface ImageOutputSpec {
  range: readonly [number, number];
  layout: 'NHWC' | 'NCHW';
  height: number;
  width: number;
  channels: number;
}

type Step = (data: Float32Array, rows: number, options: Record<string, unknown>) => Uint8Array[];

function pixelRows(data: Float32Array, rows: number, o: ImageOutputSpec): Uint8Array[] {
  const pixels = floatToPixels(data, o.range, o.layout, o.height, o.width, o.channels);
  const perImage = o.height * o.width * o.channels;
  return Array.from({ length: rows }, (_, i) => pixels.subarray(i * perImage, (i + 1) * perImage));
}

const STEPS: Record<string, Step> = {
  /** uint8 NHWC pixels per image. */
  pixels: (data, rows, options) => pixelRows(data, rows, options as unknown as ImageOutputSpec),
  /** One PNG per image (small images: worth encoding in the worker, see codec.ts `pngEncoderFor`). */
  png: (data, rows, options) => {
    const o = options as unknown as ImageOutputSpec & { scale: number };
    return pixelRows(data, rows, o).map((px) =>
      encodePngSync({ data: px, width: o.width, height: o.height, channels: o.channels }, o.scale),
    );
  },
};

/** Apply a registered step to one output tensor of `rows` rows. */
export function applyRowStep(pp: RowPostprocess, data: Float32Array, rows: number): Uint8Array[] {
  const step = STEPS[pp.step];
  if (!step) throw new Error(`unknown row step '${pp.step}'`);
  return step(data, rows, pp.options as Record<string, unknown>);
}

/** The post-processing that turns a generator output into pixels, or into PNGs at `png.scale`. */
export function imageRows(output: string, spec: ImageOutputSpec, png?: { scale: number }): RowPostprocess {
  const options = { ...spec, range: [...spec.range], ...(png ? { scale: png.scale } : {}) };
  return {
    step: png ? 'png' : 'pixels',
    output,
    options,
    key: `${png ? `png×${png.scale}` : 'pixels'}:${output}`,
  };
}
