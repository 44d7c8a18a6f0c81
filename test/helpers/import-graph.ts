/**
 * The repository's TypeScript import graph, read from the source text (static `import`/`export … from` only),
 * for tests of module boundaries: who imports what, and the import cycles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

/** The .ts files under `dir`, recursively. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The module specifiers `file` imports, as written. */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

/** Each file's relative imports as absolute paths. */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  return new Map(
    files.map((f) => [
      path.resolve(f),
      importsOf(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => path.resolve(path.dirname(f), s)),
    ]),
  );
}

/** Every import cycle met in a depth-first walk, as `a.ts → b.ts → a.ts` relative to the working directory. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(node)), node].map((p) => path.relative('.', p)).join(' → '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) if (graph.has(next)) visit(next, [...trail, node]);
    state.set(node, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return cycles;
}
