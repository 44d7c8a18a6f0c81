import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanModels } from '../../../src/models/repository.ts';
import { writeFixtureClassifier, writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function editManifest(name: string, edit: (m: Record<string, unknown>) => void) {
  const file = join(dir, name, 'model.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(m);
  await writeFile(file, JSON.stringify(m));
}

describe('scanModels', () => {
  it('finds models and classifiers', async () => {
    await writeFixtureModel(dir);
    await writeFixtureModel(dir, { conditional: true });
    await writeFixtureClassifier(dir);
    const scan = await scanModels(dir);
    expect(scan.problems).toEqual([]);
    expect(scan.models.map((m) => m.name)).toEqual(['tiny', 'tiny-conditional']);
    expect(scan.classifiers.map((c) => c.name)).toEqual(['classifier']);
    expect(scan.models[1]!.manifest.numClasses).toBe(10);
  });

  it('reports a missing directory', async () => {
    const scan = await scanModels(join(dir, 'nope'));
    expect(scan.problems[0]!.message).toMatch(/models directory not found/);
  });

  it('names the manifest file and the bad field', async () => {
    await writeFixtureModel(dir);
    await editManifest('tiny', (m) => {
      m.latentDim = 'a hundred';
    });
    const scan = await scanModels(dir);
    expect(scan.models).toEqual([]);
    expect(scan.problems[0]!.message).toMatch(/tiny\/model\.json: latentDim: /);
  });

  it('refuses a latent code wider than z, or on a conditional model', async () => {
    await writeFixtureModel(dir, { latentCode: 4 });
    expect((await scanModels(dir)).models[0]!.manifest.latentCode).toEqual({
      categories: 4,
      supervised: false,
    });
    await editManifest('tiny', (m) => {
      m.latentCode = { categories: 17, supervised: false };
    });
    expect((await scanModels(dir)).problems[0]!.message).toMatch(
      /tiny\/model\.json: latentCode\.categories: a code of 17 categories needs at least that many latent entries, got latentDim 16/,
    );
    await writeFixtureModel(dir, { conditional: true });
    await editManifest('tiny-conditional', (m) => {
      m.latentCode = { categories: 4, supervised: true };
    });
    expect((await scanModels(dir)).problems.map((p) => p.message).join('\n')).toMatch(
      /tiny-conditional\/model\.json: latentCode: a conditional model/,
    );
  });

  it('rejects unknown manifest fields and a name that is not the folder', async () => {
    await writeFixtureModel(dir);
    await editManifest('tiny', (m) => {
      m.latentDims = 3;
    });
    expect((await scanModels(dir)).problems[0]!.message).toMatch(/latentDims/);
    await writeFixtureModel(dir, { name: 'other' });
    await editManifest('other', (m) => {
      m.name = 'tiny';
    });
    expect((await scanModels(dir)).problems.map((p) => p.message).join('\n')).toMatch(
      /other\/model\.json: name is 'tiny' but the folder is 'other'/,
    );
  });

  it('reports invalid JSON and a missing ONNX file', async () => {
    await writeFixtureModel(dir);
    await writeFixtureModel(dir, { name: 'second' });
    await writeFile(join(dir, 'tiny', 'model.json'), '{ not json');
    await rm(join(dir, 'second', 'discriminator.onnx'));
    const messages = (await scanModels(dir)).problems.map((p) => p.message);
    expect(messages).toContainEqual(expect.stringMatching(/tiny\/model\.json: not valid JSON/));
    expect(messages).toContainEqual(
      expect.stringMatching(/second\/discriminator\.onnx: discriminator not found/),
    );
  });
});
