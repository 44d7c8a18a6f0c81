/**
 * The v2 protocol's HTTP encodings: JSON tensors, and Triton's binary tensor data extension. A binary request body
 * is a JSON header of `Inference-Header-Content-Length` bytes followed by the raw tensors of the inputs that carry
 * `parameters.binary_data_size`, back to back in input order; JSON and binary inputs mix freely. Outputs go back
 * binary when asked (`binary_data: true` on the output, or `binary_data_output: true` on the request for outputs
 * that don't say), and the answer is then a JSON header plus the raw outputs in the same layout.
 */
import { parse as parseJson } from 'secure-json-parse';
import { z } from 'zod';
import { fieldPath, ServiceError } from '../errors.ts';
import type { V2InferRequest, V2InferResult, V2InputTensor } from './v2-infer.ts';
import { encodeRaw, toNumbers } from './v2-tensors.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional();

/** The JSON part of an infer request (the whole body without the binary extension). */
export const inferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: parametersSchema,
  inputs: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        shape: z.array(z.number().int().min(0).max(1_000_000)).max(8),
        datatype: z.string().min(1).max(16),
        parameters: parametersSchema.describe(
          "binary_data_size: this input's bytes follow the JSON header (binary tensor data extension)",
        ),
        // Row-major numbers, flat or nested; checked (and flattened) by the service, since a recursive schema has
        // no place in the OpenAPI document. Absent for a binary input.
        data: z
          .array(z.unknown())
          .optional()
          .describe('Tensor values in row-major order, flat or nested arrays of numbers'),
      }),
    )
    .min(1)
    .max(8),
  outputs: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        parameters: parametersSchema.describe('binary_data: true returns this output as raw bytes'),
      }),
    )
    .min(1)
    .max(8)
    .optional(),
});

export type HttpInferRequest = z.infer<typeof inferRequestSchema>;

export interface DecodedHttpRequest {
  request: V2InferRequest;
  /** Whether output `name` goes back as raw bytes. */
  binaryOutput: (name: string) => boolean;
}

const bad = (message: string, field = 'body') => new ServiceError('GAN_ERR_VALIDATION', message, field);

function parseHeaderLength(value: string | string[] | undefined, bodyLength: number): number | null {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value[0]! : value;
  if (!/^\s*\d{1,15}\s*$/.test(text)) {
    throw bad(`${HEADER_LENGTH} must be a byte count; got '${text.slice(0, 32)}'`, HEADER_LENGTH);
  }
  const n = Number(text);
  if (n > bodyLength) {
    throw bad(`${HEADER_LENGTH} is ${n} but the body has only ${bodyLength} bytes`, HEADER_LENGTH);
  }
  return n;
}

function parseHeader(bytes: Buffer): HttpInferRequest {
  if (bytes.length === 0) throw bad('the JSON header is empty; send a JSON object');
  let json: unknown;
  try {
    json = parseJson(bytes.toString('utf8'), { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw bad(
      /forbidden (prototype|constructor) property/.test(why)
        ? 'the body holds a __proto__ or constructor.prototype key, which is refused'
        : `the JSON header is not valid JSON: ${why}`,
    );
  }
  const parsed = inferRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldPath(issue.path) || 'body';
    throw bad(`${field}: ${issue.message}`, field);
  }
  return parsed.data;
}

const isTrue = (v: unknown) => v === true;

/**
 * Split an infer request body into its JSON header and binary inputs.
 * @param body the whole request body
 * @param headerLength the `Inference-Header-Content-Length` header (absent: the body is all JSON)
 */
export function decodeInferBody(
  body: Buffer,
  headerLength: string | string[] | undefined,
): DecodedHttpRequest {
  const jsonLength = parseHeaderLength(headerLength, body.length) ?? body.length;
  const header = parseHeader(body.subarray(0, jsonLength));
  const binary = body.subarray(jsonLength);
  let offset = 0;
  const inputs = header.inputs.map((input, i): V2InputTensor => {
    const size = input.parameters?.binary_data_size;
    const base = {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      parameters: input.parameters,
    };
    if (size === undefined) return { ...base, data: input.data };
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      throw bad(
        `inputs[${i}].parameters.binary_data_size must be a byte count; got ${JSON.stringify(size)}`,
        `inputs[${i}]`,
      );
    }
    if (input.data !== undefined) {
      throw bad(`input '${input.name}' has both data and binary_data_size; give one`, `inputs[${i}]`);
    }
    if (offset + size > binary.length) {
      throw bad(
        `input '${input.name}' has binary_data_size ${size} at offset ${offset}, past the end of the ${binary.length} bytes of binary data`,
        `inputs[${i}]`,
      );
    }
    const raw = binary.subarray(offset, offset + size);
    offset += size;
    return { ...base, raw };
  });
  if (offset !== binary.length) {
    throw bad(
      `the body has ${binary.length} bytes after the JSON header but the inputs' binary_data_size add up to ${offset}`,
      HEADER_LENGTH,
    );
  }
  const allBinary = header.parameters?.binary_data_output;
  if (allBinary !== undefined && typeof allBinary !== 'boolean') {
    throw bad(
      `parameters.binary_data_output must be true or false; got ${JSON.stringify(allBinary)}`,
      'parameters',
    );
  }
  const perOutput = new Map<string, boolean>();
  header.outputs?.forEach((o, i) => {
    const flag = o.parameters?.binary_data;
    if (flag !== undefined && typeof flag !== 'boolean') {
      throw bad(
        `outputs[${i}].parameters.binary_data must be true or false; got ${JSON.stringify(flag)}`,
        `outputs[${i}]`,
      );
    }
    if (flag !== undefined) perOutput.set(o.name, flag);
  });
  return {
    request: { id: header.id, parameters: header.parameters, inputs, outputs: header.outputs },
    binaryOutput: (name) => perOutput.get(name) ?? isTrue(allBinary),
  };
}

export interface JsonOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size: number };
  data?: Array<number | boolean>;
}

export interface EncodedHttpResponse {
  /** The JSON answer, or the JSON header of a binary one. */
  json: { model_name: string; model_version: string; id?: string; outputs: JsonOutput[] };
  /** Raw outputs to follow the JSON header; empty when every output is JSON. */
  binary: Uint8Array[];
}

/** Outputs as JSON numbers or raw bytes, as the request asked. */
export function encodeInferResult(
  result: V2InferResult,
  binaryOutput: (name: string) => boolean,
): EncodedHttpResponse {
  const binary: Uint8Array[] = [];
  const outputs = result.outputs.map((out): JsonOutput => {
    const base = { name: out.name, datatype: out.datatype, shape: out.shape };
    if (binaryOutput(out.name)) {
      const bytes = encodeRaw(out.datatype, out.values);
      binary.push(bytes);
      return { ...base, parameters: { binary_data_size: bytes.length } };
    }
    // JSON has no NaN or Infinity: say so instead of failing to serialise the answer (raw bytes carry them).
    if (out.values instanceof Float32Array && !out.values.every(Number.isFinite)) {
      throw new ServiceError(
        'GAN_ERR_NON_FINITE_OUTPUT',
        `output '${out.name}' holds NaN or ±Infinity, which JSON cannot carry (ask for it as binary data); the inputs are far outside what the network was trained on`,
        'inputs',
      );
    }
    const numbers = toNumbers(out.values);
    const data = out.datatype === 'BOOL' ? numbers.map((v) => v !== 0) : numbers;
    return { ...base, data };
  });
  const { model_name, model_version, id } = result;
  return { json: { model_name, model_version, ...(id !== undefined ? { id } : {}), outputs }, binary };
}
