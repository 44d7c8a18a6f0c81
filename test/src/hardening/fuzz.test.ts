/**
 * Property-based bad input over every JSON route: random and mutated bodies always get a 4xx JSON error with a code
 * (or a 200 when they happen to be valid), never a 5xx or a hang, and the service answers correctly afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
let reference: Buffer;
beforeAll(async () => {
  t = await startTestApp();
  reference = (await post('/generate', JSON.stringify({ seed: 42 }))).rawPayload;
});
afterAll(async () => {
  await t.close();
});

function post(url: string, payload: string, contentType = 'application/json') {
  return t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
}

/** Values that break naive parsers: huge, tiny, non-integral, wrong types, deep nesting, path names. */
const nasty = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    2 ** 32,
    2 ** 53 + 1,
    -1,
    0,
    0.5,
    -0.0,
    Number.MAX_SAFE_INTEGER,
    '42',
    '',
    '../../etc/passwd',
    'tiny',
    null,
    true,
    [],
    {},
    [[[[1]]]],
    '__proto__',
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.array(fc.double(), { maxLength: 40 }),
  fc.array(fc.array(fc.oneof(fc.double(), fc.string()), { maxLength: 20 }), { maxLength: 4 }),
);

const validGenerate = { model: 'tiny', count: 2, seed: 7, truncation: 0.8, format: 'json', scale: 2 };
const fields = [
  'model',
  'count',
  'seed',
  'seeds',
  'latents',
  'truncation',
  'label',
  'labels',
  'format',
  'scale',
  'columns',
  'returnLatents',
  'extra',
];

/** A valid body with one to three fields replaced or removed. */
const mutated = (base: Record<string, unknown>, keys: string[]) =>
  fc
    .array(fc.tuple(fc.constantFrom(...keys), fc.option(nasty, { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    })
    .map((changes) => {
      const body: Record<string, unknown> = { ...base };
      for (const [k, v] of changes) {
        if (v === undefined) delete body[k];
        else body[k] = v;
      }
      return body;
    });

async function expectClientError(url: string, payload: string, v2 = false) {
  const res = await post(url, payload);
  expect(res.statusCode, `${url} ${payload.slice(0, 200)} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const body = res.json();
    if (v2) expect(typeof body.error).toBe('string');
    else expect(body.error.code).toMatch(/^GAN_ERR_[A-Z_]+$/);
  }
}

describe('fuzzed JSON bodies never cause a 5xx', () => {
  it('POST /generate: arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (body) =>
        expectClientError('/generate', JSON.stringify(body)),
      ),
      { numRuns: 150 },
    );
  });

  it('POST /generate: valid bodies with nasty fields', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(validGenerate, fields), async (body) =>
        expectClientError('/generate', JSON.stringify(body)),
      ),
      { numRuns: 250 },
    );
  });

  it('POST /generate: conditional model with nasty labels', async () => {
    const base = { model: 'tiny-conditional', count: 2, labels: [1, 2], seed: 3, format: 'json' };
    await fc.assert(
      fc.asyncProperty(mutated(base, ['labels', 'label', 'count', 'seeds']), async (body) =>
        expectClientError('/generate', JSON.stringify(body)),
      ),
      { numRuns: 150 },
    );
  });

  it('POST /discriminate: JSON bodies with nasty images', async () => {
    const png = reference.toString('base64');
    const base = { images: [png], model: 'tiny' };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated(base, ['images', 'model', 'labels', 'extra']),
          fc
            .array(fc.oneof(fc.base64String({ maxLength: 200 }), fc.constant(png.slice(0, 100))), {
              maxLength: 3,
            })
            .map((images) => ({ images })),
        ),
        async (body) => expectClientError('/discriminate', JSON.stringify(body)),
      ),
      { numRuns: 150 },
    );
  });

  it('POST /v2/models/:name/infer: mutated tensors', async () => {
    const z = new Array(16).fill(0.1);
    const input = { name: 'z', shape: [1, 16], datatype: 'FP32', data: z };
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      mutated(input, ['name', 'shape', 'datatype', 'data', 'parameters']).map((i) => ({ inputs: [i] })),
      mutated({ inputs: [input], id: 'x', outputs: [{ name: 'image' }] }, [
        'inputs',
        'id',
        'outputs',
        'parameters',
      ]),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('tiny-generator', 'tiny-discriminator', 'tiny-conditional-generator'),
        async (b, name) => expectClientError(`/v2/models/${name}/infer`, JSON.stringify(b), true),
      ),
      { numRuns: 200 },
    );
  });

  it('malformed JSON text, duplicate keys, prototype keys and huge bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), async (text) => expectClientError('/generate', text)),
      { numRuns: 100 },
    );
    for (const payload of [
      '{"seed": 1, "seed": -5}',
      '{"__proto__": {"count": 256}}',
      '{"constructor": {"prototype": {"x": 1}}}',
      `{"latents": [${new Array(300_000).fill('0.5').join(',')}]}`,
      `{"seeds": [${new Array(100_000).fill('1').join(',')}]}`,
    ]) {
      await expectClientError('/generate', payload);
    }
    const tooBig = await post('/generate', `{"pad":"${'x'.repeat(9 * 1024 * 1024)}"}`);
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.code).toBe('GAN_ERR_PAYLOAD_TOO_LARGE');
  });

  it('still answers correctly afterwards', async () => {
    const again = await post('/generate', JSON.stringify({ seed: 42 }));
    expect(again.statusCode).toBe(200);
    expect(again.rawPayload.equals(reference)).toBe(true);
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
  });
});
