/**
 * Reads what an ONNX file promises without running it: each graph input's and output's name, element type and
 * shape (symbolic dimensions kept as their names), the model's metadata_props, and the op that makes each output
 * (for telling a probability from a logit). The importer infers a manifest from these.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { parseModel } from '../onnx/builder.ts';

const { onnx } = onnxProto;

/** A dimension: a fixed size, or a symbolic one ('batch', 'N'; '?' for a dynamic dimension without a name). */
export type Dim = number | string;

export interface TensorSignature {
  name: string;
  /** onnxruntime's name of the element type: 'float32', 'float16', 'int64', 'bool', … ('non-tensor' otherwise). */
  dtype: string;
  /** null when the file does not say (unknown rank, or not a tensor). */
  shape: Dim[] | null;
}

export interface OnnxSignature {
  /** Where it was read from (for messages). */
  file: string;
  /** Graph inputs the caller feeds (initializers listed as inputs, as old exports do, are left out). */
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** metadata_props, e.g. { 'gan-serve': '{…}', latent_dim: '512' }. */
  metadata: Record<string, string>;
  /**
   * For each output, the type of the op that makes it, looking back through ops that only move or cast values
   * (Reshape, Squeeze, Flatten, Cast, …): 'Sigmoid' for a discriminator that ends in one. null for a graph input.
   */
  outputOps: Record<string, string | null>;
  /** Locations of initializers stored outside the file (external data), which a copy of the file would lose. */
  externalData: string[];
  producer: string;
  opset: number | null;
}

const T = onnx.TensorProto.DataType;
const ELEMENT_TYPES: Record<number, string> = {
  [T.FLOAT]: 'float32',
  [T.FLOAT16]: 'float16',
  [T.BFLOAT16]: 'bfloat16',
  [T.DOUBLE]: 'float64',
  [T.INT8]: 'int8',
  [T.INT16]: 'int16',
  [T.INT32]: 'int32',
  [T.INT64]: 'int64',
  [T.UINT8]: 'uint8',
  [T.UINT16]: 'uint16',
  [T.UINT32]: 'uint32',
  [T.UINT64]: 'uint64',
  [T.BOOL]: 'bool',
  [T.STRING]: 'string',
};

/** Ops that pass values on unchanged up to shape or type, looked through when naming an output's op. */
const PASS_THROUGH = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Cast', 'Transpose']);

/** protobufjs gives int64 fields as numbers or Long objects. */
function toNumber(v: number | { toString(): string } | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'number' ? v : Number(v.toString());
}

function signatureOf(info: onnxProto.onnx.IValueInfoProto): TensorSignature {
  const name = info.name ?? '';
  const tensor = info.type?.tensorType;
  if (!tensor) return { name, dtype: 'non-tensor', shape: null };
  const dtype = ELEMENT_TYPES[tensor.elemType ?? 0] ?? `onnx type ${tensor.elemType}`;
  if (!tensor.shape) return { name, dtype, shape: null };
  const shape = (tensor.shape.dim ?? []).map((d): Dim => {
    if (d.dimParam) return d.dimParam;
    const value = toNumber(d.dimValue);
    // dim_value 0 or absent with no dim_param is an unnamed dynamic dimension.
    return value !== null && value > 0 ? value : '?';
  });
  return { name, dtype, shape };
}

/** Reads the signature of ONNX model bytes. */
export function inspectOnnx(bytes: Uint8Array, file = '<bytes>'): OnnxSignature {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = parseModel(bytes);
  } catch (err) {
    throw new Error(`${file}: not an ONNX model (${err instanceof Error ? err.message : String(err)})`);
  }
  const graph = model.graph;
  if (!graph || (graph.output ?? []).length === 0) throw new Error(`${file}: not an ONNX model (no graph)`);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const producers = new Map<string, onnxProto.onnx.INodeProto>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producers.set(out, node);
  const opOf = (value: string): string | null => {
    let node = producers.get(value);
    for (let hops = 0; node && PASS_THROUGH.has(node.opType ?? '') && hops < 32; hops++) {
      node = producers.get(node.input?.[0] ?? '');
    }
    return node?.opType ?? null;
  };
  const outputs = (graph.output ?? []).map(signatureOf);
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const externalData = (graph.initializer ?? [])
    .filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
    .map((t) => (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? t.name ?? '');
  const defaultOpset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    file,
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(signatureOf),
    outputs,
    metadata,
    outputOps: Object.fromEntries(outputs.map((o) => [o.name, opOf(o.name)])),
    externalData: [...new Set(externalData)],
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opset: toNumber(defaultOpset?.version),
  };
}

/** Reads the signature of an ONNX file. */
export async function inspectOnnxFile(file: string): Promise<OnnxSignature> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'no such file' : String(err)}`);
  }
  return inspectOnnx(bytes, file);
}

/** '[batch, 3, 64, 64]'; '[?]' for an unknown shape. */
export function formatShape(shape: readonly Dim[] | null): string {
  return shape ? `[${shape.join(', ')}]` : '[?]';
}
