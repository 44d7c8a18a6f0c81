/**
 * Brings a pretrained generator's ONNX file(s) into the model repository: reads the signatures, plans every input's
 * role, runs the networks once on seeded inputs, checks the manifest with the service's own load-time checks
 * against the real sessions, then writes `<modelsDir>/<name>/` (generator.onnx, mapping.onnx, discriminator.onnx,
 * w_avg.npy, model.json) into a temporary folder beside it and renames that into place, so a failed import leaves
 * nothing behind. The CLI over it is cli.ts (`npm run import`).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Manifest, MODEL_NAME_PATTERN } from '../../src/models/manifest.ts';
import { checkDiscriminator, checkGenerator, checkMapping } from '../../src/models/metadata-check.ts';
import { readNpy } from '../../src/models/npy.ts';
import { commandLine } from '../command-line.ts';
import { completeManifest, type Measured, planModel, type Signatures } from './infer.ts';
import { inspectOnnxFile, type OnnxSignature } from './inspect.ts';
import { openSession, probeModel, type Sessions, sessionInfo } from './probe.ts';
import { summarize } from './summary.ts';
import { type Guess, ImportError, type InferOverrides, type ModelPlan } from './types.ts';

export interface ImportOptions extends InferOverrides {
  /** The generator ONNX file: z → image, or a StyleGAN synthesis network (w → image) with `mapping`. */
  generator: string;
  /** A StyleGAN mapping network (z → w). */
  mapping?: string;
  discriminator?: string;
  /** The model's name: its folder and the name clients use. */
  name: string;
  /** Default './models'. */
  modelsDir?: string;
  title?: string;
  dataset?: string;
  /** Mark it the default model. */
  default?: boolean;
  /** A .npy of the mapping network's average w (StyleGAN's G.mapping.w_avg), copied as w_avg.npy. */
  wAvg?: string;
  /** Replace an existing folder of that name. */
  force?: boolean;
  /** The command recorded in the manifest's provenance (default: the equivalent `npm run import` line). */
  command?: string;
}

export interface ImportResult {
  manifest: Manifest;
  guesses: Guess[];
  /** The model folder written. */
  dir: string;
  plan: ModelPlan;
  measured: Measured;
  /** What was inferred, line by line, as the CLI prints it. */
  summary: string[];
}

const W_AVG_FILE = 'w_avg.npy';

/** The `npm run import` line equivalent to `o`. */
export function importCommand(o: ImportOptions): string {
  const args: string[] = ['--generator', o.generator];
  const flag = (name: string, value: string | number | boolean | undefined) => {
    if (value === undefined || value === false) return;
    args.push(`--${name}`);
    if (value !== true) args.push(String(value));
  };
  flag('mapping', o.mapping);
  flag('discriminator', o.discriminator);
  flag('name', o.name);
  flag('models-dir', o.modelsDir);
  flag('title', o.title);
  flag('dataset', o.dataset);
  flag('default', o.default);
  flag('w-avg', o.wAvg);
  if (o.outputRange) args.push(`--output-range=${o.outputRange.join(',')}`);
  flag('layout', o.layout);
  flag('latent-input', o.latentInput);
  flag('class-input', o.classInput);
  flag('num-classes', o.numClasses);
  flag('truncation-input', o.truncationInput);
  for (const [k, v] of Object.entries(o.constants ?? {})) flag('constant', `${k}=${v}`);
  for (const [k, v] of Object.entries(o.noiseInputs ?? {})) flag('noise-input', `${k}:${v}`);
  flag('discriminator-output-kind', o.discriminatorOutputKind);
  flag('force', o.force);
  return commandLine('npm run import --', args);
}

async function signature(file: string, what: string): Promise<OnnxSignature> {
  let sig: OnnxSignature;
  try {
    sig = await inspectOnnxFile(file);
  } catch (err) {
    throw new ImportError(`${what}: ${(err as Error).message}`);
  }
  if (sig.externalData.length > 0)
    throw new ImportError(
      `${what} ${file} keeps its weights in external files (${sig.externalData.join(', ')}); save it as one file: onnx.save_model(model, path, save_as_external_data=False)`,
    );
  return sig;
}

/** Reads and checks the w_avg .npy against the w the mapping network gives. */
async function readWAvg(file: string, mappingDims: readonly number[]): Promise<void> {
  let data: Float32Array;
  let shape: number[];
  try {
    ({ data, shape } = await readNpy(file));
  } catch (err) {
    throw new ImportError(`--w-avg ${file}: ${(err as Error).message}`);
  }
  const wDim = mappingDims[mappingDims.length - 1]!;
  const row = mappingDims.reduce((a, b) => a * b, 1);
  if (data.length !== wDim && data.length !== row)
    throw new ImportError(
      `--w-avg ${file} holds [${shape.join(', ')}] (${data.length} values); the mapping network's w needs ${wDim} (or ${row}, its whole row [${mappingDims.join(', ')}])`,
    );
  if (!data.every(Number.isFinite)) throw new ImportError(`--w-avg ${file} holds non-finite values`);
}

/** Models in `modelsDir` (other than `except`) whose model.json marks them the default. */
async function defaultModels(modelsDir: string, except: string): Promise<string[]> {
  if (!existsSync(modelsDir)) return [];
  const out: string[] = [];
  for (const d of await readdir(modelsDir, { withFileTypes: true })) {
    const file = path.join(modelsDir, d.name, 'model.json');
    if (!d.isDirectory() || d.name === except || d.name.startsWith('.') || !existsSync(file)) continue;
    try {
      if ((JSON.parse(await readFile(file, 'utf8')) as { default?: unknown }).default === true)
        out.push(d.name);
    } catch {
      // an unreadable manifest is the service's to report
    }
  }
  return out;
}

/** The service's load-time checks of each network against its real session; any problem stops the import. */
function loadTimeProblems(manifest: Manifest, sessions: Sessions): string[] {
  const problems = [...checkGenerator(manifest, sessionInfo('generator', sessions.generator)).problems];
  if (manifest.mapping && sessions.mapping)
    problems.push(...checkMapping(manifest, sessionInfo('mapping', sessions.mapping)).problems);
  if (manifest.discriminator && sessions.discriminator)
    problems.push(
      ...checkDiscriminator(manifest, sessionInfo('discriminator', sessions.discriminator)).problems,
    );
  return problems;
}

/** Writes the folder into a temporary one beside `target`, then renames it into place (replacing with `force`). */
async function writeAtomically(
  target: string,
  files: Array<[from: string, to: string]>,
  manifest: Manifest,
  force: boolean,
): Promise<void> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(path.join(parent, `.${base}.import-`));
  let old: string | null = null;
  try {
    for (const [from, to] of files) await copyFile(from, path.join(tmp, to));
    await writeFile(path.join(tmp, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(target)) {
      if (!force) throw new ImportError(`${target} exists: pass --force to replace it`);
      old = `${tmp}.replaced`;
      await rename(target, old);
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (old && !existsSync(target)) await rename(old, target);
    throw err;
  }
  if (old) await rm(old, { recursive: true, force: true });
}

/**
 * Imports a model: infers its manifest from the ONNX file(s), checks it by running them, and writes the folder.
 * Throws an ImportError (exit code 2) naming the tensor and what was expected when a file does not fit; nothing is
 * written then.
 */
export async function importModel(options: ImportOptions): Promise<ImportResult> {
  const o = options;
  if (!MODEL_NAME_PATTERN.test(o.name))
    throw new ImportError(
      `--name '${o.name}': a model name matches ${MODEL_NAME_PATTERN} (lower case, digits, . _ -)`,
    );
  const dir = path.resolve(o.modelsDir ?? './models', o.name);
  if (existsSync(dir) && !o.force) throw new ImportError(`${dir} exists: pass --force to replace it`);
  if (o.default) {
    const others = await defaultModels(path.dirname(dir), o.name);
    if (others.length > 0)
      throw new ImportError(
        `--default: ${others.join(', ')} already ${others.length > 1 ? 'mark themselves' : 'marks itself'} the default ("default": true in model.json) and the service refuses two; ` +
          'clear it there first, or import without --default and set GAN_DEFAULT_MODEL',
      );
  }
  if (o.wAvg !== undefined && !o.mapping)
    throw new ImportError("--w-avg is the mapping network's average w: it needs --mapping");
  const sigs: Signatures = {
    generator: await signature(o.generator, 'generator'),
    mapping: o.mapping ? await signature(o.mapping, 'mapping') : null,
    discriminator: o.discriminator ? await signature(o.discriminator, 'discriminator') : null,
  };
  const plan = planModel(sigs, o);
  const sessions: Sessions = {
    generator: await openSession(o.generator, 'generator'),
    mapping: null,
    discriminator: null,
  };
  try {
    if (o.mapping) sessions.mapping = await openSession(o.mapping, 'mapping');
    if (o.discriminator) sessions.discriminator = await openSession(o.discriminator, 'discriminator');
    const probe = await probeModel(plan, sessions, o);
    if (o.wAvg !== undefined) await readWAvg(o.wAvg, probe.mappingDims ?? []);
    const sources = [o.mapping, o.generator, o.discriminator].filter((f): f is string => !!f);
    const completed = completeManifest(
      plan,
      probe,
      {
        name: o.name,
        title: o.title,
        dataset: o.dataset ?? null,
        default: o.default ?? false,
        wAvg: o.wAvg !== undefined ? W_AVG_FILE : null,
        provenance: {
          command: o.command ?? importCommand(o),
          createdAt: new Date().toISOString(),
          quality: {},
          notes: `imported from ${sources.map((f) => path.basename(f)).join(', ')}`,
        },
      },
      o,
    );
    const problems = loadTimeProblems(completed.manifest, sessions);
    if (problems.length > 0)
      throw new ImportError(
        `the inferred manifest fails the service's load-time check: ${problems.join('; ')}`,
      );
    const files: Array<[string, string]> = [[o.generator, 'generator.onnx']];
    if (o.mapping) files.push([o.mapping, 'mapping.onnx']);
    if (o.discriminator) files.push([o.discriminator, 'discriminator.onnx']);
    if (o.wAvg !== undefined) files.push([o.wAvg, W_AVG_FILE]);
    await writeAtomically(dir, files, completed.manifest, o.force ?? false);
    const summary = summarize({ plan, ...completed, dir, sources: o });
    return { ...completed, dir, plan, summary };
  } finally {
    for (const s of [sessions.generator, sessions.mapping, sessions.discriminator]) await s?.release();
  }
}
