/**
 * Reading JSON request bodies: repeated keys are found wherever they are, with their path; everything else parses
 * as JSON.parse does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findRepeatedKey, parseJsonBody } from '../../../src/http/json-body.ts';

describe('findRepeatedKey', () => {
  it.each([
    ['{"seed":1,"seed":2}', { path: [], key: 'seed' }],
    ['{"a":{"b":1,"c":[1,{"d":2,"d":3}]}}', { path: ['a', 'c', 1], key: 'd' }],
    ['{"inputs":[{"name":"z"},{"name":"z","name":"y"}]}', { path: ['inputs', 1], key: 'name' }],
    ['{"a\\u0062":1,"ab":2}', { path: [], key: 'ab' }],
    ['[{"x":1},{"x":1,"x":2}]', { path: [1], key: 'x' }],
  ])('%s', (text, expected) => {
    expect(findRepeatedKey(text)).toEqual(expected);
  });

  it('finds none in JSON without repeats: keys equal to values, escaped quotes, nested objects', async () => {
    for (const text of [
      '{"a":"a","b":{"a":1},"c":[{"a":1},{"a":2}]}',
      '{"q\\"":"\\"q","q":"\\\\"}',
      '{"":1,"\\\\":2,"s":"{\\"s\\":1}"}',
      '[1,2,{"k":[{}]},"k"]',
    ]) {
      expect(findRepeatedKey(text)).toBeNull();
    }
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(findRepeatedKey(JSON.stringify(value))).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseJsonBody', () => {
  it('names the repeated key by its path', () => {
    expect(() => parseJsonBody('{"inputs":[{"name":"a","name":"b"}]}')).toThrow(
      expect.objectContaining({ code: 'GAN_ERR_VALIDATION', field: 'inputs[0].name' }),
    );
  });

  it('scans an 8 MB body of base64 strings (long strings are skipped with indexOf, not walked)', () => {
    const text = JSON.stringify({ images: Array.from({ length: 190 }, () => 'A'.repeat(44_000)) });
    expect(parseJsonBody(text)).toMatchObject({ images: expect.any(Array) });
    expect(findRepeatedKey(text)).toBeNull();
  });
});
