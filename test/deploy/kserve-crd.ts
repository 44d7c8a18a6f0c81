/**
 * Validation of KServe custom resources against KServe's own CRD schemas, offline. The fixtures under
 * test/fixtures/kserve/ hold each CRD's `openAPIV3Schema` trimmed to the fields deploy/kserve/ uses: a used field
 * keeps its whole subschema, an unused one stays as a name with an empty schema (known, not checked), and
 * descriptions are dropped. Validation is ajv over that schema with every object that lists its properties closed
 * (`additionalProperties: false`, except where the CRD preserves unknown fields), as the API server's strict field
 * validation (kubectl's default) rejects a field the CRD does not define.
 *
 * Regenerate a fixture from a CRD file of the kserve/kserve repository (config/crd/full/…):
 *   npx tsx test/deploy/kserve-crd.ts --crd <crd.yaml> --source <repository>@<commit>:<path> --out <fixture.yaml>
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv, type ErrorObject } from 'ajv';
import { parse, parseAllDocuments, stringify } from 'yaml';

export type Schema = { [key: string]: unknown };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `schema` keeping only what `values` (every instance at this place in the manifests) use. */
export function trimSchema(schema: Schema, values: unknown[]): Schema {
  const out: Schema = {};
  for (const [key, sub] of Object.entries(schema)) {
    if (key === 'description') continue;
    if (key === 'properties' && isObject(sub)) {
      const objects = values.filter(isObject);
      out.properties = Object.fromEntries(
        Object.entries(sub).map(([name, s]) => {
          const used = objects.filter((o) => name in o).map((o) => o[name]);
          return [name, used.length > 0 ? trimSchema(s as Schema, used) : {}];
        }),
      );
    } else if (key === 'items' && isObject(sub)) {
      out.items = trimSchema(sub, values.filter(Array.isArray).flat());
    } else if (key === 'additionalProperties' && isObject(sub)) {
      out.additionalProperties = trimSchema(
        sub,
        values.filter(isObject).flatMap((o) => Object.values(o)),
      );
    } else {
      out[key] = sub;
    }
  }
  return out;
}

/** Close every object schema that lists its properties, as strict field validation does. */
export function closeObjects(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (isObject(schema.properties)) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, s]) => [k, closeObjects(s as Schema)]),
    );
    if (
      schema['x-kubernetes-preserve-unknown-fields'] !== true &&
      schema.additionalProperties === undefined
    ) {
      out.additionalProperties = false;
    }
  }
  if (isObject(schema.items)) out.items = closeObjects(schema.items);
  if (isObject(schema.additionalProperties))
    out.additionalProperties = closeObjects(schema.additionalProperties);
  return out;
}

export interface CrdFixture {
  source: string;
  apiVersion: string;
  kind: string;
  openAPIV3Schema: Schema;
}

export function loadFixture(file: string): CrdFixture {
  return parse(readFileSync(file, 'utf8')) as CrdFixture;
}

const message = (e: ErrorObject) => {
  const where = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') {
    return `${where} has unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  }
  return `${where} ${e.message}`;
};

/** A validator for one custom resource kind: the errors of a document ([] when valid). */
export function crdValidator(fixture: CrdFixture): (doc: unknown) => string[] {
  // Kubernetes' format names (int32, int64, …) are advisory here, as the schemas' types already bound them.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(closeObjects(fixture.openAPIV3Schema));
  return (doc) => {
    if (!isObject(doc) || doc.apiVersion !== fixture.apiVersion || doc.kind !== fixture.kind) {
      return [`expected apiVersion ${fixture.apiVersion}, kind ${fixture.kind}`];
    }
    return validate(doc) ? [] : (validate.errors ?? []).map(message);
  };
}

/** The fixture for one CRD, trimmed to the documents of its kind. */
export function makeFixture(crd: Record<string, unknown>, source: string, docs: unknown[]): CrdFixture {
  const spec = crd.spec as {
    group: string;
    names: { kind: string };
    versions: Array<{ name: string; storage: boolean; schema: { openAPIV3Schema: Schema } }>;
  };
  const version = spec.versions.find((v) => v.storage) ?? spec.versions[0]!;
  const apiVersion = `${spec.group}/${version.name}`;
  const kind = spec.names.kind;
  const mine = docs.filter((d) => isObject(d) && d.apiVersion === apiVersion && d.kind === kind);
  if (mine.length === 0) throw new Error(`no ${apiVersion} ${kind} among the manifests to trim for`);
  return { source, apiVersion, kind, openAPIV3Schema: trimSchema(version.schema.openAPIV3Schema, mine) };
}

if (process.argv[1]?.endsWith('kserve-crd.ts')) {
  const { values } = parseArgs({
    options: {
      crd: { type: 'string' },
      source: { type: 'string' },
      manifests: { type: 'string', default: 'deploy/kserve' },
      out: { type: 'string' },
    },
  });
  if (!values.crd || !values.source || !values.out) {
    throw new Error('usage: --crd <crd.yaml> --source <repository>@<commit>:<path> --out <fixture.yaml>');
  }
  const crd = parse(readFileSync(values.crd, 'utf8')) as Record<string, unknown>;
  const dir = values.manifests!;
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as unknown));
  const fixture = makeFixture(crd, values.source, docs);
  const header = [
    `# ${fixture.kind} (${fixture.apiVersion}): the CRD's openAPIV3Schema trimmed to the fields ${dir}/ uses`,
    `# (unused fields kept as names with empty schemas, descriptions dropped), from ${fixture.source}.`,
    '# Written by test/deploy/kserve-crd.ts; regenerate it there, do not edit by hand.',
  ];
  writeFileSync(values.out, `${header.join('\n')}\n${stringify(fixture, { lineWidth: 0 })}`);
}
