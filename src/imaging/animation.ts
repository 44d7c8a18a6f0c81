/**
 * Animated GIF and WebP from a run of frames, over sharp: the frames go in as one vertically stacked raw image
 * whose `pageHeight` is a frame's height, and come out as pages with a per-frame delay.
 */
import sharp from 'sharp';
import { upscaleNearest } from './pixels.ts';

export const ANIMATION_FORMATS = ['gif', 'webp'] as const;
export type AnimationFormat = (typeof ANIMATION_FORMATS)[number];

export interface AnimationOptions {
  format: AnimationFormat;
  /** Nearest-neighbour upscaling factor, ≥ 1. */
  scale: number;
  /** Milliseconds each frame shows. */
  delayMs: number;
  /** Times to play; 0 loops forever. */
  loop?: number;
}

/**
 * Encode frames as an animated GIF or WebP (lossless, so frames keep their exact pixels). The encoders merge
 * identical consecutive frames into one shown for their summed delay, so a still run (a collapsed generator, a
 * walk from a seed to itself) has fewer pages than frames; a WebP of identical frames is a still image.
 * @param frames uint8 [count, H, W, C], C ∈ {1, 3}
 * @returns the file; its frames are (W·scale) × (H·scale)
 */
export async function encodeAnimation(
  frames: Uint8Array,
  count: number,
  height: number,
  width: number,
  channels: number,
  options: AnimationOptions,
): Promise<Buffer> {
  if (frames.length !== count * height * width * channels) {
    throw new RangeError(
      `expected ${count} frames of ${height}x${width}x${channels}, got ${frames.length} bytes`,
    );
  }
  const { scale } = options;
  // A frame stack is one tall image, so scaling it scales every frame, and frame edges stay on row boundaries.
  // Not sharp's resize: on a multi-page image it resizes the stack as one picture and so changes the page count.
  const data = upscaleNearest(frames, count * height, width, channels, scale);
  const pipeline = sharp(data, {
    raw: {
      width: width * scale,
      height: count * height * scale,
      channels: channels as 1 | 3,
      pageHeight: height * scale,
    },
  });
  const animation = { loop: options.loop ?? 0, delay: new Array<number>(count).fill(options.delayMs) };
  return options.format === 'gif'
    ? pipeline.gif({ ...animation, dither: 0 }).toBuffer()
    : pipeline.webp({ ...animation, lossless: true }).toBuffer();
}
