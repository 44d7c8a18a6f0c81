/**
 * Runs the planned networks once, on onnxruntime's CPU provider, with the inputs the service would feed for seeds
 * 0…7 (latentsForSeeds, classes 0, 1, …, ψ 1, the constants, seeded noise): mapping → generator → discriminator
 * on the generated images. Float16 inputs and outputs are converted with src/inference/float16.ts.
 */
import * as ort from 'onnxruntime-node';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/inference/float16.ts';
import type { SessionInfo } from '../../src/inference/protocol.ts';
import { latentsForSeeds, RandomState } from '../../src/latent/random-state.ts';
import type { InputSpec } from '../../src/models/manifest.ts';
import { discriminatorLayout, generatorImage, type ProbeResult, resolveWShape } from './infer.ts';
import { ImportError, type InferOverrides, type Layout, type ModelPlan, type NetworkPlan } from './types.ts';

/** The seeds of the probe batch: enough images for a range estimate and to see z change the output. */
export const PROBE_SEEDS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7];

export interface Sessions {
  generator: ort.InferenceSession;
  mapping: ort.InferenceSession | null;
  discriminator: ort.InferenceSession | null;
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 2,
  logSeverityLevel: 3,
};

/** An onnxruntime session for `file`; a file it cannot load is an ImportError. */
export async function openSession(file: string, what: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, SESSION_OPTIONS);
  } catch (err) {
    throw new ImportError(
      `${what} ${file}: onnxruntime cannot load it (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/** A session's inputs and outputs as the service's load-time check reads them (as the inference worker reports). */
export function sessionInfo(key: string, session: ort.InferenceSession): SessionInfo {
  const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) =>
      m.isTensor
        ? { name: m.name, type: m.type, shape: [...m.shape] }
        : { name: m.name, type: 'non-tensor', shape: null },
    );
  return {
    key,
    provider: 'cpu',
    skipped: [],
    error: null,
    inputs: describe(session.inputMetadata),
    outputs: describe(session.outputMetadata),
  };
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function repeat(row: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(row.length * rows);
  for (let r = 0; r < rows; r++) out.set(row, r * row.length);
  return out;
}

function floatTensor(dtype: string, data: Float32Array, dims: readonly number[]): ort.Tensor {
  return dtype === 'float16'
    ? new ort.Tensor('float16', float32ToFloat16Bits(data), dims)
    : new ort.Tensor('float32', data, dims);
}

function filled(dtype: string, count: number, value: number, dims: readonly number[]): ort.Tensor {
  switch (dtype) {
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.trunc(value))), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(count).fill(Math.trunc(value)), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(count).fill(value ? 1 : 0), dims);
    default:
      return floatTensor(dtype, new Float32Array(count).fill(value), dims);
  }
}

/** Row values the probe feeds by role. */
interface Values {
  rows: number;
  latentDim: number;
  numClasses: number | null;
  ws?: { data: Float32Array; shape: number[] };
  images?: { data: Float32Array; dims: number[] };
}

function feed(spec: InputSpec, v: Values): ort.Tensor {
  const rows = v.rows;
  const labels = Array.from({ length: rows }, (_, i) => i % (v.numClasses ?? 1));
  switch (spec.role) {
    case 'latent': {
      const shape = spec.shape ?? [v.latentDim];
      return floatTensor(spec.dtype, latentsForSeeds(PROBE_SEEDS.slice(0, rows), v.latentDim), [
        rows,
        ...shape,
      ]);
    }
    case 'class-index': {
      const dims = [rows, ...(spec.shape ?? [])];
      if (spec.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), dims);
      if (spec.dtype === 'int32') return new ort.Tensor('int32', Int32Array.from(labels), dims);
      return new ort.Tensor('float32', Float32Array.from(labels), dims);
    }
    case 'class-onehot': {
      const classes = v.numClasses ?? 0;
      const data = new Float32Array(rows * classes);
      labels.forEach((l, i) => {
        data[i * classes + l] = 1;
      });
      return floatTensor(spec.dtype, data, [rows, classes]);
    }
    case 'truncation':
      return floatTensor(spec.dtype, new Float32Array(product(spec.shape)).fill(spec.default), spec.shape);
    case 'w-latent':
      return floatTensor(spec.dtype, v.ws!.data, [rows, ...v.ws!.shape]);
    case 'constant': {
      const dims = spec.batched ? [rows, ...spec.shape] : spec.shape;
      return filled(spec.dtype, product(dims), spec.value, dims);
    }
    case 'noise': {
      const row = Float32Array.from(
        new RandomState(spec.seed).randn(product(spec.shape)),
        (x) => x * spec.std,
      );
      return spec.batched
        ? floatTensor(spec.dtype, repeat(row, rows), [rows, ...spec.shape])
        : floatTensor(spec.dtype, row, spec.shape);
    }
    case 'image':
      return floatTensor(spec.dtype, v.images!.data, [rows, ...v.images!.dims]);
  }
}

/** Runs one network; returns its main output as float32 with its dimensions. */
async function run(
  net: NetworkPlan,
  session: ort.InferenceSession,
  v: Values,
): Promise<{ data: Float32Array; dims: number[] }> {
  const feeds = Object.fromEntries(net.inputs.map((i) => [i.spec.name, feed(i.spec, v)]));
  let out: ort.Tensor | undefined;
  try {
    out = (await session.run(feeds, [net.output.name]))[net.output.name];
  } catch (err) {
    throw new ImportError(
      `running the ${net.role} on a batch of ${v.rows} seeded inputs failed: ${err instanceof Error ? err.message : String(err)} ` +
        '(an export traced with a fixed batch size inside the graph fails here: re-export with dynamic_axes)',
    );
  }
  if (!out) throw new ImportError(`the ${net.role} gave no output '${net.output.name}'`);
  const dims = [...out.dims];
  if (dims[0] !== v.rows)
    throw new ImportError(
      `the ${net.role} gave ${dims[0]} rows of '${net.output.name}' for a batch of ${v.rows}`,
    );
  if (out.type === 'float16') return { data: float16BitsToFloat32(out.data as Uint16Array), dims };
  if (out.type === 'float32') return { data: (out.data as Float32Array).slice(), dims };
  throw new ImportError(
    `${net.role} output '${net.output.name}' is ${out.type}; the service reads float32 or float16`,
  );
}

/** w [rows, wDim] repeated for every layer when the synthesis network takes [rows, numWs, wDim]. */
function wsFor(w: { data: Float32Array; dims: number[] }, shape: number[], rows: number): Float32Array {
  const per = product(shape);
  const have = w.data.length / rows;
  if (have === per) return w.data;
  const out = new Float32Array(rows * per);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < per / have; k++)
      out.set(w.data.subarray(r * have, (r + 1) * have), r * per + k * have);
  return out;
}

/** [rows, ...] images from one layout to the other. */
export function transposeImages(
  data: Float32Array,
  rows: number,
  from: Layout,
  dims: readonly number[],
): Float32Array {
  const [a, b, c] = dims as [number, number, number];
  const out = new Float32Array(data.length);
  const per = a * b * c;
  for (let r = 0; r < rows; r++) {
    const base = r * per;
    for (let i = 0; i < a; i++)
      for (let j = 0; j < b; j++)
        for (let k = 0; k < c; k++) {
          // NCHW [C=a, H=b, W=c] → NHWC [H, W, C]; NHWC [H=a, W=b, C=c] → NCHW [C, H, W]
          const to = from === 'NCHW' ? (j * c + k) * a + i : (k * a + i) * b + j;
          out[base + to] = data[base + (i * b + j) * c + k]!;
        }
  }
  return out;
}

/** Runs mapping → generator → discriminator on the seeded batch. */
export async function probeModel(
  plan: ModelPlan,
  sessions: Sessions,
  o: InferOverrides,
): Promise<ProbeResult> {
  const rows = PROBE_SEEDS.length;
  const v: Values = { rows, latentDim: plan.latentDim, numClasses: plan.numClasses };
  let mappingDims: number[] | undefined;
  if (plan.mapping && sessions.mapping) {
    const w = await run(plan.mapping, sessions.mapping, v);
    mappingDims = w.dims.slice(1);
    const shape = resolveWShape(plan, mappingDims);
    v.ws = { data: wsFor(w, shape, rows), shape };
  }
  const out = await run(plan.generator, sessions.generator, v);
  const image = { dims: out.dims.slice(1), values: out.data, rows };
  let scores: Float32Array | undefined;
  if (plan.discriminator && sessions.discriminator) {
    const facts = generatorImage(plan, image.dims, o);
    const { layout } = discriminatorLayout(plan, facts, o);
    const data =
      layout === facts.layout ? out.data : transposeImages(out.data, rows, facts.layout, image.dims);
    const dims =
      layout === 'NCHW'
        ? [facts.image.channels, facts.image.height, facts.image.width]
        : [facts.image.height, facts.image.width, facts.image.channels];
    scores = (await run(plan.discriminator, sessions.discriminator, { ...v, images: { data, dims } })).data;
  }
  return { ...(mappingDims ? { mappingDims } : {}), image, ...(scores ? { scores } : {}) };
}
