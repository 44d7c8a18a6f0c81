/**
 * The Open Inference Protocol's gRPC service definition, loaded at run time from grpc_predict_v2.proto beside this
 * module (`npm run build` copies it into dist/grpc/), and the TypeScript shapes of the messages as
 * @grpc/proto-loader decodes them with LOADER_OPTIONS: snake_case field names, int64 as numbers, bytes as
 * Buffers, missing repeated fields as empty arrays.
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const PROTO_PATH = fileURLToPath(new URL('./grpc_predict_v2.proto', import.meta.url));
export const SERVICE_NAME = 'inference.GRPCInferenceService';

export const LOADER_OPTIONS: Options = {
  keepCase: true,
  // Shapes and INT64 values: numbers (exact below 2^53, far beyond any shape or class index).
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

export interface InferParameter {
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
}

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters: Record<string, InferParameter>;
  inputs: InferInputTensor[];
  outputs: Array<{ name: string; parameters: Record<string, InferParameter> }>;
  raw_input_contents: Buffer[];
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: TensorMetadata[];
  raw_output_contents: Uint8Array[];
}

export interface ModelRef {
  name: string;
  version?: string;
}

let loaded: { service: ServiceDefinition; Client: ServiceClientConstructor } | undefined;

/** The service definition (for a server) and a client constructor (for tests and benchmarks), loaded once. */
export function inferenceService(): { service: ServiceDefinition; Client: ServiceClientConstructor } {
  if (!loaded) {
    const definition = loadPackageDefinition(loadSync(PROTO_PATH, LOADER_OPTIONS));
    const Client = (definition.inference as Record<string, unknown>)
      .GRPCInferenceService as ServiceClientConstructor;
    loaded = { service: Client.service, Client };
  }
  return loaded;
}
