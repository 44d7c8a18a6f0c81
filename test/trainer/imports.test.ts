/**
 * The trainer's boundary, read from the source: the service (src/) imports neither trainer/ nor tfjs, so its
 * production install and image do without them. (Cycles across src/, scripts/ and trainer/: test/imports.test.ts.)
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, tsFiles } from '../helpers/import-graph.ts';

describe('trainer/ boundary', () => {
  it('the service imports neither trainer/ nor tfjs', () => {
    const trainerDir = path.resolve('trainer');
    const files = tsFiles('src');
    expect(files.length).toBeGreaterThan(50);
    const offending = files.flatMap((f) =>
      importsOf(f)
        .filter(
          (s) =>
            s.startsWith('@tensorflow/') ||
            (s.startsWith('.') && path.resolve(path.dirname(f), s).startsWith(`${trainerDir}${path.sep}`)),
        )
        .map((s) => `${f}: ${s}`),
    );
    expect(offending).toEqual([]);
  });

  it('the trainer takes latent sampling, the manifest schema and collapse figures from src/', () => {
    const fromSrc = new Set(
      tsFiles('trainer').flatMap((f) =>
        importsOf(f)
          .filter((s) => s.startsWith('.'))
          .map((s) => path.relative('.', path.resolve(path.dirname(f), s)))
          .filter((p) => p.startsWith(`src${path.sep}`)),
      ),
    );
    for (const shared of [
      'src/latent/random-state.ts',
      'src/models/manifest.ts',
      'src/diagnostics/epoch.ts',
      'src/diagnostics/statistics.ts',
    ]) {
      expect(fromSrc).toContain(shared);
    }
  });
});
