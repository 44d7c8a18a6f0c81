/**
 * The vocabulary shared by the converter (`convert.ts`) and the per-layer converters (`layers.ts`): converted
 * values, conversion options and the context a layer converter works in.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Attrs, GraphBuilder } from '../../scripts/onnx/builder.ts';

export type Layout = 'NHWC' | 'NCHW';

/** A converted tensor: its ONNX name, tfjs shape (batch null) and, for rank 4, the layout it is held in. */
export interface Value {
  name: string;
  /** The tfjs (NHWC) shape, batch first as null. */
  shape: readonly (number | null)[];
  dtype: 'float32' | 'int32' | 'int64';
  layout: Layout;
}

export interface ConvertOptions {
  /** ONNX graph name (default: the tfjs model's name). */
  graphName?: string;
  /** Fold inference BatchNormalization into the preceding Conv/ConvTranspose/Dense when it is the only reader. */
  foldBatchNorm?: boolean;
  /**
   * 'lazy' keeps 4-D tensors NCHW between consecutive convolutions and transposes back to NHWC only where the
   * layout matters (Flatten, Reshape, Dense, Concatenate, outputs); 'nhwc' transposes around every convolution.
   */
  layout?: 'lazy' | 'nhwc';
  /** 'depthToSpace' rewrites a strided Conv2DTranspose as Conv + DepthToSpace where shapes allow. */
  convTranspose?: 'native' | 'depthToSpace';
  /** ONNX element type of label (Embedding-only) inputs. */
  labelDtype?: 'int32' | 'int64';
  /** ONNX names for the model's outputs, in order (default: tfjs `outputNames`). */
  outputNames?: readonly string[];
  /** Extra graph outputs: ONNX name → tfjs layer name whose (first) output it exposes. */
  extraOutputs?: Readonly<Record<string, string>>;
}

/** The options that shape the graph, every one resolved. */
export type GraphOptions = Required<Omit<ConvertOptions, 'graphName' | 'extraOutputs' | 'outputNames'>>;

type Layer = tfTypes.layers.Layer;

/** What a layer converter sees. */
export interface LayerContext {
  readonly g: GraphBuilder;
  readonly options: GraphOptions;
  readonly layer: Layer;
  readonly className: string;
  /** The layer's config from `getConfig()` (the only trustworthy source of alpha/epsilon/padding). */
  readonly config: Record<string, unknown>;
  readonly inputs: readonly Value[];
  /** tfjs shapes of this call's outputs. */
  readonly outputShapes: readonly (readonly (number | null)[])[];
  /** The single layer reading this call's only output, when that output is not a model output. */
  readonly soleConsumer: Layer | null;
  /** Marks `consumer` (the sole consumer) as absorbed: its output is this layer's output. */
  absorb(consumer: Layer): void;
  /** `v` in NHWC (a Transpose if it is held NCHW). */
  nhwc(v: Value): Value;
  /** `v` (rank 4) in NCHW. */
  nchw(v: Value): Value;
  /** A fresh ONNX name from this layer's name. */
  fresh(suffix: string): string;
  /** Adds a single-output node named after the layer; returns its output. */
  op(opType: string, inputs: readonly string[], attrs?: Attrs): string;
  fail(message: string): never;
}

export type LayerConverter = (ctx: LayerContext) => Value[];
