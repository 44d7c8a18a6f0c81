/**
 * Bulk generation through POST /generate/stream (`npm run bench:stream`): streams `--count` images from a model into
 * a client that reads as fast as it can and keeps nothing, against the real service in its own process (its
 * defaults, CPU provider), and samples the server's RSS from its /metrics while it streams. Reports images/s, the RSS
 * of the first minute against the end, and two ceilings for context: M, the generator alone (the service's own
 * onnxruntime compute time per image, from its metrics, over its workers running side by side) and E, PNG encoding
 * of the model's digits (one core here, times the workers that encode in the service). Writes `<out>.json`.
 *
 *   npm run bench:stream -- [--model mnist-dcgan] [--models-dir models] [--count 200000] [--format tar|ndjson]
 *                           [--image-format png|jpeg|webp] [--sample-ms 1000] [--out docs/raw/benchmarks-stream]
 */
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { decodePlainPng, encodePngSync } from '../../src/imaging/png.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { modelsDirFlag, outFlag, reportCommand } from './flags.ts';
import { effectiveConfig, log, median, round, rssBytes, startServer } from './harness.ts';

/** A short stream first, so the samples do not start with the service's first allocations. */
const WARM_UP_IMAGES = 2000;

export const streamFlags = z.object({
  model: z.string().min(1).default('mnist-dcgan').describe('the model that generates'),
  modelsDir: modelsDirFlag,
  count: z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .default(200_000)
    .describe('images in the stream (after a warm-up stream of 2000)'),
  format: z.enum(['tar', 'ndjson']).default('tar').describe("the stream's format"),
  imageFormat: z.enum(['png', 'jpeg', 'webp']).default('png').describe('the format of each image'),
  sampleMs: z
    .number()
    .int()
    .min(50)
    .max(600_000)
    .default(1000)
    .describe("milliseconds between samples of the server's RSS"),
  out: outFlag('docs/raw/benchmarks-stream', false),
});

export type StreamOptions = z.output<typeof streamFlags>;

/** What one measurement needs: the flags less the report path. */
export type StreamBenchOptions = Omit<StreamOptions, 'out'>;

export const cli: CliSpec<typeof streamFlags> = {
  command: 'npm run bench:stream --',
  description:
    'Bulk generation through POST /generate/stream into a client that reads as fast as it can and keeps ' +
    "nothing, with the server's RSS sampled while it streams, against the ceilings M (generator) and E (PNG).",
  flags: streamFlags,
  examples: ['npm run bench:stream -- --count 1000000 --out docs/raw/benchmarks-stream-1m'],
};

export interface RssSample {
  /** Seconds since the stream's request was sent. */
  at: number;
  mib: number;
  images: number;
}

export interface StreamBenchResult {
  images: number;
  bytes: number;
  seconds: number;
  imagesPerSecond: number;
  /** MiB: after warm-up, before the stream. */
  rssBefore: number;
  /** MiB: the largest sample of the first minute (or of the first half of a shorter run). */
  rssFirstMinute: number;
  /** MiB: the last sample before the stream ended. */
  rssEnd: number;
  rssMax: number;
  /** rssEnd / rssFirstMinute − 1. */
  rssGrowth: number;
  /** Generator images/s from the service's compute time, over its workers: M. */
  modelImagesPerSecond: number;
  /** PNG encodes/s of the model's digits over the same number of workers: E (png only). */
  encodeImagesPerSecond: number | null;
  /** imagesPerSecond ÷ (1 / (1/M + 1/E)). */
  ratioToSerialCeiling: number | null;
  samples: RssSample[];
}

/** Counts the files of a tar stream (headers walked across chunk boundaries) and keeps the first few PNGs. */
class TarCounter {
  files = 0;
  ended = false;
  readonly firstFiles: Buffer[] = [];
  private header = Buffer.alloc(0);
  private skip = 0;
  private current: Buffer[] = [];
  private currentSize = 0;

  push(chunk: Buffer) {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        if (this.firstFiles.length < 16 && this.currentSize > 0)
          this.current.push(chunk.subarray(at, at + n));
        this.skip -= n;
        at += n;
        if (this.skip === 0 && this.currentSize > 0 && this.firstFiles.length < 16) {
          this.firstFiles.push(Buffer.concat(this.current).subarray(0, this.currentSize));
          this.current = [];
        }
        continue;
      }
      const n = Math.min(512 - this.header.length, chunk.length - at);
      this.header = Buffer.concat([this.header, chunk.subarray(at, at + n)]);
      at += n;
      if (this.header.length < 512) continue;
      if (this.header.every((b) => b === 0)) {
        this.ended = true;
        break;
      }
      this.currentSize = Number.parseInt(this.header.subarray(124, 135).toString('ascii'), 8);
      this.skip = Math.ceil(this.currentSize / 512) * 512;
      this.files++;
      this.header = Buffer.alloc(0);
    }
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes('network="generator"'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Median encodes/s of `encodePngSync` over the given PNGs' pixels, in this process, for about a second. */
function encodeRate(pngs: Buffer[], width: number, height: number, channels: 1 | 3): number {
  const images = pngs
    .map((p) => decodePlainPng(p, { width, height, channels }))
    .filter((i): i is NonNullable<typeof i> => i !== null);
  if (images.length === 0) return Number.NaN;
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 200) encodePngSync(images[n++ % images.length]!);
    rates.push((n * 1000) / (performance.now() - t0));
  }
  return median(rates);
}

export async function measureStream(options: StreamBenchOptions): Promise<StreamBenchResult> {
  const server = await startServer(options.modelsDir, {
    GAN_DEFAULT_MODEL: options.model,
    GAN_LOG_LEVEL: 'warn',
    GAN_MAX_STREAM_COUNT: String(Math.max(options.count, WARM_UP_IMAGES)),
  });
  try {
    const meta = (await (await fetch(`${server.url}/v1/models/${options.model}`)).json()) as {
      image: { width: number; height: number; channels: 1 | 3 };
    };
    await stream(server.url, { ...options, count: WARM_UP_IMAGES }, () => {});
    const rssBefore = (await rssBytes(server.url)) / 2 ** 20;
    const compute0 = await metric(server.url, 'gan_compute_seconds_sum');
    const rows0 = await metric(server.url, 'gan_inference_count_total');
    const samples: RssSample[] = [];
    const t0 = performance.now();
    let images = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, options.sampleMs));
        if (!sampling) break;
        const mib = (await rssBytes(server.url)) / 2 ** 20;
        samples.push({ at: round((performance.now() - t0) / 1000, 2), mib: round(mib, 1), images });
      }
    })();
    const result = await stream(server.url, options, (n) => {
      images = n;
    });
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const compute = (await metric(server.url, 'gan_compute_seconds_sum')) - compute0;
    const rows = (await metric(server.url, 'gan_inference_count_total')) - rows0;
    const workers = effectiveConfig().GAN_WORKERS;
    const modelImagesPerSecond = (rows / compute) * workers;
    const encode =
      options.imageFormat === 'png'
        ? encodeRate(result.firstFiles, meta.image.width, meta.image.height, meta.image.channels) * workers
        : null;
    const early = samples.filter((s) => s.at <= Math.min(60, seconds / 2));
    const rssFirstMinute = Math.max(...(early.length > 0 ? early : samples.slice(0, 1)).map((s) => s.mib));
    const rssEnd = samples.at(-1)?.mib ?? Number.NaN;
    const imagesPerSecond = result.images / seconds;
    const serial = encode ? 1 / (1 / modelImagesPerSecond + 1 / encode) : null;
    return {
      images: result.images,
      bytes: result.bytes,
      seconds: round(seconds, 2),
      imagesPerSecond: round(imagesPerSecond),
      rssBefore: round(rssBefore, 1),
      rssFirstMinute,
      rssEnd,
      rssMax: Math.max(...samples.map((s) => s.mib)),
      rssGrowth: round(rssEnd / rssFirstMinute - 1, 3),
      modelImagesPerSecond: round(modelImagesPerSecond),
      encodeImagesPerSecond: encode === null ? null : round(encode),
      ratioToSerialCeiling: serial === null ? null : round(imagesPerSecond / serial, 3),
      samples,
    };
  } finally {
    await server.stop();
  }
}

/** One stream read to its end and dropped; resolves with what arrived, after checking it is all there. */
function stream(
  url: string,
  options: StreamBenchOptions,
  progress: (images: number) => void,
): Promise<{ images: number; bytes: number; firstFiles: Buffer[] }> {
  const body = JSON.stringify({
    seed: 0,
    count: options.count,
    format: options.format,
    imageFormat: options.imageFormat,
  });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/generate/stream`,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`POST /generate/stream answered ${res.statusCode}`));
          return;
        }
        const tar = new TarCounter();
        let lines = 0;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (options.format === 'tar') tar.push(chunk);
          else for (const b of chunk) if (b === 10) lines++;
          progress(options.format === 'tar' ? tar.files : lines);
        });
        res.on('error', reject);
        res.on('end', () => {
          const images = options.format === 'tar' ? tar.files : lines;
          if (images !== options.count || (options.format === 'tar' && !tar.ended)) {
            reject(new Error(`the stream ended after ${images} of ${options.count} images`));
          } else resolve({ images, bytes, firstFiles: tar.firstFiles });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Streams, prints the figures and writes `<out>.json`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: StreamOptions, argv?: readonly string[]) {
  const load = os.loadavg().map((l) => round(l, 2));
  const result = await measureStream(o);
  const report = {
    command: reportCommand(cli, o, argv),
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, onnxruntime-node ${ort.env.versions.common}`,
    loadAverageAtStart: load,
    loadAverageAtEnd: os.loadavg().map((l) => round(l, 2)),
    ...result,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  log(
    [
      report.command,
      `${report.machine}; load average ${load.join(' / ')} at the start, ${report.loadAverageAtEnd.join(' / ')} at the end`,
      `${result.images} images, ${round(result.bytes / 2 ** 20)} MiB in ${result.seconds} s: ${result.imagesPerSecond} images/s`,
      `RSS MiB: ${result.rssBefore} before, ${result.rssFirstMinute} first minute (max), ${result.rssEnd} at the end (${round(result.rssGrowth * 100)}%), ${result.rssMax} max over ${result.samples.length} samples`,
      `M ${result.modelImagesPerSecond} images/s (generator compute over the workers), E ${result.encodeImagesPerSecond ?? '–'} PNG encodes/s; stream / (1/(1/M + 1/E)) = ${result.ratioToSerialCeiling ?? '–'}`,
      `wrote ${o.out}.json`,
    ].join('\n'),
  );
  return report;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
