import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeAnimation } from '../../../src/imaging/animation.ts';

describe('encodeAnimation', () => {
  // Three 2×3 grey frames, each one flat shade.
  const frames = Uint8Array.from({ length: 3 * 6 }, (_, i) => [0, 128, 255][Math.floor(i / 6)]!);

  it.each(['gif', 'webp'] as const)(
    '%s: one page per frame at the scaled size, with the delay and loop',
    async (format) => {
      const file = await encodeAnimation(frames, 3, 2, 3, 1, { format, scale: 4, delayMs: 50 });
      const m = await sharp(file, { pages: -1 }).metadata();
      expect([m.format, m.pages, m.width, m.pageHeight, m.height]).toEqual([format, 3, 12, 8, 24]);
      expect(m.delay).toEqual([50, 50, 50]);
      expect(m.loop).toBe(0);
      const raw = await sharp(file, { pages: -1 }).greyscale().raw().toBuffer();
      // Each page is its frame's shade throughout (no dithering, no lossy blur).
      for (let p = 0; p < 3; p++)
        expect(new Set(raw.subarray(p * 96, (p + 1) * 96))).toEqual(new Set([[0, 128, 255][p]]));
    },
  );

  it('RGB frames and a finite loop', async () => {
    // Two different frames (identical ones may be merged by the encoder).
    const rgb = Uint8Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => (i < 48 ? 200 : (i * 37) % 256));
    const m = await sharp(
      await encodeAnimation(rgb, 2, 4, 4, 3, { format: 'webp', scale: 1, delayMs: 20, loop: 2 }),
      {
        pages: -1,
      },
    ).metadata();
    expect([m.pages, m.loop, m.width, m.pageHeight]).toEqual([2, 2, 4, 4]);
  });

  it('rejects frames of the wrong size', async () => {
    await expect(
      encodeAnimation(new Uint8Array(10), 2, 2, 3, 1, { format: 'gif', scale: 1, delayMs: 100 }),
    ).rejects.toThrow(/expected 2 frames of 2x3x1, got 10 bytes/);
  });
});
