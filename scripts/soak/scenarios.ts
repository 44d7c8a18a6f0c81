/**
 * The soak's traffic: weighted scenarios of good, bad and hostile requests against one model, each with the statuses
 * it expects (every 5xx is unexpected), and a seeded pick among them so that two runs send the same mix. The hostile
 * ones are the requests an adversarial pass used to make one request cost far more than it should: a tiny PNG of
 * 16,777,216 pixels, a multipart body over the body limit, a diagnostics grid too large to draw, duplicate JSON keys.
 */
import { blackPng } from '../images/crafted-png.ts';

/** A multipart body of `parts` files of `size` bytes each (past GAN_BODY_LIMIT_BYTES when large enough). */
function multipartBody(parts: number, size: number): { body: Buffer; contentType: string } {
  const boundary = 'soak-boundary-7e3';
  const file = Buffer.alloc(size, 7);
  const pieces: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    pieces.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${i}.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      file,
      Buffer.from('\r\n'),
    );
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface Scenario {
  name: string;
  weight: number;
  /** Statuses it may get, or a client-side outcome such as `error: TypeError` (the server closed the upload). */
  expect: Array<number | string>;
  request: () => { url: string; init: RequestInit };
}

/** What the soak needs to know of the model it drives (from /v1/models and /v2/models/<name>-generator). */
export interface SoakModel {
  name: string;
  latentDim: number;
  conditional: boolean;
  diagnostics: boolean;
  /** The v2 generator's latent and class input names. */
  v2Latent: string;
  v2Label: string;
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The scenarios against `model`. `good` is a PNG the model generated (a valid /discriminate upload); seeds count
 * up from `firstSeed`, so no two generate requests repeat.
 */
export function soakScenarios(model: SoakModel, good: Uint8Array<ArrayBuffer>, firstSeed = 1000): Scenario[] {
  const label = model.conditional ? { label: 3 } : {};
  const noise = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 256));
  const thin = new Uint8Array(blackPng(1, 16_777_216));
  // 3 parts of 4 MiB: 12 MiB against the default 8 MiB body limit.
  const tooBig = multipartBody(3, 4 * 1024 * 1024);
  const tooBigBody = new Uint8Array(tooBig.body);
  let seed = firstSeed;
  return [
    {
      name: 'generate count 1',
      weight: 35,
      expect: [200],
      request: () => ({ url: '/generate', init: json({ model: model.name, seed: seed++, ...label }) }),
    },
    {
      name: 'generate grid of 16',
      weight: 10,
      expect: [200],
      request: () => ({
        url: '/generate',
        init: json({ model: model.name, seed: seed++, count: 16, scale: 2, ...label }),
      }),
    },
    {
      name: 'generate bad field',
      weight: 10,
      expect: [400],
      request: () => ({ url: '/generate', init: json({ model: model.name, count: -3 }) }),
    },
    {
      name: 'generate unknown model',
      weight: 3,
      expect: [404],
      request: () => ({ url: '/generate', init: json({ model: 'no-such-model' }) }),
    },
    {
      name: 'discriminate PNG',
      weight: 20,
      expect: [200],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: good },
      }),
    },
    {
      name: 'discriminate garbage',
      weight: 6,
      expect: [422],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: noise },
      }),
    },
    {
      name: 'discriminate bad base64',
      weight: 4,
      expect: [400],
      request: () => ({ url: '/discriminate', init: json({ images: ['***'] }) }),
    },
    {
      name: 'v2 infer',
      weight: 8,
      expect: [200],
      request: () => ({
        url: `/v2/models/${model.name}-generator/infer`,
        init: json({
          inputs: [
            {
              name: model.v2Latent,
              shape: [1, model.latentDim],
              datatype: 'FP32',
              data: new Array(model.latentDim).fill(0.1),
            },
            ...(model.conditional ? [{ name: model.v2Label, shape: [1], datatype: 'INT32', data: [3] }] : []),
          ],
        }),
      }),
    },
    {
      name: 'hostile: 1 × 16,777,216 PNG',
      weight: 2,
      expect: [413, 422],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: thin },
      }),
    },
    {
      name: 'hostile: multipart over the body limit',
      weight: 1,
      // Refused from its Content-Length with 413 and the connection closed: a client still sending may see the
      // close (fetch's TypeError) instead of the answer.
      expect: [413, 'error: TypeError'],
      request: () => ({
        url: `/discriminate?model=${model.name}`,
        init: { method: 'POST', headers: { 'content-type': tooBig.contentType }, body: tooBigBody },
      }),
    },
    {
      name: 'hostile: diagnostics grid too large',
      weight: 1,
      expect: model.diagnostics ? [400] : [409],
      request: () => ({
        url: `/v1/models/${model.name}/diagnostics/grid.png?samples=100&perClass=32&scale=16`,
        init: { method: 'GET' },
      }),
    },
    {
      name: 'hostile: duplicate JSON keys',
      weight: 2,
      expect: [400],
      request: () => ({
        url: '/generate',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"model":"${model.name}","seed":1,"seed":2}`,
        },
      }),
    },
    {
      name: 'diagnostics (100 samples)',
      weight: 1,
      expect: model.diagnostics ? [200] : [409],
      request: () => ({
        url: `/v1/models/${model.name}/diagnostics`,
        init: json({ samples: 100, seed: seed++ }),
      }),
    },
  ];
}

/** Picks scenarios by weight from a fixed-seed linear congruential generator: the same sequence every run. */
export function weightedPicker(scenarios: readonly Scenario[], seed = 12345): () => Scenario {
  const totalWeight = scenarios.reduce((n, s) => n + s.weight, 0);
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    let x = (state / 2 ** 31) * totalWeight;
    for (const s of scenarios) {
      x -= s.weight;
      if (x < 0) return s;
    }
    return scenarios[0]!;
  };
}
