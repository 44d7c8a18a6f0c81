/**
 * Picks the output the service reads from each network: the generator's image, the mapping network's w, the
 * discriminator's score; refuses an output of another shape or with a fixed batch axis.
 */
import type { OnnxSignature, TensorSignature } from './inspect.ts';
import { describe, fixedBatchError, hasBatchAxis, isFloat, W_NAME } from './tensor-kinds.ts';
import { type Guess, ImportError, rowDims } from './types.ts';

/** The generator's image output: a float rank-4 output (named like an image when there are several). */
export function pickImageOutput(sig: OnnxSignature, guesses: Guess[]): TensorSignature {
  let images = sig.outputs.filter((s) => isFloat(s) && s.shape?.length === 4);
  if (images.length === 0) {
    const first = sig.outputs[0]!;
    throw new ImportError(
      `${describe('generator', 'output', first)} is not an image: expected a float [N, C, H, W] or [N, H, W, C] output with C 1 or 3`,
    );
  }
  if (images.length > 1) {
    const named = images.filter((s) => /^(img|images?|output|out|fake|generated)$/i.test(s.name));
    if (named.length > 0) images = named;
    guesses.push({
      network: 'generator',
      tensor: images[0]!.name,
      message: `the image is output '${images[0]!.name}' of ${sig.outputs.length} outputs`,
    });
  }
  const out = images[0]!;
  if (!hasBatchAxis(out)) throw fixedBatchError('generator', 'output', out, sig);
  return out;
}

/** The mapping network's w output: a float [N, wDim] or [N, numWs, wDim]. */
export function pickWOutput(sig: OnnxSignature): TensorSignature {
  const ws = sig.outputs.filter((s) => isFloat(s) && (s.shape?.length === 2 || s.shape?.length === 3));
  const out = ws.find((s) => W_NAME.test(s.name)) ?? ws[0];
  if (!out)
    throw new ImportError(
      `${describe('mapping', 'output', sig.outputs[0]!)} is not a w: expected a float [N, wDim] or [N, numWs, wDim] output`,
    );
  if (!hasBatchAxis(out)) throw fixedBatchError('mapping', 'output', out, sig);
  return out;
}

/** The discriminator's score: [N], [N, 1] or [N, 1, 1, 1]. */
export function pickScoreOutput(sig: OnnxSignature, guesses: Guess[]): TensorSignature {
  const scores = sig.outputs.filter(
    (s) =>
      isFloat(s) &&
      s.shape !== null &&
      s.shape.length >= 1 &&
      s.shape.length <= 4 &&
      rowDims(s).every((d) => d === 1),
  );
  const out = scores[0];
  if (!out) {
    const first = sig.outputs[0]!;
    throw new ImportError(
      `${describe('discriminator', 'output', first)} is not one score per image: expected [N], [N, 1] or [N, 1, 1, 1]`,
    );
  }
  if (sig.outputs.length > 1)
    guesses.push({
      network: 'discriminator',
      tensor: out.name,
      message: `the score is output '${out.name}' of ${sig.outputs.map((s) => `'${s.name}'`).join(', ')}`,
    });
  if (!hasBatchAxis(out)) throw fixedBatchError('discriminator', 'output', out, sig);
  return out;
}
