/**
 * Module boundaries across the repository, read from the source: no import cycle among the service, the scripts
 * and the trainer, and nothing outside test/ imports from test/ (what scripts need from fixtures lives in scripts/).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, tsFiles } from './helpers/import-graph.ts';

const SOURCES = ['src', 'scripts', 'trainer'];

describe('imports', () => {
  const files = SOURCES.flatMap(tsFiles);
  const graph = importGraph(files);

  it('form no cycle in src/, scripts/ and trainer/', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(importCycles(graph)).toEqual([]);
  });

  it('finds a cycle where there is one (the walk is real)', () => {
    const a = path.resolve('a.ts');
    const b = path.resolve('b.ts');
    const c = path.resolve('c.ts');
    expect(
      importCycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, [a]],
        ]),
      ),
    ).toEqual(['a.ts → b.ts → c.ts → a.ts']);
  });

  it('never reach into test/ from src/, scripts/ or trainer/', () => {
    const testDir = path.resolve('test');
    const offending = [...graph].flatMap(([file, targets]) =>
      targets
        .filter((t) => t === testDir || t.startsWith(`${testDir}${path.sep}`))
        .map((t) => `${path.relative('.', file)} → ${path.relative('.', t)}`),
    );
    expect(offending).toEqual([]);
  });
});
