import { describe, expect, it } from 'vitest';
import { soakMarkdown, summarise } from '../../../scripts/soak/report.ts';
import { type SoakModel, soakScenarios, weightedPicker } from '../../../scripts/soak/scenarios.ts';

const model: SoakModel = {
  name: 'tiny',
  latentDim: 4,
  conditional: true,
  diagnostics: false,
  v2Latent: 'noise',
  v2Label: 'y',
};

describe('soak scenarios', () => {
  const scenarios = soakScenarios(model, Buffer.from('png'));

  it('name the model, count seeds up, and use its v2 input names', () => {
    const generate = scenarios.find((s) => s.name === 'generate count 1')!;
    const bodies = [generate.request(), generate.request()].map((r) => JSON.parse(String(r.init.body)));
    expect(bodies).toEqual([
      { model: 'tiny', seed: 1000, label: 3 },
      { model: 'tiny', seed: 1001, label: 3 },
    ]);
    const v2 = scenarios.find((s) => s.name === 'v2 infer')!.request();
    expect(v2.url).toBe('/v2/models/tiny-generator/infer');
    const inputs = (JSON.parse(String(v2.init.body)) as { inputs: Array<{ name: string; shape: number[] }> })
      .inputs;
    expect(inputs.map((i) => [i.name, i.shape])).toEqual([
      ['noise', [1, 4]],
      ['y', [1]],
    ]);
    // A model without diagnostics answers 409 there, which is expected.
    expect(scenarios.find((s) => s.name.startsWith('diagnostics'))!.expect).toEqual([409]);
  });

  it('are picked by weight, the same sequence every run', () => {
    const a = weightedPicker(scenarios);
    const b = weightedPicker(scenarios);
    const picks = Array.from({ length: 20_000 }, () => a().name);
    expect(Array.from({ length: 20_000 }, () => b().name)).toEqual(picks);
    const total = scenarios.reduce((n, s) => n + s.weight, 0);
    for (const s of scenarios) {
      const share = picks.filter((p) => p === s.name).length / picks.length;
      expect(share, s.name).toBeCloseTo(s.weight / total, 1);
    }
  });
});

describe('soak report', () => {
  const scenarios = soakScenarios(model, Buffer.from('png'));
  const counts = new Map([
    [
      'generate count 1',
      new Map([
        ['200', 90],
        ['503', 2],
      ]),
    ],
    [
      'generate bad field',
      new Map([
        ['400', 10],
        ['200', 1],
      ]),
    ],
    ['discriminate PNG', new Map([['error: TimeoutError', 3]])],
  ]);

  it('counts requests, 5xx and statuses a scenario did not expect', () => {
    const s = summarise(counts, scenarios);
    expect([s.total, s.fiveXX, s.unexpected]).toEqual([106, 2, 6]);
    expect(s.table[0]).toEqual({ scenario: 'generate count 1', statuses: { '200': 90, '503': 2 } });
  });

  it('writes one table row per scenario with a column per status', () => {
    const s = summarise(counts, scenarios);
    const md = soakMarkdown(
      {
        date: '2026-01-02T00:00:00.000Z',
        command: 'npm run soak -- --minutes 1',
        model: 'tiny',
        machine: { cpu: 'cpu', cores: 2, node: 'v20', loadAverageAtEnd: [0] },
        minutes: 1,
        connections: 4,
        ...s,
        unexpectedSamples: [],
        rss: { startMiB: 100, endMiB: 101 },
        serverExitCode: 0,
        windows: [{ t: 30, requests: 106, p50Ms: 3, p99Ms: 9, rssMiB: 101 }],
      },
      30,
    );
    expect(md).toContain('| scenario | 200 | 400 | 503 | error: TimeoutError |');
    expect(md).toContain('| generate bad field | 1 | 10 | 0 | 0 |');
    expect(md).toContain('106 requests; **2 5xx**; 6 answers');
    expect(md).toContain('| 30 | 106 | 3 | 9 | 101 |');
  });
});
