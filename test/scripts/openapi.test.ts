import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPENAPI_FILE, renderOpenApi } from '../../scripts/openapi.ts';

describe('openapi.yaml', () => {
  it('is up to date with the routes (regenerate with `npm run openapi`)', async () => {
    const committed = await readFile(OPENAPI_FILE, 'utf8');
    expect(committed).toBe(await renderOpenApi());
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = parse(await readFile(OPENAPI_FILE, 'utf8')) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    const api = await SwaggerParser.validate(structuredClone(doc) as never);
    expect(api.info.title).toBe('gan-serve');
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/generate', '/discriminate', '/v1/models', '/readyz']),
    );
  });

  it('rejects a broken document (the validator is real)', async () => {
    const doc = parse(await readFile(OPENAPI_FILE, 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    doc.paths['/generate']!.post = { responses: 'nope' };
    await expect(SwaggerParser.validate(doc as never)).rejects.toThrow();
  });
});
