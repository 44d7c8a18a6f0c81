/**
 * Guesses that need the networks' outputs: the image layout and size (from the output's dimensions as run), the
 * output range (from the values of a seeded batch), and whether a discriminator's score is a probability or a
 * logit. Pure: dimensions and values in, decisions and the evidence for them out.
 */
import { type ImageSize, ImportError, type Layout, type OutputKind, type Range } from './types.ts';

/** Ranges a generator's output is taken to be in, narrowest first. */
export const STANDARD_RANGES: readonly Range[] = [
  [0, 1],
  [-1, 1],
  [0, 255],
];
/** The share of output values a range must hold (with OVERSHOOT) to be picked. */
export const RANGE_COVERAGE = 0.99;
/**
 * Values this far past a range (a share of its width) still count as in it: StyleGAN's output is not clamped and
 * overshoots [-1, 1] slightly.
 */
export const OVERSHOOT = 0.1;
/** …and at least this share strictly inside (so [-5, 5], half negative, is not an overshooting [0, 255]). */
export const MIN_INSIDE = 0.75;
/** Image sides outside this span are unusual for a GAN: the size is reported as a guess to check. */
export const TYPICAL_SIDE = [28, 1024] as const;

const isChannels = (d: number | undefined) => d === 1 || d === 3;

export interface ImageFacts {
  image: ImageSize;
  layout: Layout;
  /** What decided the layout. */
  evidence: string;
}

/**
 * The layout and size of an image tensor from its dimensions after the batch axis: the channel axis is the end
 * that holds 1 or 3.
 * @param dims [C, H, W] or [H, W, C]
 * @param stated a layout the user or the file's metadata gives
 * @param what the tensor, for messages
 */
export function imageFromDims(dims: readonly number[], stated: Layout | undefined, what: string): ImageFacts {
  if (dims.length !== 3)
    throw new ImportError(
      `${what} has ${dims.length + 1} dimensions; an image is [N, C, H, W] or [N, H, W, C]`,
    );
  const [a, b, c] = dims as [number, number, number];
  const of = (layout: Layout): ImageFacts => {
    const [channels, height, width] = layout === 'NCHW' ? [a, b, c] : [c, a, b];
    return { image: { width, height, channels: channels as 1 | 3 }, layout, evidence: '' };
  };
  if (stated) {
    const channels = stated === 'NCHW' ? a : c;
    if (!isChannels(channels))
      throw new ImportError(
        `${what} is [N, ${dims.join(', ')}]: as ${stated} that is ${channels} channels, and the service serves 1 or 3`,
      );
    return { ...of(stated), evidence: 'stated' };
  }
  if (isChannels(a) && !isChannels(c)) return { ...of('NCHW'), evidence: `${a} at axis 1` };
  if (isChannels(c) && !isChannels(a)) return { ...of('NHWC'), evidence: `${c} at axis 3` };
  if (isChannels(a) && isChannels(c))
    throw new ImportError(`${what} is [N, ${dims.join(', ')}]: NCHW or NHWC? pass --layout`);
  throw new ImportError(
    `${what} is [N, ${dims.join(', ')}], not an image with 1 or 3 channels ([N, C, H, W] or [N, H, W, C])`,
  );
}

export interface RangeFacts {
  range: Range;
  min: number;
  max: number;
  /** Share of values inside `range`. */
  coverage: number;
}

function coverageOf(values: Float32Array, [lo, hi]: Range): number {
  let inside = 0;
  for (const v of values) if (v >= lo && v <= hi) inside++;
  return values.length === 0 ? 0 : inside / values.length;
}

function extremes(values: Float32Array, what: string): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v))
      throw new ImportError(`${what} holds ${v} for seeded inputs: the network is broken`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

const widened = ([lo, hi]: Range): Range => [lo - OVERSHOOT * (hi - lo), hi + OVERSHOOT * (hi - lo)];

/**
 * The output range: `stated` if given, else the narrowest standard range holding ≥ 99% of `values` counting values
 * up to 10% of its width past either end (a slight overshoot), and ≥ 75% strictly.
 * @param values a generator's output for seeded latents, float32
 */
export function outputRange(values: Float32Array, stated: Range | undefined, what: string): RangeFacts {
  const { min, max } = extremes(values, what);
  if (stated) return { range: stated, min, max, coverage: coverageOf(values, stated) };
  const best = STANDARD_RANGES.find(
    (range) =>
      coverageOf(values, widened(range)) >= RANGE_COVERAGE && coverageOf(values, range) >= MIN_INSIDE,
  );
  if (!best) {
    const nearest = STANDARD_RANGES.map((range) => ({ range, share: coverageOf(values, range) })).sort(
      (a, b) => b.share - a.share,
    )[0]!;
    throw new ImportError(
      `${what} spans [${min.toPrecision(4)}, ${max.toPrecision(4)}] over the seeded batch: only ${(nearest.share * 100).toFixed(1)}% ` +
        `of it lies in [${nearest.range.join(', ')}], the nearest standard range; pass --output-range lo,hi`,
    );
  }
  return { range: [...best] as Range, min, max, coverage: coverageOf(values, best) };
}

export interface OutputKindFacts {
  kind: OutputKind;
  min: number;
  max: number;
}

/**
 * A probability when every score lies in [0, 1] and the last op is a Sigmoid; a logit otherwise.
 * @param scores the discriminator's output on a batch of generated images
 * @param lastOp the op that makes the output (looking through reshapes and casts)
 */
export function outputKind(scores: Float32Array, lastOp: string | null, what: string): OutputKindFacts {
  const { min, max } = extremes(scores, what);
  const kind: OutputKind = lastOp === 'Sigmoid' && min >= 0 && max <= 1 ? 'probability' : 'logit';
  return { kind, min, max };
}

/** Whether the rows of a batch differ (a generator that ignores z gives one image for every seed). */
export function rowsDiffer(values: Float32Array, rows: number): boolean {
  const per = values.length / rows;
  for (let r = 1; r < rows; r++)
    for (let i = 0; i < per; i++) if (Math.abs(values[r * per + i]! - values[i]!) > 1e-6) return true;
  return false;
}
