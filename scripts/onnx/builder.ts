/**
 * A small typed builder for ONNX graphs over `onnx-proto`: initializers from typed arrays, nodes with typed
 * attributes, inputs/outputs with a symbolic batch dimension, serialised to the bytes onnxruntime loads. Used by the
 * tfjs exporter and by the test fixtures.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Default opset: 17 has LayerNormalization and every op the exporter emits, and onnxruntime ≥ 1.13 runs it. */
export const DEFAULT_OPSET = 17;
/** IR version 8 is the one that goes with opset 17. */
const IR_VERSION = 8;

/** 'float16' data is IEEE 754 binary16 bit patterns in a Uint16Array (see src/inference/float16.ts). */
export type ElementType = 'float32' | 'float16' | 'int32' | 'int64';
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array;
/** A dimension: a fixed size, or a symbolic name such as 'N' for the dynamic batch axis. */
export type Dim = number | string;

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** An attribute value tagged with its ONNX type (a bare number can't tell 1 from 1.0). */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attr => {
    if (!Number.isInteger(value)) throw new TypeError(`int attribute must be an integer, got ${value}`);
    return { kind: 'int', value };
  },
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => {
    if (!value.every(Number.isInteger))
      throw new TypeError(`ints attribute must be integers, got [${value}]`);
    return { kind: 'ints', value };
  },
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

export type Attrs = Readonly<Record<string, Attr>>;

/** The ONNX `TensorProto.DataType` number of an element type, e.g. for Cast's `to` attribute. */
export function onnxDataType(type: ElementType): number {
  return DATA_TYPE[type];
}

function elementTypeOf(data: TensorData): ElementType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

function toAttributeProto(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function valueInfo(name: string, type: ElementType, shape: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Little-endian bytes of a typed array (a copy, so later writes to the array don't change the model). */
function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export interface NodeOptions {
  /** Output names, or how many fresh ones to make (default 1). */
  outputs?: readonly string[] | number;
  attrs?: Attrs;
  /** Node name; a unique one is made from the op type if absent. */
  name?: string;
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  /** Names of values that exist (inputs, initializers, node outputs). */
  private readonly names = new Set<string>();
  /** Names handed out by `fresh`, not necessarily used yet. */
  private readonly issued = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(
    readonly graphName: string,
    readonly opset: number = DEFAULT_OPSET,
  ) {}

  /** A name not used or handed out yet in this graph, from `prefix` (pass it on to `initializer`, `op`, …). */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name: string;
    do {
      name = `${prefix}_${n++}`;
    } while (this.names.has(name) || this.issued.has(name));
    this.counters.set(prefix, n);
    this.issued.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name))
      throw new Error(`ONNX graph '${this.graphName}': name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  /** A graph input; use a string dim (e.g. 'N') for the dynamic batch axis. */
  input(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, shape));
    return name;
  }

  /** Declares an existing value as a graph output (rename it first with `identity` if needed). */
  output(name: string, type: ElementType, shape: readonly Dim[]): string {
    if (!this.names.has(name))
      throw new Error(`ONNX graph '${this.graphName}': output '${name}' is not produced`);
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  /**
   * A constant tensor stored in the model; its element type follows the array (a Uint16Array holds float16 bits).
   * @param dims its shape; the product must equal `data.length` ([] for a scalar)
   * @param name a fixed name, or a fresh one from 'const' if absent
   */
  initializer(data: TensorData, dims: readonly number[], name?: string): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(
        `initializer ${name ?? ''} of shape [${dims}] needs ${size} values, got ${data.length}`,
      );
    }
    const tensorName = this.claim(name ?? this.fresh('const'));
    this.initializers.push({
      name: tensorName,
      dims: [...dims],
      dataType: DATA_TYPE[elementTypeOf(data)],
      rawData: rawBytes(data),
    });
    return tensorName;
  }

  /** An int64 1-D constant, the form Reshape/Slice/Unsqueeze take their shape arguments in. */
  int64s(values: readonly number[], name?: string): string {
    return this.initializer(
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
      name,
    );
  }

  /** A float32 scalar constant. */
  scalar(value: number, name?: string): string {
    return this.initializer(Float32Array.of(value), [], name);
  }

  /** Adds a node; returns its output names. */
  node(opType: string, inputs: readonly string[], options: NodeOptions = {}): string[] {
    const spec = options.outputs ?? 1;
    const outputs =
      typeof spec === 'number'
        ? Array.from({ length: spec }, () => this.claim(this.fresh(opType.toLowerCase())))
        : spec.map((n) => this.claim(n));
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputs,
      name: options.name ?? this.fresh(`${opType}_node`),
      attribute: Object.entries(options.attrs ?? {}).map(([k, v]) => toAttributeProto(k, v)),
    });
    return outputs;
  }

  /** Adds a single-output node; returns its output name (`output` fixes it, e.g. for a graph output). */
  op(opType: string, inputs: readonly string[], attrs?: Attrs, output?: string): string {
    const outs = this.node(opType, inputs, { attrs, outputs: output === undefined ? 1 : [output] });
    return outs[0]!;
  }

  toModel(): onnxProto.onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'gan-serve',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  /** The serialised model, ready for `InferenceSession.create(bytes)` or a `.onnx` file. */
  serialize(): Uint8Array {
    return onnx.ModelProto.encode(this.toModel()).finish();
  }
}

/** Parses model bytes (for inspecting what was written: op types, initializer shapes). */
export function parseModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
