/**
 * The soak's traffic: weighted scenarios of good and bad requests against one model, each with the statuses it
 * expects (every 5xx is unexpected), and a seeded pick among them so that two runs send the same mix.
 */

export interface Scenario {
  name: string;
  weight: number;
  expect: number[];
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
