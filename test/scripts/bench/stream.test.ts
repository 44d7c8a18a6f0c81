/**
 * bench:stream end to end on a fixture model: the real service in its own process streams to the benchmark's client,
 * which counts every image, while the server's RSS is sampled.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureStream } from '../../../scripts/bench/stream.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  await writeFixtureModel(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench:stream', () => {
  it('streams every image of a tar, samples RSS and measures the ceilings M and E', async () => {
    const r = await measureStream({
      model: 'tiny',
      modelsDir: dir,
      count: 5000,
      format: 'tar',
      imageFormat: 'png',
      sampleMs: 100,
    });
    expect(r.images).toBe(5000);
    // Each entry: a header block and at least one block of PNG; then the two end blocks.
    expect(r.bytes).toBeGreaterThanOrEqual(5000 * 1024 + 1024);
    expect(r.bytes % 512).toBe(0);
    expect(Math.abs(r.imagesPerSecond * r.seconds - 5000)).toBeLessThan(50);
    expect(r.samples.length).toBeGreaterThan(0);
    for (const s of r.samples) expect(s.mib).toBeGreaterThan(10);
    expect(r.rssFirstMinute).toBeGreaterThan(10);
    expect(r.rssEnd).toBe(r.samples.at(-1)!.mib);
    expect(r.modelImagesPerSecond).toBeGreaterThan(0);
    expect(r.encodeImagesPerSecond).toBeGreaterThan(0);
    expect(r.ratioToSerialCeiling).toBeGreaterThan(0);
  });

  it('counts NDJSON lines, and reports no PNG ceiling for JPEG', async () => {
    const r = await measureStream({
      model: 'tiny',
      modelsDir: dir,
      count: 300,
      format: 'ndjson',
      imageFormat: 'jpeg',
      sampleMs: 100,
    });
    expect(r.images).toBe(300);
    expect(r.encodeImagesPerSecond).toBeNull();
    expect(r.ratioToSerialCeiling).toBeNull();
  });
});
