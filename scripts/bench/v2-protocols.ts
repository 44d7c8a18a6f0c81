/**
 * The Open Inference Protocol's three encodings compared (`npm run bench:v2`): v2 infer of one generator at each
 * batch size over HTTP with JSON tensors, HTTP with binary tensor data, and gRPC with raw contents, against the
 * real service (src/server.ts in its own process, GAN_GRPC_PORT set, the service's defaults otherwise). Load comes
 * from this process: a closed loop of `--connections` requests in flight per protocol (HTTP keep-alive sockets;
 * one gRPC channel, as Triton's clients use), timed per request, with the CPU time the service and this process
 * spent per request (from /proc). Before timing, the three answers to the same latents are checked to be the same
 * numbers. Prints a Markdown table and writes the figures to `<out>.json`.
 *
 *   npm run bench:v2 -- [--model mnist-dcgan] [--models-dir models] [--batches 1,64] [--connections 16]
 *                       [--seconds 10] [--out docs/raw/benchmarks-v2]
 */
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import os from 'node:os';
import { type Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { inferenceService, type ModelInferRequest } from '../../src/grpc/proto.ts';
import { RandomState } from '../../src/latent/random-state.ts';
import { type CliSpec, isMain, runCli } from '../cli-args.ts';
import { freePort, startService, waitReady } from '../service-process.ts';
import { intList, modelsDirFlag, outFlag, reportCommand, secondsFlag } from './flags.ts';
import { log, median, processTreeCpu, round } from './harness.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

export const v2ProtocolsFlags = z.object({
  model: z.string().min(1).default('mnist-dcgan').describe('the model whose generator v2 infer runs'),
  modelsDir: modelsDirFlag,
  batches: intList(1, 1024).default([1, 64]).describe('batch sizes, comma-separated'),
  connections: z.number().int().min(1).max(1024).default(16).describe('requests in flight per protocol'),
  seconds: secondsFlag(10),
  out: outFlag('docs/raw/benchmarks-v2', false),
});

export type V2ProtocolsOptions = z.output<typeof v2ProtocolsFlags>;

/** What one measurement needs: the flags less the report path. */
export type V2BenchOptions = Omit<V2ProtocolsOptions, 'out'>;

export const cli: CliSpec<typeof v2ProtocolsFlags> = {
  command: 'npm run bench:v2 --',
  description:
    "The Open Inference Protocol's three encodings compared on one generator: v2 infer over HTTP with JSON " +
    'tensors, HTTP with binary tensor data and gRPC, against the real service in its own process.',
  flags: v2ProtocolsFlags,
};

interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

/** One request's answer: its output values (for the cross-protocol check) and the payload bytes both ways. */
interface Answer {
  values: Float32Array;
  bytes: number;
}

type Protocol = 'HTTP JSON' | 'HTTP binary' | 'gRPC';

export interface V2BenchRow {
  protocol: Protocol;
  batch: number;
  connections: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  imagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Request + response payload (bodies; HTTP headers and gRPC framing excluded). */
  bytesPerRequest: number;
  /** CPU time of the service (event loop and inference workers) per answered request; 0 where there is no /proc. */
  serverCpuUsPerRequest: number;
  /** CPU time of this process (the load generator: encoding, decoding, the client library) per answered request. */
  clientCpuUsPerRequest: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/** `connections` loops, each sending its next request when the last is answered, for `seconds`. */
async function closedLoop(
  send: () => Promise<Answer>,
  connections: number,
  seconds: number,
): Promise<{ latencies: number[]; bytes: number[]; errors: number; elapsed: number }> {
  const latencies: number[] = [];
  const bytes: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const answer = await send();
          latencies.push(performance.now() - t0);
          bytes.push(answer.bytes);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latencies, bytes, errors, elapsed: (performance.now() - started) / 1000 };
}

/** Seeded inputs for every input of the v2 model: normal floats, class 0 for integer inputs. */
function inputsFor(
  meta: TensorMeta[],
  batch: number,
): Array<TensorMeta & { values: Float32Array | Int32Array }> {
  const rng = new RandomState(batch);
  return meta.map((m) => {
    const shape = [batch, ...m.shape.slice(1)];
    const count = shape.reduce((a, b) => a * b, 1);
    if (m.datatype === 'FP32') {
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = rng.standardNormal();
      return { ...m, shape, values };
    }
    if (m.datatype === 'INT32') return { ...m, shape, values: new Int32Array(count) };
    throw new Error(`input '${m.name}' is ${m.datatype}; the benchmark sends FP32 and INT32 inputs`);
  });
}

const bytesOf = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function post(agent: Agent, url: URL, body: Buffer, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

export async function measureProtocols(options: V2BenchOptions): Promise<V2BenchRow[]> {
  const grpcPort = await freePort();
  const svc = await startService({
    GAN_MODELS_DIR: options.modelsDir,
    GAN_GRPC_PORT: String(grpcPort),
    GAN_DEFAULT_MODEL: options.model,
    GAN_EXECUTION_PROVIDERS: 'cpu',
    GAN_LOG_LEVEL: 'warn',
  });
  const { Client: Ctor } = inferenceService();
  const client = new Ctor(`127.0.0.1:${grpcPort}`, credentials.createInsecure()) as Client &
    Record<string, (r: unknown, m: Metadata, cb: (e: ServiceError | null, r: unknown) => void) => void>;
  const grpcMethod = Ctor.service.ModelInfer!;
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  try {
    await waitReady(svc);
    const name = `${options.model}-generator`;
    const base = `${svc.url}/v2/models/${name}`;
    const meta = (await (await fetch(base)).json()) as { inputs: TensorMeta[]; outputs: TensorMeta[] };
    const output = meta.outputs[0]!.name;
    const rows: V2BenchRow[] = [];
    for (const batch of options.batches) {
      const inputs = inputsFor(meta.inputs, batch);

      const jsonBody = Buffer.from(
        JSON.stringify({
          inputs: inputs.map(({ name, datatype, shape, values }) => ({
            name,
            datatype,
            shape,
            data: Array.from(values),
          })),
          outputs: [{ name: output }],
        }),
      );
      const sendJson = async (): Promise<Answer> => {
        const res = await post(agent, new URL(`${base}/infer`), jsonBody, {
          'content-type': 'application/json',
        });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
        const answer = JSON.parse(res.body.toString()) as { outputs: Array<{ data: number[] }> };
        return {
          values: Float32Array.from(answer.outputs[0]!.data),
          bytes: jsonBody.length + res.body.length,
        };
      };

      const header = Buffer.from(
        JSON.stringify({
          inputs: inputs.map(({ name, datatype, shape, values }) => ({
            name,
            datatype,
            shape,
            parameters: { binary_data_size: values.byteLength },
          })),
          outputs: [{ name: output, parameters: { binary_data: true } }],
        }),
      );
      const binaryBody = Buffer.concat([header, ...inputs.map((i) => bytesOf(i.values))]);
      const sendBinary = async (): Promise<Answer> => {
        const res = await post(agent, new URL(`${base}/infer`), binaryBody, {
          'content-type': 'application/octet-stream',
          [HEADER_LENGTH]: String(header.length),
        });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
        const at = Number(res.headers[HEADER_LENGTH]);
        const raw = Uint8Array.from(res.body.subarray(at));
        return { values: new Float32Array(raw.buffer), bytes: binaryBody.length + res.body.length };
      };

      const grpcRequest: ModelInferRequest = {
        model_name: name,
        parameters: {},
        inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape, parameters: {} })),
        outputs: [{ name: output, parameters: {} }],
        raw_input_contents: inputs.map((i) => bytesOf(i.values)),
      };
      const requestBytes = grpcMethod.requestSerialize(grpcRequest).length;
      const sendGrpc = () =>
        new Promise<Answer>((resolve, reject) => {
          client.ModelInfer!(grpcRequest, new Metadata(), (err, response) => {
            if (err) return reject(err);
            const r = response as { raw_output_contents: Buffer[] };
            resolve({
              values: new Float32Array(Uint8Array.from(r.raw_output_contents[0]!).buffer),
              bytes: requestBytes + grpcMethod.responseSerialize(response).length,
            });
          });
        });

      const senders: Array<[Protocol, () => Promise<Answer>]> = [
        ['HTTP JSON', sendJson],
        ['HTTP binary', sendBinary],
        ['gRPC', sendGrpc],
      ];
      // The same numbers over every encoding, or the comparison means nothing.
      const answers = await Promise.all(senders.map(([, send]) => send()));
      for (const [i, a] of answers.entries()) {
        if (
          a.values.length !== answers[0]!.values.length ||
          a.values.some((v, j) => v !== answers[0]!.values[j])
        ) {
          throw new Error(
            `${senders[i]![0]} answered other numbers than ${senders[0]![0]} at batch ${batch}`,
          );
        }
      }
      for (const [protocol, send] of senders) {
        await closedLoop(send, options.connections, Math.min(2, options.seconds)); // warm-up
        const server0 = processTreeCpu(svc.child.pid!);
        const client0 = process.cpuUsage();
        const r = await closedLoop(send, options.connections, options.seconds);
        const client = process.cpuUsage(client0);
        const server1 = processTreeCpu(svc.child.pid!);
        let serverCpu = 0;
        for (const [pid, cpu] of server1) serverCpu += cpu - (server0.get(pid) ?? 0);
        const answered = Math.max(1, r.latencies.length);
        const sorted = [...r.latencies].sort((a, b) => a - b);
        const rps = r.latencies.length / r.elapsed;
        const row: V2BenchRow = {
          protocol,
          batch,
          connections: options.connections,
          requests: r.latencies.length,
          errors: r.errors,
          requestsPerSecond: round(rps),
          imagesPerSecond: round(rps * batch),
          p50Ms: round(quantile(sorted, 0.5), 2),
          p99Ms: round(quantile(sorted, 0.99), 2),
          bytesPerRequest: Math.round(median(r.bytes)),
          serverCpuUsPerRequest: Math.round((serverCpu * 1e6) / answered),
          clientCpuUsPerRequest: Math.round((client.user + client.system) / answered),
        };
        rows.push(row);
        log(
          `${protocol.padEnd(11)} batch ${String(batch).padStart(3)}: ${row.requestsPerSecond} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.bytesPerRequest} B/request${row.errors ? `, ${row.errors} errors` : ''}`,
        );
      }
    }
    return rows;
  } finally {
    agent.destroy();
    client.close();
    svc.child.kill('SIGTERM');
    await svc.exited;
  }
}

export function markdown(rows: V2BenchRow[]): string {
  const lines = [
    '| batch | protocol | requests/s | images/s | p50 ms | p99 ms | bytes/request | server CPU µs/request | client CPU µs/request |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.batch} | ${r.protocol} | ${r.requestsPerSecond} | ${r.imagesPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ` +
        `${r.bytesPerRequest.toLocaleString('en')} | ${r.serverCpuUsPerRequest.toLocaleString('en')} | ${r.clientCpuUsPerRequest.toLocaleString('en')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Measures, prints the table and writes `<out>.json`.
 * @param argv the command line it was run with, recorded in the report (default: the flags that give `o`)
 */
export async function run(o: V2ProtocolsOptions, argv?: readonly string[]) {
  const load = os.loadavg().map((l) => round(l, 2));
  const rows = await measureProtocols(o);
  const report = {
    command: reportCommand(cli, o, argv),
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, onnxruntime-node ${ort.env.versions.common}`,
    loadAverageAtStart: load,
    rows,
  };
  await writeFile(`${o.out}.json`, `${JSON.stringify(report, null, 2)}\n`);
  log(
    `\n${report.command}\n${report.machine}; load average at start ${load.join(' / ')}\n\n${markdown(rows)}`,
  );
  log(`wrote ${o.out}.json`);
  return report;
}

if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);
