/**
 * A tfjs IO handler over the local file system (`file://` needs tfjs-node, which cannot be installed here).
 * Writes the standard tfjs layers format: `<dir>/model.json` (topology + weights manifest) and `<dir>/weights.bin`,
 * so a saved model also loads with `tf.loadLayersModel` from any http server.
 *
 *   await model.save(fileSaveHandler('runs/x/checkpoint/generator'));
 *   const model = await tf.loadLayersModel(fileLoadHandler('runs/x/checkpoint/generator'));
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

type ModelJson = {
  modelTopology: object | ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  trainingConfig?: tf.io.TrainingConfig;
  userDefinedMetadata?: { [key: string]: object };
  weightsManifest: tf.io.WeightsManifestConfig;
};

function joinWeights(data: tf.io.ModelArtifacts['weightData']): ArrayBuffer {
  if (data == null) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
}

/** Saves a model (topology + weights) into `dir`, creating it. */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error(
          'fileSaveHandler: expected a JSON model topology (layers model), got binary (graph model)',
        );
      }
      await mkdir(dir, { recursive: true });
      const weights = joinWeights(artifacts.weightData);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFile(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(json.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/** Loads a model saved by {@link fileSaveHandler} (or any tfjs layers-format folder with local weight files). */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      const json = JSON.parse(await readFile(jsonPath, 'utf8')) as ModelJson;
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(
          `${jsonPath}: expected modelTopology and weightsManifest, got ${Object.keys(json).join(', ')}`,
        );
      }
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) {
          const bytes = await readFile(path.join(dir, p));
          buffers.push(
            bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
          );
        }
      }
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: tf.io.CompositeArrayBuffer.join(buffers),
      };
      if (json.format) artifacts.format = json.format;
      if (json.generatedBy) artifacts.generatedBy = json.generatedBy;
      if (json.convertedBy) artifacts.convertedBy = json.convertedBy;
      if (json.trainingConfig) artifacts.trainingConfig = json.trainingConfig;
      if (json.userDefinedMetadata) artifacts.userDefinedMetadata = json.userDefinedMetadata;
      return artifacts;
    },
  };
}
