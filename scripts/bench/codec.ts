/**
 * The image codec's costs on the shipped generator's own output, one process, no HTTP: PNG encoding of one digit
 * and of a 64-digit grid per zlib level and through sharp, and reading an uploaded digit with the plain-PNG reader
 * and with sharp. Prints a markdown table of medians.
 *
 *   npx tsx scripts/bench/codec.ts [--model models/mnist-dcgan] [--runs 300]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { z } from 'zod';
import { decodeToModel, decodeWithSharp } from '../../src/imaging/codec.ts';
import { floatToPixels, tileGrid } from '../../src/imaging/pixels.ts';
import { encodePngSync, type RawImage, scanlines } from '../../src/imaging/png.ts';
import { SMALL_DEFLATE_MAX_BYTES, smallDeflate } from '../../src/imaging/small-deflate.ts';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import { inputOf, manifestSchema } from '../../src/models/manifest.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { log, median, round } from './harness.ts';

export const codecFlags = z.object({
  model: z
    .string()
    .min(1)
    .default('models/mnist-dcgan')
    .describe('the model folder whose generator draws the images'),
  runs: z.number().int().min(5).max(100_000).default(300).describe('timed runs per row (medians reported)'),
});

export type CodecOptions = z.output<typeof codecFlags>;

export const cli: CliSpec<typeof codecFlags> = {
  command: 'npx tsx scripts/bench/codec.ts',
  description:
    "The image codec's costs on a generator's own output, one process, no HTTP: PNG encoding per zlib level and " +
    'through sharp, and reading an uploaded PNG with the plain-PNG reader and with sharp. Prints a Markdown table.',
  flags: codecFlags,
};

/** The model's first 64 seeded images as uint8 [64, H, W, C], and their size. */
async function generatedPixels(modelDir: string) {
  const manifest = manifestSchema.parse(JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')));
  const { width, height, channels } = manifest.image;
  const session = await ort.InferenceSession.create(join(modelDir, manifest.generator.file));
  try {
    const n = 64;
    const z = latentsForSeeds(
      Array.from({ length: n }, (_, i) => i),
      manifest.latentDim,
    );
    const feeds: Record<string, ort.Tensor> = {
      [inputOf(manifest.generator, 'latent')!.name]: new ort.Tensor('float32', z, [n, manifest.latentDim]),
    };
    const labelInput = inputOf(manifest.generator, 'class-index');
    if (labelInput) feeds[labelInput.name] = new ort.Tensor('int32', new Int32Array(n), [n]);
    const out = (await session.run(feeds))[manifest.generator.output]!;
    const pixels = floatToPixels(
      out.data as Float32Array,
      manifest.generator.outputRange,
      manifest.generator.outputLayout,
      height,
      width,
      channels,
    );
    return { pixels, n, width, height, channels };
  } finally {
    await session.release();
  }
}

const sharpPng = (img: RawImage, level: number) =>
  sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 } })
    .toColourspace(img.channels === 1 ? 'b-w' : 'srgb')
    .png({ compressionLevel: level, adaptiveFiltering: false })
    .toBuffer();

/** Measures and prints the table. @returns its rows */
export async function run(o: CodecOptions): Promise<string[]> {
  const { pixels, n, width, height, channels } = await generatedPixels(o.model);
  const digit: RawImage = { data: pixels.subarray(0, width * height * channels), width, height, channels };
  const grid: RawImage = { ...tileGrid(pixels, n, height, width, channels, 8, 2), channels };

  /**
   * Median µs per call over `o.runs` samples. Warmed up for 200 ms first (so JavaScript encoders run optimised), and
   * each sample repeats the call for at least 1 ms, so a call of a few microseconds is not lost in the timer.
   */
  async function time(f: () => Promise<number> | number): Promise<{ ms: number; bytes: number }> {
    for (const t0 = performance.now(); performance.now() - t0 < 200; ) await f();
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < o.runs; i++) {
      const t0 = performance.now();
      let calls = 0;
      do {
        bytes = await f();
        calls++;
      } while (performance.now() - t0 < 1);
      ms.push((performance.now() - t0) / calls);
    }
    return { ms: median(ms), bytes };
  }

  const rows: string[] = [];
  for (const [what, img] of [
    [`one digit (${width}×${height})`, digit],
    [`64-digit grid (${grid.width}×${grid.height})`, grid],
  ] as const) {
    const lines = scanlines(img, 1);
    for (const level of [1, 3, 6, 9]) {
      const r = await time(() => deflateSync(lines, { level }).length + 57);
      rows.push(`| ${what} | zlib level ${level} (+ PNG framing) | ${round(r.ms * 1000, 1)} | ${r.bytes} |`);
    }
    if (lines.length <= SMALL_DEFLATE_MAX_BYTES) {
      const r = await time(() => smallDeflate(lines).length + 57);
      rows.push(`| ${what} | small-deflate.ts (+ PNG framing) | ${round(r.ms * 1000, 1)} | ${r.bytes} |`);
    }
    const own = await time(() => encodePngSync(img).length);
    rows.push(
      `| ${what} | png.ts encodePngSync (what the service uses: small-deflate.ts up to 4 KB of scanlines, zlib level 3 above) | ${round(own.ms * 1000, 1)} | ${own.bytes} |`,
    );
    const viaSharp = await time(async () => (await sharpPng(img, 6)).length);
    rows.push(
      `| ${what} | sharp, level 6 (libuv pool hop included) | ${round(viaSharp.ms * 1000, 1)} | ${viaSharp.bytes} |`,
    );
  }
  const upload = encodePngSync(digit);
  const target = { width, height, channels: channels as 1 | 3, maxPixels: 16_777_216, field: 'body' };
  const plain = await time(async () => (await decodeToModel(upload, target)).data.length);
  const full = await time(async () => (await decodeWithSharp(upload, target)).data.length);
  rows.push(`| uploaded digit PNG | decodeToModel (plain-PNG reader) | ${round(plain.ms * 1000, 1)} | |`);
  rows.push(`| uploaded digit PNG | sharp (metadata + decode pipeline) | ${round(full.ms * 1000, 1)} | |`);

  log(
    `${o.model}: medians of ${o.runs} sequential runs, one process, onnxruntime-node ${ort.env.versions.common}\n`,
  );
  log('| image | encoder / decoder | µs | bytes |\n| --- | --- | ---: | ---: |');
  log(rows.join('\n'));
  return rows;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
