/**
 * Reading a JSON request body: secure-json-parse (refusing __proto__ and constructor.prototype keys), then a check
 * that no object repeats a key. JSON.parse keeps the last of repeated keys, so `{"seed":1,"seed":2}` would be
 * answered for seed 2 while a proxy or log that reads the first sees seed 1.
 */
import { parse as parseJson } from 'secure-json-parse';
import { fieldPath, invalid } from '../errors.ts';

type Frame =
  | { kind: 'object'; keys: Set<string>; key: string | undefined; expectKey: boolean }
  | { kind: 'array'; index: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Where in the body a repeated key sits: the path of the object holding it and the key. */
export interface RepeatedKey {
  path: Array<string | number>;
  key: string;
}

/**
 * The first key an object of `text` repeats, or null. `text` must be valid JSON (parse it first): this only
 * tracks structure, in one pass; long strings are skipped with indexOf.
 */
export function findRepeatedKey(text: string): RepeatedKey | null {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end + 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const raw = text.slice(start + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(start, end + 1)) as string) : raw;
        if (top.keys.has(key)) return { path: pathOf(stack.slice(0, -1)), key };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      continue;
    }
    if (c === 0x7b /* { */) stack.push({ kind: 'object', keys: new Set(), key: undefined, expectKey: true });
    else if (c === 0x5b /* [ */) stack.push({ kind: 'array', index: 0 });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = true;
      else if (top) top.index++;
    }
    i++;
  }
  return null;
}

/** The path of the innermost frame: each object's current key, each array's current index. */
function pathOf(stack: Frame[]): Array<string | number> {
  return stack.map((f) => (f.kind === 'object' ? f.key! : f.index));
}

/**
 * Parse a JSON request body.
 * @throws ServiceError GAN_ERR_VALIDATION (field `body`, or the repeated key's path) naming what is wrong and where
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw invalid('body', 'the body is empty; send a JSON object');
  let value: unknown;
  try {
    value = parseJson(text, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalid(
      'body',
      /forbidden (prototype|constructor) property/.test(why)
        ? 'the body holds a __proto__ or constructor.prototype key, which is refused'
        : `the body is not valid JSON: ${why}`,
    );
  }
  const repeated = findRepeatedKey(text);
  if (repeated) {
    const field = fieldPath([...repeated.path, repeated.key]);
    throw invalid(field, `the key '${field}' appears more than once in the body; give each key once`);
  }
  return value;
}
