/**
 * JSON response bodies that neither block the event loop nor grow without bound. `JSON.stringify` of a v2 answer of
 * 1,024 rows (10 MB, 800,000 numbers) holds the event loop for a few hundred milliseconds, during which /healthz
 * and every other request wait; here the value is written in pieces, yielding to other callbacks every few
 * milliseconds, and refused as soon as it passes a byte limit.
 */
import { ServiceError } from '../errors.ts';

export interface JsonResponseOptions {
  /** Largest body, bytes: past it, 400 GAN_ERR_RESPONSE_TOO_LARGE. */
  maxBytes: number;
  /** The request field that decides the size (`count`, `samples`), named in the error. */
  field?: string;
  /** What to ask for instead, ending the error's message: `ask for fewer images`. */
  hint?: string;
  /** Longest run without yielding to the event loop, ms. */
  sliceMs?: number;
}

/** Work between yields: a slice of ~5 ms keeps /healthz answering in well under 50 ms. */
const SLICE_MS = 5;
/** Bytes written between looks at the clock. */
const CHECK_BYTES = 64 * 1024;
const INITIAL_BYTES = 64 * 1024;
/** Numbers written per piece: ~0.5 ms of number formatting. */
const NUMBERS_PER_PIECE = 4096;

type TypedNumbers =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array;

/** `{"toJSON"}` resolved as JSON.stringify does. */
function resolve(value: unknown, key: string): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    return (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  return value;
}

/** Values JSON.stringify leaves out of objects (and writes as null in arrays). */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** A slice of a typed array as JSON: `1,2.5,null` (non-finite values are null, as JSON.stringify writes them). */
function numberRun(values: TypedNumbers | BigInt64Array | BigUint64Array, from: number, to: number): string {
  const slice = values.subarray(from, to);
  if (slice instanceof BigInt64Array || slice instanceof BigUint64Array) return slice.join(',');
  // JSON.stringify formats numbers about 3× faster than join() does.
  return JSON.stringify(Array.from(slice)).slice(1, -1);
}

/** Numbers, booleans and null: a run of them is written by one JSON.stringify call. */
const isSmallPrimitive = (v: unknown) => v === null || typeof v === 'number' || typeof v === 'boolean';

/**
 * The JSON text of `value` in pieces, as JSON.stringify(value) would write it, except that typed arrays are written
 * as arrays of numbers (BigInt64Array too) instead of objects keyed by index.
 */
function* pieces(value: unknown): Generator<string, void, undefined> {
  if (value === null) {
    yield 'null';
    return;
  }
  switch (typeof value) {
    case 'string':
      yield JSON.stringify(value);
      return;
    case 'number':
      yield Number.isFinite(value) ? String(value) : 'null';
      return;
    case 'boolean':
      yield value ? 'true' : 'false';
      return;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      break;
    default:
      yield 'null'; // only reached for array elements: objects skip these keys before coming here
      return;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const numbers = value as TypedNumbers | BigInt64Array | BigUint64Array;
    yield '[';
    for (let from = 0; from < numbers.length; from += NUMBERS_PER_PIECE) {
      const to = Math.min(numbers.length, from + NUMBERS_PER_PIECE);
      yield (from > 0 ? ',' : '') + numberRun(numbers, from, to);
    }
    yield ']';
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let from = 0; from < value.length; from += NUMBERS_PER_PIECE) {
      const to = Math.min(value.length, from + NUMBERS_PER_PIECE);
      let plain = true;
      for (let i = from; i < to && plain; i++) plain = isSmallPrimitive(value[i]);
      if (plain) {
        yield (from > 0 ? ',' : '') + JSON.stringify(value.slice(from, to)).slice(1, -1);
        continue;
      }
      for (let i = from; i < to; i++) {
        if (i > 0) yield ',';
        const item = resolve(value[i], String(i));
        yield* pieces(omitted(item) ? null : item);
      }
    }
    yield ']';
    return;
  }
  yield '{';
  let first = true;
  for (const key of Object.keys(value)) {
    const item = resolve((value as Record<string, unknown>)[key], key);
    if (omitted(item)) continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* pieces(item);
  }
  yield '}';
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Serialise `value` to UTF-8 JSON without holding the event loop longer than `sliceMs` at a time.
 * @throws ServiceError GAN_ERR_RESPONSE_TOO_LARGE once the text passes `maxBytes` (nothing more is written)
 */
export async function serializeJson(value: unknown, options: JsonResponseOptions): Promise<Buffer> {
  const sliceMs = options.sliceMs ?? SLICE_MS;
  const top = resolve(value, '');
  if (omitted(top)) throw new TypeError('the response body is not a JSON value');
  // Pieces are encoded straight into one growing buffer: joining them into a string first cost as much again.
  let out = Buffer.allocUnsafe(INITIAL_BYTES);
  let used = 0;
  let checked = 0;
  let sliceStart = performance.now();
  for (const piece of pieces(top)) {
    const room = piece.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (out.length - used < room) {
      const grown = Buffer.allocUnsafe(Math.max(out.length * 2, used + room));
      out.copy(grown, 0, 0, used);
      out = grown;
    }
    used += out.write(piece, used, 'utf8');
    if (used > options.maxBytes) {
      throw new ServiceError(
        'GAN_ERR_RESPONSE_TOO_LARGE',
        `the response would be larger than ${options.maxBytes} bytes (GAN_MAX_RESPONSE_BYTES)${options.hint ? `; ${options.hint}` : ''}`,
        options.field,
      );
    }
    if (used - checked < CHECK_BYTES) continue;
    checked = used;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return out.subarray(0, used);
}
