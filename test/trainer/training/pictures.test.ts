import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { curvePng, gridPng } from '../../../trainer/training/pictures.ts';

describe('gridPng', () => {
  it('tiles images at 2× with gaps, mapping −1 → 0 and 1 → 255', async () => {
    const images = new Float32Array(3 * 4 * 4);
    images.fill(-1, 0, 16);
    images.fill(1, 16, 32);
    images.fill(0, 32, 48);
    const png = await gridPng(images, 3, 4, 4, 2);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect((await sharp(png).metadata()).channels).toBe(1);
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    // 2 columns × (4 + 2) + 2 = 14 wide, 2 rows → 14 high, upscaled ×2
    expect([info.width, info.height, info.channels]).toEqual([28, 28, 1]);
    const at = (x: number, y: number) => data[y * 28 + x];
    expect(at(4, 4)).toBe(0); // first tile (−1)
    expect(at(16, 4)).toBe(255); // second tile (1)
    expect(at(4, 16)).toBe(128); // third tile (0), second row
    expect(at(0, 0)).toBe(40); // gap
  });

  it('rejects a buffer of the wrong length', async () => {
    await expect(gridPng(new Float32Array(10), 1, 4, 4, 1)).rejects.toThrow('expected 16 values, got 10');
  });
});

describe('curvePng', () => {
  it('draws an 800×560 PNG from the series', async () => {
    const pts = (f: (x: number) => number): [number, number][] =>
      Array.from({ length: 20 }, (_, i) => [i * 50, f(i)]);
    const png = await curvePng(
      [{ name: 'D loss', color: '#d62728', points: pts((i) => 1.4 - i * 0.01) }],
      [{ name: 'D(x)', color: '#2ca02c', points: pts(() => 0.6) }],
      'test <curve>',
    );
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 800, 560]);
  });
});
