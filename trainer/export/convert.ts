/**
 * tfjs LayersModel → ONNX graph. Walks the model's node graph from its outputs, converts each layer call with the
 * converters in `layers.ts`, and returns the serialised model with its input/output signature.
 *
 * Conventions (documented for the manifest writer and the service):
 * - Batch axis is dynamic ('N'); every other dimension is fixed from the tfjs model.
 * - Images stay NHWC at the model's boundary, as tfjs has them.
 * - Label inputs: an input read only by Embedding layers is an integer class id. tfjs takes it as float32 [N, 1];
 *   the ONNX model takes it as int32 (or int64) [N] and reshapes it inside, so a client sends plain class ids.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { attr, type Dim, type ElementType, GraphBuilder } from '../../scripts/onnx/builder.ts';
import type { ConvertOptions, GraphOptions, LayerContext, Layout, Value } from './layer-context.ts';
import { LAYER_CONVERTERS, UnsupportedLayerError } from './layers.ts';

export type { ConvertOptions } from './layer-context.ts';

export interface IOSpec {
  name: string;
  dtype: ElementType;
  shape: Dim[];
  /** For inputs: 'label' when it carries integer class ids (Embedding only). */
  role: 'data' | 'label';
  /** Upper bound (exclusive) of a label input's values: the smallest Embedding inputDim that reads it. */
  numClasses?: number;
}

export interface ConvertedModel {
  bytes: Uint8Array;
  inputs: IOSpec[];
  outputs: IOSpec[];
  /** tfjs layer class names in conversion order (for reports). */
  layers: string[];
}

export const DEFAULT_CONVERT_OPTIONS: GraphOptions = {
  foldBatchNorm: true,
  layout: 'lazy',
  convTranspose: 'native',
  labelDtype: 'int32',
};

type Layer = tfTypes.layers.Layer;
type SymbolicTensor = tfTypes.SymbolicTensor;
type LayerNode = Layer['inboundNodes'][number];

/** The tfjs shape of a symbolic tensor. */
function shapeOf(t: SymbolicTensor): (number | null)[] {
  return [...t.shape];
}

function nodeKey(layer: Layer, nodeIndex: number): string {
  return `${layer.name}#${nodeIndex}`;
}

/**
 * Converts a tfjs LayersModel (functional or sequential, any number of inputs/outputs) to ONNX.
 * @throws UnsupportedLayerError naming the layer and its class when a layer (or one of its settings) has no mapping
 */
export function convertLayersModel(model: tfTypes.LayersModel, options: ConvertOptions = {}): ConvertedModel {
  const opts = { ...DEFAULT_CONVERT_OPTIONS, ...options };
  const g = new GraphBuilder(options.graphName ?? model.name);

  // Pass 1: the nodes reachable from the outputs, and who reads each tensor (layers can be shared with other
  // models, e.g. a discriminator inside the combined GAN, so only reachable nodes count).
  const readers = new Map<number, Layer[]>();
  const visited = new Set<string>();
  const producingNode = (t: SymbolicTensor): LayerNode => {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (!node) throw new Error(`tensor ${t.name}: layer ${t.sourceLayer.name} has no node ${t.nodeIndex}`);
    return node;
  };
  const extraTensors = Object.entries(options.extraOutputs ?? {}).map(([onnxName, layerName]) => {
    const layer = model.layers.find((l) => l.name === layerName);
    if (!layer) throw new Error(`extra output '${onnxName}': no layer named '${layerName}' in ${model.name}`);
    const node = layer.inboundNodes.find((n) => reachableFrom(n, model));
    const tensor = node?.outputTensors[0];
    if (!tensor)
      throw new Error(`extra output '${onnxName}': layer '${layerName}' is not called in ${model.name}`);
    return { onnxName, tensor };
  });
  const stack: SymbolicTensor[] = [...model.outputs, ...extraTensors.map((e) => e.tensor)];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const key = nodeKey(t.sourceLayer, t.nodeIndex);
    if (visited.has(key)) continue;
    visited.add(key);
    // An InputLayer's node lists its own output as its input.
    if (t.sourceLayer.getClassName() === 'InputLayer') continue;
    for (const input of producingNode(t).inputTensors) {
      const list = readers.get(input.id) ?? [];
      list.push(t.sourceLayer);
      readers.set(input.id, list);
      stack.push(input);
    }
  }
  const modelOutputIds = new Set([...model.outputs, ...extraTensors.map((e) => e.tensor)].map((t) => t.id));

  // Inputs.
  const values = new Map<number, Value>();
  const inputs: IOSpec[] = [];
  for (const [i, t] of model.inputs.entries()) {
    const name = model.inputNames[i] ?? t.sourceLayer.name;
    const shape = shapeOf(t);
    const tensorReaders = readers.get(t.id) ?? [];
    const isLabel = tensorReaders.length > 0 && tensorReaders.every((l) => l.getClassName() === 'Embedding');
    if (isLabel) {
      const numClasses = Math.min(...tensorReaders.map((l) => Number(l.getConfig().inputDim)));
      const squeeze = shape.length === 2 && shape[1] === 1;
      const onnxShape: Dim[] = squeeze ? ['N'] : ['N', ...shape.slice(1).map(fixedDim(name))];
      g.input(name, opts.labelDtype, onnxShape);
      inputs.push({ name, dtype: opts.labelDtype, shape: onnxShape, role: 'label', numClasses });
      const inner = squeeze ? g.op('Unsqueeze', [name, g.int64s([1])]) : name;
      values.set(t.id, { name: inner, shape, dtype: opts.labelDtype, layout: 'NHWC' });
    } else {
      if (t.dtype !== 'float32') throw new Error(`input '${name}': expected float32, got ${t.dtype}`);
      const onnxShape: Dim[] = ['N', ...shape.slice(1).map(fixedDim(name))];
      g.input(name, 'float32', onnxShape);
      inputs.push({ name, dtype: 'float32', shape: onnxShape, role: 'data' });
      values.set(t.id, { name, shape, dtype: 'float32', layout: 'NHWC' });
    }
  }

  // Pass 2: convert, depth first from the outputs.
  const converted = new Set<string>();
  const order: string[] = [];
  const transposed = new Map<string, string>(); // `${name}->${layout}` → transposed name

  const relayout = (v: Value, layout: Layout): Value => {
    if (v.layout === layout || v.shape.length !== 4)
      return { ...v, layout: v.shape.length === 4 ? layout : 'NHWC' };
    const key = `${v.name}->${layout}`;
    let name = transposed.get(key);
    if (name === undefined) {
      const perm = layout === 'NCHW' ? [0, 3, 1, 2] : [0, 2, 3, 1];
      name = g.op('Transpose', [v.name], { perm: attr.ints(perm) });
      transposed.set(key, name);
    }
    return { ...v, name, layout };
  };

  const convertNode = (layer: Layer, nodeIndex: number): void => {
    const key = nodeKey(layer, nodeIndex);
    if (converted.has(key)) return;
    const node = layer.inboundNodes[nodeIndex]!;
    for (const input of node.inputTensors) ensure(input);
    if (converted.has(key)) return; // absorbed while converting an input
    converted.add(key);
    const className = layer.getClassName();
    order.push(className);
    const converter = LAYER_CONVERTERS[className];
    if (!converter) throw new UnsupportedLayerError(layer.name, className);
    const outTensors = node.outputTensors;
    const onlyOut = outTensors.length === 1 ? outTensors[0]! : null;
    const outReaders = onlyOut ? (readers.get(onlyOut.id) ?? []) : [];
    const soleConsumer =
      onlyOut && outReaders.length === 1 && !modelOutputIds.has(onlyOut.id) ? outReaders[0]! : null;
    let absorbedLayer: Layer | null = null;
    const ctx: LayerContext = {
      g,
      options: opts,
      layer,
      className,
      config: layer.getConfig() as Record<string, unknown>,
      inputs: node.inputTensors.map((t) => values.get(t.id)!),
      outputShapes: outTensors.map(shapeOf),
      soleConsumer,
      absorb(consumer) {
        if (consumer !== soleConsumer) throw new Error(`${layer.name}: can only absorb its sole consumer`);
        absorbedLayer = consumer;
      },
      nhwc: (v) => relayout(v, 'NHWC'),
      nchw: (v) => {
        if (v.shape.length !== 4) throw new Error(`${layer.name}: expected a 4-D input, got [${v.shape}]`);
        return relayout(v, 'NCHW');
      },
      fresh: (suffix) => g.fresh(`${layer.name}/${suffix}`),
      op(opType, inputs, attrs) {
        const out = g.fresh(`${layer.name}/${opType}`);
        g.node(opType, inputs, { attrs, outputs: [out], name: out });
        return out;
      },
      fail(message): never {
        throw new UnsupportedLayerError(layer.name, className, message);
      },
    };
    let outs = converter(ctx);
    if (opts.layout === 'nhwc') outs = outs.map((v) => relayout(v, 'NHWC'));
    if (outs.length !== outTensors.length) {
      throw new Error(`${layer.name}: converter gave ${outs.length} outputs, tfjs has ${outTensors.length}`);
    }
    if (absorbedLayer !== null) {
      // The absorbed layer (e.g. a folded BatchNorm) produces what this converter returned.
      const consumer = absorbedLayer as Layer;
      const consumerNodeIndex = consumer.inboundNodes.findIndex((n) => n.inputTensors[0]?.id === onlyOut!.id);
      const consumerNode = consumer.inboundNodes[consumerNodeIndex]!;
      const consumerKey = nodeKey(consumer, consumerNodeIndex);
      converted.add(consumerKey);
      order.push(`${consumer.getClassName()}(folded)`);
      values.set(consumerNode.outputTensors[0]!.id, outs[0]!);
      // The absorbing layer's own output is read only by the absorbed one, which is now done.
      values.set(onlyOut!.id, outs[0]!);
    } else {
      outs.forEach((v, i) => {
        values.set(outTensors[i]!.id, v);
      });
    }
  };

  function ensure(t: SymbolicTensor): Value {
    if (!values.has(t.id)) convertNode(t.sourceLayer, t.nodeIndex);
    const v = values.get(t.id);
    if (!v) throw new Error(`tensor ${t.name} from ${t.sourceLayer.name} was not converted`);
    return v;
  }

  const outputs: IOSpec[] = [];
  const declareOutput = (name: string, t: SymbolicTensor) => {
    const v = relayout(ensure(t), 'NHWC');
    g.op('Identity', [v.name], undefined, name);
    const shape: Dim[] = ['N', ...v.shape.slice(1).map(fixedDim(name))];
    const dtype: ElementType = v.dtype;
    g.output(name, dtype, shape);
    outputs.push({ name, dtype, shape, role: 'data' });
  };
  model.outputs.forEach((t, i) => {
    declareOutput(options.outputNames?.[i] ?? model.outputNames[i] ?? `output_${i}`, t);
  });
  for (const { onnxName, tensor } of extraTensors) declareOutput(onnxName, tensor);

  return { bytes: g.serialize(), inputs, outputs, layers: order };
}

function fixedDim(tensor: string) {
  return (d: number | null): number => {
    if (d === null)
      throw new Error(`${tensor}: only the batch axis may be dynamic, got another null dimension`);
    return d;
  };
}

/** Whether a node belongs to `model`'s graph (its outputs lead to the model's outputs). */
function reachableFrom(node: LayerNode, model: tfTypes.LayersModel): boolean {
  const target = new Set(node.outputTensors.map((t) => t.id));
  const seen = new Set<number>();
  const stack = [...model.outputs];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (target.has(t.id)) return true;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    const n = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (n) stack.push(...n.inputTensors);
  }
  return false;
}
