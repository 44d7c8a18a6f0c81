/** bench:train in-process on one tiny model of each variant: one timing per model, memory left as found. */
import { describe, expect, it } from 'vitest';
import { run } from '../../../scripts/bench/train.ts';
import { initTf, tf } from '../../../trainer/tfjs/backend.ts';

describe('npm run bench:train', () => {
  it('times the plain, conditional and InfoGAN variants of an architecture', {
    timeout: 120_000,
  }, async () => {
    await initTf();
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const timings = await run(
      { steps: 1, batchSize: 8, width: 4, arch: 'mlp', conditional: true, latentCode: 4 },
      { log: (line) => lines.push(line) },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(timings.map((t) => t.variant)).toEqual(['', ' (conditional)', ' (InfoGAN code of 4)']);
    for (const t of timings) {
      expect(t).toMatchObject({ arch: 'mlp', width: 4, batchSize: 8, stepsPerEpoch: 7500 });
      expect(t.msPerStep).toBeGreaterThan(0);
      expect(t.params).toBeGreaterThan(0);
    }
    // the conditional model's label embedding adds parameters
    expect(timings[1]!.params).toBeGreaterThan(timings[0]!.params);
    expect(lines[0]).toMatch(/^backend wasm, batch 8, 1 timed steps after 2 warm-up steps$/);
    expect(lines.slice(1)).toHaveLength(3);
    expect(lines[1]).toMatch(/^mlp width 4: \d+ ms\/step, [0-9.]+ min\/epoch \(7500 steps\), \d+ params$/);
  });
});
