/**
 * bench:v2 end to end on a fixture model: the real service in its own process, the three encodings checked to
 * answer the same numbers, then a short closed loop each.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdown, measureProtocols, type V2BenchRow } from '../../../scripts/bench/v2-protocols.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  await writeFixtureModel(dir, { conditional: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench:v2', () => {
  it('measures JSON, binary HTTP and gRPC at each batch size, with the bytes each moves', async () => {
    const rows = await measureProtocols({
      model: 'tiny-conditional',
      modelsDir: dir,
      batches: [1, 4],
      connections: 2,
      seconds: 0.3,
    });
    expect(rows.map((r) => `${r.batch} ${r.protocol}`)).toEqual([
      '1 HTTP JSON',
      '1 HTTP binary',
      '1 gRPC',
      '4 HTTP JSON',
      '4 HTTP binary',
      '4 gRPC',
    ]);
    for (const r of rows) {
      expect(r.errors, `${r.batch} ${r.protocol}`).toBe(0);
      expect(r.requests).toBeGreaterThan(0);
      expect(r.imagesPerSecond).toBeCloseTo(r.requestsPerSecond * r.batch, 0);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      expect(r.serverCpuUsPerRequest).toBeGreaterThan(0);
    }
    const at = (batch: number, protocol: V2BenchRow['protocol']) =>
      rows.find((r) => r.batch === batch && r.protocol === protocol)!;
    // 4 images of 28×28 float32 as raw bytes, plus the inputs: z [4, 16] and label [4].
    expect(at(4, 'HTTP binary').bytesPerRequest).toBeGreaterThan(4 * 784 * 4 + 4 * 16 * 4 + 4 * 4);
    expect(at(4, 'HTTP JSON').bytesPerRequest).toBeGreaterThan(at(4, 'HTTP binary').bytesPerRequest);
    expect(at(4, 'gRPC').bytesPerRequest).toBeLessThan(at(4, 'HTTP binary').bytesPerRequest);
    expect(markdown(rows).split('\n')).toHaveLength(2 + rows.length);
  }, 120_000);
});
