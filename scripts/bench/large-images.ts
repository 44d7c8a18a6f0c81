/**
 * Large images (`npm run bench:large`): a 256×256 RGB generator (the cheap generic fixture shaped like a public
 * export, NHWC in [-1, 1]) against the machine's ceilings, in one run:
 *   M  the generator alone in onnxruntime (batch 16, every core), images/s
 *   E  each encoder alone (PNG, JPEG, WebP at the service's settings) on every core, images/s
 *   S  /generate count-16 grids at 4 connections in each format, images/s, against C = 1/(1/M + 1/E)
 * Writes docs/benchmarks-large.json and docs/benchmarks-large.md.
 *
 *   npm run bench:large -- [--seconds 10] [--size 256] [--out docs/benchmarks-large]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { encodeImage, type ImageFormat } from '../../src/imaging/codec.ts';
import { floatToPixels } from '../../src/imaging/pixels.ts';
import { createSession } from '../../src/inference/providers.ts';
import { latentsForSeeds } from '../../src/latent/random-state.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { writeGenericModel } from '../onnx/family-models.ts';
import { writeReportMarkdown } from '../report-file.ts';
import { outFlag, reportCommand, secondsFlag } from './flags.ts';
import { load, log, medianRunMs, round, startServer } from './harness.ts';

const BATCH = 16;
const CONNECTIONS = 4;
const FORMATS: ImageFormat[] = ['png', 'jpeg', 'webp'];
const LATENT = 128;

export const largeImagesFlags = z.object({
  seconds: secondsFlag(10),
  size: z
    .number()
    .int()
    .min(16)
    .max(1024)
    .default(256)
    .describe("the generator's image width and height, pixels"),
  out: outFlag('docs/benchmarks-large'),
});

export type LargeImagesOptions = z.output<typeof largeImagesFlags>;

export const cli: CliSpec<typeof largeImagesFlags> = {
  command: 'npm run bench:large --',
  description:
    'A large RGB generator (a fixture shaped like a public export) against the ceilings of the same run: the ' +
    'network alone, each encoder alone, and /generate count-16 grids in PNG, JPEG and WebP.',
  flags: largeImagesFlags,
};

interface Row {
  format: ImageFormat;
  encoderImagesPerSecond: number;
  ceilingImagesPerSecond: number;
  serviceImagesPerSecond: number;
  ratio: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per grid of the service's process tree and of the load generator, ms; the machine's idle share. */
  serverMsPerGrid?: number;
  clientMsPerGrid?: number;
  machineIdle?: number;
}

/** Images/s of `job` run `parallel` at a time for about `seconds`. */
async function throughput(job: () => Promise<unknown>, parallel: number, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < until) {
        await job();
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - started);
}

/**
 * Runs the benchmark and writes `<out>.json` and `<out>.md`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: LargeImagesOptions, argv?: readonly string[]) {
  const { seconds, size } = o;
  const dir = await mkdtemp(join(tmpdir(), 'gan-bench-large-'));
  const name = `rgb-${size}`;
  await writeGenericModel(dir, {
    name,
    channels: 3,
    height: size,
    width: size,
    layout: 'NHWC',
    range: [-1, 1],
    latentDim: LATENT,
  });
  const cores = os.availableParallelism();
  log(`${name}: ${cores} cores, ${seconds} s per measurement`);

  // M: the network alone, every core.
  const { session } = await createSession(join(dir, name, 'generator.onnx'), ['cpu'], {
    intraOpThreads: cores,
    spinning: true,
  });
  const { Tensor } = await import('onnxruntime-node');
  const z = latentsForSeeds(
    Array.from({ length: BATCH }, (_, i) => i),
    LATENT,
  );
  const feeds = { z: new Tensor('float32', z, [BATCH, LATENT]) };
  const { ms } = await medianRunMs(() => session.run(feeds), seconds);
  const modelImagesPerSecond = round((BATCH * 1000) / ms);
  const out = (await session.run(feeds)).image!;
  const pixels = floatToPixels(out.data as Float32Array, [-1, 1], 'NHWC', size, size, 3);
  await session.release();
  log(`M = ${modelImagesPerSecond} images/s (batch ${BATCH})`);

  // E: each encoder alone, as many encodes in flight as libuv's pool and sharp can take.
  const per = size * size * 3;
  const images = Array.from({ length: BATCH }, (_, i) => ({
    data: pixels.subarray(i * per, (i + 1) * per),
    width: size,
    height: size,
    channels: 3,
  }));
  const encoders = new Map<ImageFormat, number>();
  for (const format of FORMATS) {
    let next = 0;
    const rate = await throughput(() => encodeImage(images[next++ % BATCH]!, format), cores * 4, seconds);
    encoders.set(format, round(rate));
    log(`E(${format}) = ${round(rate)} images/s`);
  }

  // S: the service, count-16 grids at 4 connections.
  const server = await startServer(dir, {});
  const rows: Row[] = [];
  try {
    for (const format of FORMATS) {
      const body = JSON.stringify({ model: name, seed: 1, count: BATCH, format });
      const r = await load(
        `${server.url}/generate`,
        {
          method: 'POST',
          body,
          contentType: 'application/json',
          connections: CONNECTIONS,
          seconds,
          client: 'node',
        },
        server.child.pid,
      );
      const service = round(r.requestsPerSecond * BATCH);
      const e = encoders.get(format)!;
      const ceiling = round(1 / (1 / modelImagesPerSecond + 1 / e));
      rows.push({
        format,
        encoderImagesPerSecond: e,
        ceilingImagesPerSecond: ceiling,
        serviceImagesPerSecond: service,
        ratio: round(service / ceiling, 2),
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        ...(r.cpu
          ? {
              serverMsPerGrid: round(r.cpu.serverUsPerRequest / 1000),
              clientMsPerGrid: round(r.cpu.clientUsPerRequest / 1000),
              machineIdle: r.cpu.machineIdle,
            }
          : {}),
      });
      log(`S(${format}) = ${service} images/s = ${round(service / ceiling, 2)} × C`);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const report = {
    command: reportCommand(cli, o, argv),
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    date: new Date().toISOString(),
    model: { name, size, layout: 'NHWC', latentDim: LATENT, batch: BATCH },
    modelImagesPerSecond,
    rows,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    `# Large images: a ${size}×${size} RGB generator`,
    '',
    `\`${report.command}\` on ${report.machine}, ${report.date.slice(0, 10)}.`,
    '',
    `The generic fixture generator (latent ${LATENT}, NHWC in [-1, 1], a small network upsampled to ${size}×${size}),`,
    `count-${BATCH} grids through \`/generate\` at ${CONNECTIONS} connections, against the ceiling of the same run:`,
    `M = the network alone in onnxruntime at batch ${BATCH} on every core (${modelImagesPerSecond} images/s), E = the`,
    'encoder alone at the service settings on every core, C = 1/(1/M + 1/E). Load from keep-alive connections of',
    "Node's own HTTP client that discard each body; CPU per grid from /proc (the service's process tree, the load",
    "generator's process) and the machine's idle share over each run.",
    '',
    '| format | E images/s | C images/s | service images/s | service ÷ C | p50 ms | p99 ms | service CPU ms/grid | load generator CPU ms/grid | machine idle |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.format} | ${r.encoderImagesPerSecond} | ${r.ceilingImagesPerSecond} | ${r.serviceImagesPerSecond} | ${r.ratio} | ${r.p50Ms} | ${r.p99Ms} | ${r.serverMsPerGrid ?? '–'} | ${r.clientMsPerGrid ?? '–'} | ${r.machineIdle === undefined ? '–' : `${round(r.machineIdle * 100)}%`} |`,
    ),
  ].join('\n');
  await writeReportMarkdown(`${o.out}.md`, md);
  log(`wrote ${o.out}.json and ${o.out}.md`);
  return report;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
