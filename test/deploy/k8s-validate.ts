/**
 * Validation of Kubernetes manifests against the Kubernetes API's own schemas, offline, in two passes:
 *  - kubernetes-models (tommy351/kubernetes-models-ts): each kind's JSON schema, generated from the API's OpenAPI
 *    spec and compiled with ajv; catches wrong types, missing required fields, bad quantities and enums.
 *  - strict: the same package's TypeScript types for each kind, checked by the TypeScript compiler with the
 *    manifest as an object literal, so any field the API does not define is an error (kubeconform's -strict; the
 *    OpenAPI schemas allow unknown fields, which the API server would drop or reject).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  file: string;
  /** Index of the document within its file. */
  index: number;
  apiVersion: string;
  kind: string;
  name: string;
  doc: Record<string, unknown>;
}

export function loadManifests(dir: string, files: string[]): Manifest[] {
  const out: Manifest[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    docs.forEach((d, index) => {
      if (d.errors.length > 0)
        throw new Error(`${file}#${index}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Record<string, unknown> | null;
      if (doc === null) return;
      const meta = (doc.metadata ?? {}) as { name?: string };
      out.push({
        file,
        index,
        apiVersion: String(doc.apiVersion),
        kind: String(doc.kind),
        name: meta.name ?? '',
        doc,
      });
    });
  }
  return out;
}

/**
 * The module of one kind: `apps/v1` Deployment → `kubernetes-models/apps/v1/Deployment` (the core group's `v1`
 * → `kubernetes-models/v1/Service`). One kind's module, not the group's index, keeps both passes fast.
 */
export function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Schema pass: errors from the kind's JSON schema ([] when valid); throws for a kind the package lacks. */
export async function schemaErrors(m: Pick<Manifest, 'apiVersion' | 'kind' | 'doc'>): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(m.apiVersion, m.kind))) as Record<string, unknown>;
  } catch {
    const groupKnown = await import(`kubernetes-models/${m.apiVersion}`).then(
      () => true,
      () => false,
    );
    throw new Error(
      groupKnown
        ? `unknown kind ${m.kind} in ${m.apiVersion}`
        : `unknown apiVersion ${m.apiVersion}: no schema to validate ${m.kind} against`,
    );
  }
  const Model = mod[m.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') throw new Error(`unknown kind ${m.kind} in ${m.apiVersion}`);
  try {
    new Model(m.doc).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/** A TypeScript object literal for a YAML value, keys unquoted where they can be, so messages read naturally. */
function literal(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => `${indent}  ${literal(v, `${indent}  `)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
    return `{\n${entries.map(([k, v]) => `${indent}  ${key(k)}: ${literal(v, `${indent}  `)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/**
 * Strict pass over many manifests at once (one compiler run): returns, per manifest, the compiler's messages.
 * `root` must be a folder whose node_modules holds kubernetes-models and typescript.
 */
export function strictErrors(root: string, manifests: Manifest[]): string[][] {
  const fileName = join(root, '__k8s_manifests__.ts');
  const lines: string[] = [];
  const owner: number[] = []; // line index → manifest index
  manifests.forEach((m, i) => {
    const push = (text: string) => {
      for (const l of text.split('\n')) {
        lines.push(l);
        owner.push(i);
      }
    };
    push(`import type { I${m.kind} as T${i} } from '${modelModule(m.apiVersion, m.kind)}';`);
    push(`export const m${i}: T${i} = ${literal(m.doc, '')};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    // The model types need nothing past ES5; no DOM or @types keeps the compiler's load small.
    lib: ['lib.es5.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  const out: string[][] = manifests.map(() => []);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== fileName || d.start === undefined) {
      throw new Error(`strict check could not run: ${message}`);
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    out[owner[line]!]!.push(`line ${line + 1}: ${message}`);
  }
  return out;
}
