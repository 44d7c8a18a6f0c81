/**
 * The trainer's boundaries, read from the source: no import cycle inside trainer/, and the service (src/) never
 * reaches the trainer or tfjs, so its production install and image do without them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

describe('trainer/ imports', () => {
  it('form no cycle', () => {
    const files = tsFiles('trainer');
    const edges = new Map<string, string[]>(
      files.map((f) => [
        path.resolve(f),
        importsOf(f)
          .filter((s) => s.startsWith('.'))
          .map((s) => path.resolve(path.dirname(f), s))
          .filter((t) => t.startsWith(path.resolve('trainer'))),
      ]),
    );
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, trail: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push(
          [...trail.slice(trail.indexOf(node)), node].map((p) => path.relative('.', p)).join(' → '),
        );
        return;
      }
      state.set(node, 'open');
      for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const file of edges.keys()) visit(file, []);
    expect(files.length).toBeGreaterThan(20);
    expect(cycles).toEqual([]);
  });

  it('the service imports neither trainer/ nor tfjs', () => {
    const offending = tsFiles('src').flatMap((f) =>
      importsOf(f)
        .filter((s) => s.includes('/trainer/') || s.startsWith('@tensorflow/'))
        .map((s) => `${f}: ${s}`),
    );
    expect(offending).toEqual([]);
  });
});
