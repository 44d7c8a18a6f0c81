/**
 * `npm run import`: bring a pretrained generator's ONNX file(s) into the model repository with one command.
 *
 *   npm run import -- --generator G.onnx [--discriminator D.onnx] [--mapping M.onnx] --name NAME
 *     [--models-dir ./models] [--title T] [--dataset D] [--default] [--w-avg w_avg.npy] [--force] [overrides…]
 *
 * The flags' zod schema gives their validation, defaults and `--help`; `run(argv)` is what tests call.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { MODEL_NAME_PATTERN } from '../../src/models/manifest.ts';
import { commandLine } from '../command-line.ts';
import { type ImportOptions, importModel } from './import-model.ts';
import { ImportError, type Range } from './types.ts';

const file = z.string().min(1);

export const flagsSchema = z.strictObject({
  generator: file.describe(
    'the generator ONNX file (z → image), or the synthesis network (w → image) with --mapping',
  ),
  discriminator: file.optional().describe('the discriminator ONNX file (image → one score per image)'),
  mapping: file
    .optional()
    .describe("a StyleGAN mapping network ONNX file (z → w) feeding the generator's w input"),
  name: z
    .string()
    .regex(MODEL_NAME_PATTERN, `lower-case letters, digits, '.', '_' or '-' (${MODEL_NAME_PATTERN})`)
    .describe('the model name: its folder under --models-dir and the name clients use'),
  'models-dir': z.string().min(1).default('./models').describe('the model repository'),
  title: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("a human-readable title (default: the metadata's, or the name)"),
  dataset: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('the dataset it was trained on (selects the classifier that judges it)'),
  default: z.boolean().default(false).describe('mark it the default model'),
  'w-avg': file
    .optional()
    .describe(
      "a .npy of the mapping network's average w (G.mapping.w_avg); without it the service estimates w_avg at load",
    ),
  'output-range': z
    .string()
    .regex(/^-?[\d.]+(e-?\d+)?,-?[\d.]+(e-?\d+)?$/i, 'expected lo,hi, e.g. -1,1')
    .transform((s): Range => s.split(',').map(Number) as Range)
    .refine(
      ([lo, hi]) => Number.isFinite(lo) && Number.isFinite(hi) && lo < hi,
      'expected lo,hi with lo < hi',
    )
    .optional()
    .describe(
      "the generator output's value range (default: measured on seeded images: [0,1], [-1,1] or [0,255])",
    ),
  layout: z
    .enum(['NCHW', 'NHWC'])
    .optional()
    .describe("the generator output's layout (default: where the 1 or 3 channels sit)"),
  'latent-input': z.string().min(1).optional().describe('the input that takes z'),
  'class-input': z
    .string()
    .min(1)
    .optional()
    .describe('the input that takes the class (ids [N] or one-hot [N, K])'),
  'num-classes': z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(2).max(100_000))
    .optional()
    .describe('the number of classes, for a class-id input'),
  'truncation-input': z.string().min(1).optional().describe('a float scalar input fed with the truncation ψ'),
  constant: z
    .array(z.string().regex(/^[^=]+=-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i, 'expected NAME=NUMBER'))
    .default([])
    .describe('feed input NAME the constant VALUE (repeatable)'),
  'noise-input': z
    .array(z.string().regex(/^[^:]+(:\d+)?$/, 'expected NAME or NAME:SEED'))
    .default([])
    .describe('feed input NAME seeded N(0, 1) noise, seed 0 unless given (repeatable)'),
  'discriminator-output-kind': z
    .enum(['logit', 'probability'])
    .optional()
    .describe(
      "the discriminator's score (default: probability if its last op is a Sigmoid and scores lie in [0, 1])",
    ),
  force: z.boolean().default(false).describe('replace an existing model folder of that name'),
  help: z.boolean().default(false).describe('show this help'),
});

export type Flags = z.infer<typeof flagsSchema>;

/** The value each flag takes, in --help. */
const VALUE_NAMES: Partial<Record<keyof Flags, string>> = {
  generator: 'FILE',
  discriminator: 'FILE',
  mapping: 'FILE',
  name: 'NAME',
  'models-dir': 'DIR',
  title: 'TEXT',
  dataset: 'NAME',
  'w-avg': 'FILE',
  'output-range': 'LO,HI',
  layout: 'NCHW|NHWC',
  'latent-input': 'NAME',
  'class-input': 'NAME',
  'num-classes': 'K',
  'truncation-input': 'NAME',
  constant: 'NAME=VALUE',
  'noise-input': 'NAME[:SEED]',
  'discriminator-output-kind': 'logit|probability',
};

interface JsonProperty {
  type?: string;
  description?: string;
  default?: unknown;
}

function properties(): Array<[keyof Flags, JsonProperty]> {
  const json = z.toJSONSchema(flagsSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, JsonProperty>;
  };
  return Object.entries(json.properties) as Array<[keyof Flags, JsonProperty]>;
}

export function helpText(): string {
  const rows = properties().map(([key, p]) => {
    const value = VALUE_NAMES[key];
    const left = `--${key}${value ? ` ${value}` : ''}`;
    const shown =
      p.default === undefined || p.default === false || Array.isArray(p.default)
        ? ''
        : ` (default ${p.default})`;
    return [left, `${p.description ?? ''}${shown}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return [
    'Import a pretrained generator (and discriminator) from ONNX into the model repository.',
    '',
    'usage: npm run import -- --generator G.onnx [--discriminator D.onnx] [--mapping M.onnx] --name NAME [options]',
    '',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    '',
    'Every role, shape, layout and range not given is inferred from the files and one run on seeded inputs; the',
    'guesses are listed for checking. A model that does not fit exits with code 2 and writes nothing.',
  ].join('\n');
}

function parseOptions(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    properties().map(([key, p]) => [
      key,
      p.type === 'boolean'
        ? { type: 'boolean' }
        : p.type === 'array'
          ? { type: 'string', multiple: true }
          : { type: 'string' },
    ]),
  );
}

/** `--output-range -1,1`: a value starting with '-' is taken as the flag's value, as `--output-range=-1,1` would be. */
function joinNegativeValues(argv: readonly string[], stringFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a.startsWith('--') && stringFlags.has(a.slice(2)) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The library's options from validated flags. */
export function importOptions(f: Flags, command: string): ImportOptions {
  const constants = Object.fromEntries(
    f.constant.map((c) => {
      const eq = c.indexOf('=');
      return [c.slice(0, eq), Number(c.slice(eq + 1))];
    }),
  );
  const noiseInputs = Object.fromEntries(
    f['noise-input'].map((n) => {
      const [name, seed] = n.split(':');
      return [name!, seed === undefined ? 0 : Number(seed)];
    }),
  );
  return {
    generator: f.generator,
    discriminator: f.discriminator,
    mapping: f.mapping,
    name: f.name,
    modelsDir: f['models-dir'],
    title: f.title,
    dataset: f.dataset,
    default: f.default,
    wAvg: f['w-avg'],
    force: f.force,
    outputRange: f['output-range'],
    layout: f.layout,
    latentInput: f['latent-input'],
    classInput: f['class-input'],
    numClasses: f['num-classes'],
    truncationInput: f['truncation-input'],
    constants,
    noiseInputs,
    discriminatorOutputKind: f['discriminator-output-kind'],
    command,
  };
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

/**
 * Runs the import for command-line arguments.
 * @returns the exit code: 0 done (or --help), 2 bad flags or a model that does not fit, 1 anything else
 */
export async function run(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  const options = parseOptions();
  const stringFlags = new Set(Object.keys(options).filter((k) => options[k]!.type === 'string'));
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv, stringFlags),
      options,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`import: ${(err as Error).message}\n(see --help)`);
    return 2;
  }
  if (values.help) {
    io.out(helpText());
    return 0;
  }
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.find((p) => typeof p === 'string');
      io.err(
        `import: ${key ? `--${key}` : 'flags'}: ${issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message}`,
      );
    }
    io.err('(see --help)');
    return 2;
  }
  try {
    const result = await importModel(importOptions(parsed.data, commandLine('npm run import --', argv)));
    for (const line of result.summary) io.out(line);
    return 0;
  } catch (err) {
    io.err(`import failed: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof ImportError ? err.exitCode : 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  process.exitCode = await run(process.argv.slice(2));
}
