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

export async function scanModels(root: string): Promise<ScanResult> {
  const result: ScanResult = { models: [], classifiers: [], problems: [] };
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch {
    result.problems.push({ name: '', message: `${displayPath(root)}: models directory not found` });
    return result;
  }
  for (const name of names) {
    const dir = join(root, name);
    const modelJson = join(dir, 'model.json');
    const classifierJson = join(dir, 'classifier.json');
    if (!MODEL_NAME_PATTERN.test(name)) {
      result.problems.push({
        name,
        message: `${displayPath(dir)}: folder name must match ${MODEL_NAME_PATTERN}`,
      });
      continue;
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
        if (missing.length > 0) {
          result.problems.push({ name, message: missing.join('; ') });
          continue;
        }
        result.models.push({ name, dir, manifest, generatorFile, mappingFile, discriminatorFile, wAvgFile });
      } else if (existsSync(classifierJson)) {
        const parsed = classifierManifestSchema.safeParse(await readJson(classifierJson));
        if (!parsed.success) throw new Error(describeIssues(parsed.error));
        const manifest = parsed.data;
        if (manifest.name !== name) throw new Error(`name is '${manifest.name}' but the folder is '${name}'`);
        const file = join(dir, manifest.file);
        const missing = await checkFile(file, 'classifier');
        if (missing) {
          result.problems.push({ name, message: missing });
          continue;
        }
        const stats = manifest.referenceStats ? join(dir, manifest.referenceStats) : null;
        result.classifiers.push({
          name,
          dir,
          manifest,
          file,
          referenceStatsFile: stats && existsSync(stats) ? stats : null,
        });
      } else {
        result.problems.push({ name, message: `${displayPath(dir)}: no model.json or classifier.json` });
      }
    } catch (err) {
      const file = existsSync(modelJson) ? modelJson : classifierJson;
      result.problems.push({ name, message: `${displayPath(file)}: ${(err as Error).message}` });
    }
  }
  return result;
}
