/**
 * gRPC messages ↔ the protocol-neutral v2 request and result (src/services/v2-infer.ts). Inputs come as typed
 * `contents` or as `raw_input_contents` (one entry per input, in order); outputs always go back as
 * `raw_output_contents`, as Triton answers.
 */
import { ServiceError } from '../errors.ts';
import type { V2InferRequest, V2InferResult, V2InputTensor, V2Parameters } from '../services/v2-infer.ts';
import { encodeRaw } from '../services/v2-tensors.ts';
import type {
  InferInputTensor,
  InferParameter,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
} from './proto.ts';

/** Where each datatype's values go in `contents`. */
const CONTENTS_FIELD: Record<string, keyof InferTensorContents> = {
  FP32: 'fp32_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  BOOL: 'bool_contents',
};

const bad = (message: string, field: string) => new ServiceError('GAN_ERR_VALIDATION', message, field);

function parameters(map: Record<string, InferParameter> | undefined): V2Parameters | undefined {
  const entries = Object.entries(map ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([k, p]) => [k, p.parameter_choice ? p[p.parameter_choice] : undefined]),
  );
}

const filled = (contents: InferTensorContents | null | undefined) =>
  Object.values(contents ?? {}).some((v) => Array.isArray(v) && v.length > 0);

function contentsOf(input: InferInputTensor, i: number): readonly unknown[] {
  const field = CONTENTS_FIELD[input.datatype];
  if (input.datatype === 'FP16') {
    throw bad(`input '${input.name}' is FP16, which travels only as raw_input_contents`, `inputs[${i}]`);
  }
  const values = field ? input.contents?.[field] : undefined;
  if (field && (values === undefined || values.length === 0) && filled(input.contents)) {
    throw bad(
      `input '${input.name}' is ${input.datatype}: its values go in contents.${field}`,
      `inputs[${i}]`,
    );
  }
  return values ?? [];
}

export function decodeInferRequest(request: ModelInferRequest): V2InferRequest {
  const raw = request.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw bad(
      `raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs; give one per input, in order`,
      'raw_input_contents',
    );
  }
  const inputs = request.inputs.map((input, i): V2InputTensor => {
    const base = {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      parameters: parameters(input.parameters),
    };
    if (raw.length === 0) return { ...base, data: contentsOf(input, i) };
    if (filled(input.contents)) {
      throw bad(`input '${input.name}' has both contents and raw_input_contents; give one`, `inputs[${i}]`);
    }
    return { ...base, raw: raw[i]! };
  });
  return {
    id: request.id || undefined,
    parameters: parameters(request.parameters),
    inputs,
    outputs:
      request.outputs.length === 0
        ? undefined
        : request.outputs.map((o) => ({ name: o.name, parameters: parameters(o.parameters) })),
  };
}

export function encodeInferResult(result: V2InferResult): ModelInferResponse {
  return {
    model_name: result.model_name,
    model_version: result.model_version,
    ...(result.id !== undefined ? { id: result.id } : {}),
    outputs: result.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_output_contents: result.outputs.map((o) => encodeRaw(o.datatype, o.values)),
  };
}
