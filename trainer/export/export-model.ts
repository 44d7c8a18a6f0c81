/**
 * Checked export of one tfjs model: convert, compare with tfjs on random inputs, and write the ONNX file only when
 * every output agrees within PARITY_TOLERANCE. Also reads what the manifest needs from the tfjs graph (the final
 * activation decides output ranges and logit vs probability; the layer before the classifier head gives features).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { type ConvertedModel, type ConvertOptions, convertLayersModel } from './convert.ts';
import { measureParity, PARITY_SAMPLES, PARITY_TOLERANCE, type ParityReport } from './parity.ts';

/**
 * The forms the exporter writes by default: BatchNorm folded, NCHW kept between convolutions, ConvTranspose
 * native (measured fastest on onnxruntime's CPU provider; see scripts/bench/export-forms.ts).
 */
export const FAST_FORM: ConvertOptions = { foldBatchNorm: true, layout: 'lazy', convTranspose: 'native' };

export class ParityError extends Error {
  constructor(
    readonly file: string,
    readonly report: ParityReport,
    readonly tolerance: number,
  ) {
    super(
      `refusing to write ${file}: ONNX differs from tfjs by ${report.worst.toExponential(3)} (max abs over ` +
        `${report.samples} inputs: ${JSON.stringify(report.maxAbsDiff)}), expected ≤ ${tolerance}`,
    );
    this.name = 'ParityError';
  }
}

export interface CheckedExportOptions extends ConvertOptions {
  samples?: number;
  tolerance?: number;
}

export interface CheckedExport {
  converted: ConvertedModel;
  parity: ParityReport;
  file: string;
}

/** Converts `model`, checks parity against `model.predict`, and writes `file` only if it passes. */
export async function exportChecked(
  model: tfTypes.LayersModel,
  file: string,
  options: CheckedExportOptions = {},
): Promise<CheckedExport> {
  const { samples = PARITY_SAMPLES, tolerance = PARITY_TOLERANCE, ...convertOptions } = options;
  const converted = convertLayersModel(model, { ...FAST_FORM, ...convertOptions });
  const parity = await measureParity(model, converted, {
    samples,
    extraOutputs: convertOptions.extraOutputs,
  });
  if (!(parity.worst <= tolerance)) throw new ParityError(file, parity, tolerance);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, converted.bytes);
  return { converted, parity, file };
}

const PASS_THROUGH = new Set(['Reshape', 'Flatten', 'Dropout', 'InputLayer']);

/** The activation that ends output `index` of `model`, looking back through reshapes and dropout. */
export function finalActivation(model: tfTypes.LayersModel, index = 0): string {
  let t = model.outputs[index];
  while (t) {
    const layer = t.sourceLayer;
    const className = layer.getClassName();
    const config = layer.getConfig() as Record<string, unknown>;
    if (className === 'Activation') return String(config.activation);
    if (className === 'Softmax') return 'softmax';
    if (!PASS_THROUGH.has(className))
      return typeof config.activation === 'string' ? config.activation : 'linear';
    t = layer.inboundNodes[t.nodeIndex]?.inputTensors[0];
    if (className === 'InputLayer') break;
  }
  return 'linear';
}

/** Value range of an image produced by `activation`, or null when it is unbounded. */
export function rangeOfActivation(activation: string): [number, number] | null {
  if (activation === 'tanh') return [-1, 1];
  if (activation === 'sigmoid') return [0, 1];
  return null;
}

/**
 * The classifier's penultimate features: the layer feeding its final Dense (looking past a trailing softmax
 * Activation). @returns that layer's name and the feature width
 */
export function penultimateLayer(
  model: tfTypes.LayersModel,
  index = 0,
): { layer: string; featureDim: number } {
  let t = model.outputs[index]!;
  if (['Activation', 'Softmax'].includes(t.sourceLayer.getClassName())) {
    t = t.sourceLayer.inboundNodes[t.nodeIndex]!.inputTensors[0]!;
  }
  if (t.sourceLayer.getClassName() !== 'Dense') {
    throw new Error(
      `${model.name}: expected the output to come from a Dense layer, got ${t.sourceLayer.getClassName()}`,
    );
  }
  const features = t.sourceLayer.inboundNodes[t.nodeIndex]!.inputTensors[0]!;
  if (features.shape.length !== 2) {
    throw new Error(`${model.name}: penultimate features must be [N, D], got [${features.shape}]`);
  }
  return { layer: features.sourceLayer.name, featureDim: features.shape[1]! };
}
