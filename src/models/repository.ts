/**
 * The model repository: `GAN_MODELS_DIR/<name>/model.json` (a GAN: generator + discriminator) or
 * `<name>/classifier.json` (a dataset classifier). Scanning reads and validates manifests only; sessions are
 * created by the inference runtime.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import { fieldPath } from '../errors.ts';
import {
  type ClassifierManifest,
  classifierManifestSchema,
  type Manifest,
  MODEL_NAME_PATTERN,
  manifestSchema,
} from './manifest.ts';

export interface ModelEntry {
  name: string;
  dir: string;
  manifest: Manifest;
  generatorFile: string;
  /** The StyleGAN-style mapping network, when the model has one. */
  mappingFile: string | null;
  /** Null for a generator-only model. */
  discriminatorFile: string | null;
  /** The mapping network's average w (`.npy`), when the folder has one. */
  wAvgFile: string | null;
}

export interface ClassifierEntry {
  name: string;
  dir: string;
  manifest: ClassifierManifest;
  file: string;
  referenceStatsFile: string | null;
}

export interface ScanProblem {
  name: string;
  message: string;
}

export interface ScanResult {
  models: ModelEntry[];
  classifiers: ClassifierEntry[];
  problems: ScanProblem[];
}

/** A path as people should read it in messages: relative to the working directory when inside it. */
export function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${fieldPath(i.path) || '(root)'}: ${i.message}`).join('; ');
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
}

async function checkFile(file: string, what: string): Promise<string | null> {
  try {
    const s = await stat(file);
    if (!s.isFile()) return `${displayPath(file)}: ${what} is not a file`;
    if (s.size === 0) return `${displayPath(file)}: ${what} is empty`;
    return null;
  } catch {
    return `${displayPath(file)}: ${what} not found`;
  }
}

/** One folder of the repository: a model, a classifier, or the problem that keeps it from loading. */
export async function scanFolder(
  root: string,
  name: string,
): Promise<{ model?: ModelEntry; classifier?: ClassifierEntry; problem?: ScanProblem }> {
  const dir = join(root, name);
  const modelJson = join(dir, 'model.json');
  const classifierJson = join(dir, 'classifier.json');
  if (!MODEL_NAME_PATTERN.test(name)) {
    return {
      problem: { name, message: `${displayPath(dir)}: folder name must match ${MODEL_NAME_PATTERN}` },
    };
  }
  try {
    if (existsSync(modelJson)) {
      const parsed = manifestSchema.safeParse(await readJson(modelJson));
      if (!parsed.success) throw new Error(describeIssues(parsed.error));
      const manifest = parsed.data;
      if (manifest.name !== name) throw new Error(`name is '${manifest.name}' but the folder is '${name}'`);
      const generatorFile = join(dir, manifest.generator.file);
      const mappingFile = manifest.mapping ? join(dir, manifest.mapping.file) : null;
      const discriminatorFile = manifest.discriminator ? join(dir, manifest.discriminator.file) : null;
      const wAvgFile = manifest.mapping?.wAvg ? join(dir, manifest.mapping.wAvg) : null;
      const missing = [
        await checkFile(generatorFile, 'generator'),
        mappingFile && (await checkFile(mappingFile, 'mapping network')),
        discriminatorFile && (await checkFile(discriminatorFile, 'discriminator')),
        wAvgFile && (await checkFile(wAvgFile, 'mapping.wAvg')),
      ].filter((m): m is string => typeof m === 'string');
      if (missing.length > 0) return { problem: { name, message: missing.join('; ') } };
      return { model: { name, dir, manifest, generatorFile, mappingFile, discriminatorFile, wAvgFile } };
    }
    if (existsSync(classifierJson)) {
      const parsed = classifierManifestSchema.safeParse(await readJson(classifierJson));
      if (!parsed.success) throw new Error(describeIssues(parsed.error));
      const manifest = parsed.data;
      if (manifest.name !== name) throw new Error(`name is '${manifest.name}' but the folder is '${name}'`);
      const file = join(dir, manifest.file);
      const missing = await checkFile(file, 'classifier');
      if (missing) return { problem: { name, message: missing } };
      const stats = manifest.referenceStats ? join(dir, manifest.referenceStats) : null;
      return {
        classifier: {
          name,
          dir,
          manifest,
          file,
          referenceStatsFile: stats && existsSync(stats) ? stats : null,
        },
      };
    }
    if (!existsSync(dir)) return { problem: { name, message: `${displayPath(dir)}: no such model folder` } };
    return { problem: { name, message: `${displayPath(dir)}: no model.json or classifier.json` } };
  } catch (err) {
    const file = existsSync(modelJson) ? modelJson : classifierJson;
    return { problem: { name, message: `${displayPath(file)}: ${(err as Error).message}` } };
  }
}

/** The model folders of the repository, by name (sorted). */
export async function listFolders(root: string): Promise<string[] | null> {
  try {
    return (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch {
    return null;
  }
}

/**
 * A fingerprint of a model folder's files (names, sizes, modification times): it changes when a file is replaced,
 * which poll mode takes as a new version.
 */
export async function folderSignature(root: string, name: string): Promise<string> {
  const dir = join(root, name);
  try {
    const files = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => d.name)
      .sort();
    const parts = await Promise.all(
      files.map(async (f) => {
        const st = await stat(join(dir, f));
        return `${f}:${st.size}:${st.mtimeMs}`;
      }),
    );
    return parts.join('|');
  } catch {
    return '';
  }
}

export async function scanModels(root: string): Promise<ScanResult> {
  const result: ScanResult = { models: [], classifiers: [], problems: [] };
  const names = await listFolders(root);
  if (names === null) {
    result.problems.push({ name: '', message: `${displayPath(root)}: models directory not found` });
    return result;
  }
  for (const name of names) {
    const found = await scanFolder(root, name);
    if (found.model) result.models.push(found.model);
    if (found.classifier) result.classifiers.push(found.classifier);
    if (found.problem) result.problems.push(found.problem);
  }
  return result;
}
