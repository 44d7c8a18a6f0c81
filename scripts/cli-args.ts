/**
 * One zod object per command line: it gives node's parseArgs its options, validates and defaults the flags, and
 * writes the `--help` text from each field's `.describe()`. A CLI module exports `run(options)` for tests and ends
 * with `if (isMain(import.meta.url)) await runCli(cli, process.argv.slice(2), run);`.
 *
 *   const Flags = z.object({
 *     epochs: z.number().int().min(1).default(5).describe('passes over the training set'),
 *     dataset: z.enum(['mnist', 'fashion-mnist']).default('mnist').describe('images to train on'),
 *     out: z.string().describe('output folder, e.g. runs/mnist-dcgan'),
 *   });
 *   const cli = { command: 'npm run train --', description: 'Trains a GAN.', flags: Flags };
 *
 * Keys are camelCase and their flags kebab-case (`batchSize` ↔ `--batch-size`). A boolean field is a switch
 * (`--conditional`), an array field a repeatable flag, a number field is read with `Number()`; anything else
 * (strings, enums, `z.string().transform(...)`) receives the text. Keys listed in `positionals` are read, in
 * order, from the arguments that are not flags. An issue from an object-level `.superRefine` is printed as
 * `--<flag of its path>: <message>`, so its message need not repeat the flag.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ZodObject, type ZodType, z } from 'zod';

export type CliSpec<S extends ZodObject> = {
  /** How the command is typed, before its flags: `npm run train --`. */
  command: string;
  /** What the command does: the first lines of `--help`. */
  description: string;
  flags: S;
  /** Keys of `flags` taken, in order, from the positional arguments. */
  positionals?: readonly (keyof S['shape'] & string)[];
  /** Complete command lines shown at the end of `--help`. */
  examples?: readonly string[];
};

/** A command line that cannot run: the message names the flag (or positional) and what it expected. */
export class CliUsageError extends Error {
  constructor(
    message: string,
    /** `--batch-size` or `<run-dir>`; absent when no single argument is at fault. */
    readonly flag?: string,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}

export type ParsedArgv<S extends ZodObject> = { help: true } | { help: false; options: z.output<S> };

type FieldKind = 'boolean' | 'number' | 'array' | 'string';

/** `batchSize` → `batch-size`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function positionalName(key: string): string {
  return `<${flagName(key)}>`;
}

/** The schema under optional/default/nullable/readonly wrappers and the input side of a transform. */
function unwrap(schema: ZodType): ZodType {
  let s = schema;
  for (;;) {
    const def = s.def as { type: string; innerType?: ZodType; in?: ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

function describeOf(schema: ZodType): string | undefined {
  let s: ZodType | undefined = schema;
  while (s) {
    if (s.description) return s.description;
    const def = s.def as { innerType?: ZodType; in?: ZodType };
    s = def.innerType ?? def.in;
  }
  return undefined;
}

function defaultOf(schema: ZodType): unknown {
  let s: ZodType | undefined = schema;
  while (s) {
    const def = s.def as { type: string; defaultValue?: unknown; innerType?: ZodType };
    if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
    s = def.innerType;
  }
  return undefined;
}

function kindOf(schema: ZodType): FieldKind {
  const base = unwrap(schema);
  if (base instanceof z.ZodBoolean) return 'boolean';
  if (base instanceof z.ZodNumber) return 'number';
  if (base instanceof z.ZodArray) return 'array';
  return 'string';
}

function isNumberArray(schema: ZodType): boolean {
  const base = unwrap(schema);
  return base instanceof z.ZodArray && unwrap(base.element as ZodType) instanceof z.ZodNumber;
}

function fields(flags: ZodObject): [string, ZodType][] {
  return Object.entries(flags.shape as Record<string, ZodType>);
}

/** `<int 1..4096>`, `<mnist|fashion-mnist>`, `<number>`, `<text>`: what a flag's value looks like. */
function placeholder(schema: ZodType): string {
  const base = unwrap(schema);
  if (base instanceof z.ZodEnum) return `<${(base.options as readonly unknown[]).join('|')}>`;
  if (base instanceof z.ZodArray) return placeholder(base.element as ZodType);
  if (base instanceof z.ZodNumber) {
    const type = base.isInt ? 'int' : 'number';
    let low = '';
    let high = '';
    for (const check of base.def.checks ?? []) {
      const c = check._zod.def as { check: string; value?: unknown; inclusive?: boolean };
      if (typeof c.value !== 'number' || Math.abs(c.value) >= Number.MAX_SAFE_INTEGER) continue;
      if (c.check === 'greater_than') low = `${c.inclusive ? '≥' : '>'} ${c.value}`;
      if (c.check === 'less_than') high = `${c.inclusive ? '≤' : '<'} ${c.value}`;
    }
    if (low.startsWith('≥') && high.startsWith('≤')) return `<${type} ${low.slice(2)}..${high.slice(2)}>`;
    return `<${[type, low, high].filter(Boolean).join(' ')}>`;
  }
  return '<text>';
}

const HELP_WIDTH = 110;

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The `--help` text: description, usage, one line per flag with its default, examples. */
export function helpText<S extends ZodObject>(spec: CliSpec<S>): string {
  const positional = new Set<string>(spec.positionals ?? []);
  const rows: [string, string][] = [];
  for (const [key, schema] of fields(spec.flags)) {
    const description = describeOf(schema) ?? '';
    const def = defaultOf(schema);
    const shown =
      def === undefined || def === false || (Array.isArray(def) && def.length === 0)
        ? ''
        : ` (default: ${Array.isArray(def) ? def.join(',') : String(def)})`;
    const repeat = kindOf(schema) === 'array' ? ' (repeatable)' : '';
    if (positional.has(key)) rows.push([positionalName(key), `${description}${shown}`]);
    else {
      const value = kindOf(schema) === 'boolean' ? '' : ` ${placeholder(schema)}`;
      rows.push([`--${flagName(key)}${value}`, `${description}${repeat}${shown}`]);
    }
  }
  rows.push(['--help', 'print this help and exit']);
  const width = Math.min(34, Math.max(...rows.map(([left]) => left.length)) + 2);
  const indent = ' '.repeat(width + 2);
  const lines = rows.map(([left, right]) => {
    const text = wrap(right, HELP_WIDTH - indent.length).join(`\n${indent}`);
    return left.length + 2 > width ? `  ${left}\n${indent}${text}` : `  ${left.padEnd(width)}${text}`;
  });
  const usage = [spec.command, ...(spec.positionals ?? []).map(positionalName), '[flags]'].join(' ');
  return [
    spec.description.trim(),
    '',
    `Usage: ${usage}`,
    '',
    positional.size ? 'Arguments and flags:' : 'Flags:',
    ...lines,
    ...(spec.examples?.length ? ['', 'Examples:', ...spec.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
}

function issueText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int') return 'expected an integer';
      if (issue.expected === 'number') return 'expected a number';
      return `expected ${issue.expected}`;
    case 'too_small':
      if (issue.origin === 'number')
        return `expected ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}`;
      return issue.message;
    case 'too_big':
      if (issue.origin === 'number')
        return `expected ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
      return issue.message;
    case 'invalid_value':
      return `expected ${issue.values
        .map(String)
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1')}`;
    default:
      return issue.message;
  }
}

function rethrowParseArgs(err: unknown): never {
  const e = err as { code?: string; message?: string };
  const option = /'(-{1,2}[^'\s]+)/.exec(e.message ?? '')?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    throw new CliUsageError(
      `unknown flag ${option ?? ''} (--help lists the flags)`.replace('  ', ' '),
      option,
    );
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[a-z0-9-]+/.exec(e.message ?? '')?.[0];
    const message = e.message ?? '';
    const text = message.includes('ambiguous')
      ? `a value starting with '-' goes after '=', as in ${flag}=-1`
      : message.includes('argument missing')
        ? 'expected a value after it'
        : 'is a switch and takes no value';
    throw new CliUsageError(`${flag}: ${text}`, flag);
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    throw new CliUsageError(`unexpected argument ${/'([^']*)'/.exec(e.message ?? '')?.[1] ?? ''}`);
  }
  throw err;
}

/**
 * Reads argv against the spec. `--help` anywhere wins over every other check; otherwise returns the validated
 * options or throws a CliUsageError naming the flag.
 */
export function parseArgv<S extends ZodObject>(spec: CliSpec<S>, argv: readonly string[]): ParsedArgv<S> {
  const positionalKeys: readonly string[] = spec.positionals ?? [];
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    help: { type: 'boolean' },
  };
  for (const [key, schema] of fields(spec.flags)) {
    if (positionalKeys.includes(key)) continue;
    const kind = kindOf(schema);
    options[flagName(key)] =
      kind === 'boolean'
        ? { type: 'boolean' }
        : { type: 'string', ...(kind === 'array' ? { multiple: true } : {}) };
  }
  let parsed: {
    values: Record<string, string | boolean | (string | boolean)[] | undefined>;
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      allowPositionals: positionalKeys.length > 0,
      strict: true,
    });
  } catch (err) {
    // --help beside an unknown flag still prints the help
    if (argv.includes('--help')) return { help: true };
    rethrowParseArgs(err);
  }
  if (parsed.values.help) return { help: true };
  if (parsed.positionals.length > positionalKeys.length) {
    throw new CliUsageError(
      `expected ${positionalKeys.map(positionalName).join(' ')}, got ${parsed.positionals.length} arguments: ` +
        parsed.positionals.join(' '),
    );
  }
  const raw: Record<string, unknown> = {};
  const given: Record<string, string> = {};
  for (const [key, schema] of fields(spec.flags)) {
    const pos = positionalKeys.indexOf(key);
    const value = pos >= 0 ? parsed.positionals[pos] : parsed.values[flagName(key)];
    if (value === undefined) continue;
    given[key] = Array.isArray(value) ? value.join(' ') : String(value);
    const kind = kindOf(schema);
    if (kind === 'number') raw[key] = toNumber(value as string);
    else if (kind === 'array' && isNumberArray(schema)) raw[key] = (value as string[]).map(toNumber);
    else raw[key] = value;
  }
  const result = spec.flags.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
    const name =
      key === undefined
        ? undefined
        : positionalKeys.includes(key)
          ? positionalName(key)
          : `--${flagName(key)}`;
    const got = key !== undefined && given[key] !== undefined ? `, got ${given[key]}` : '';
    const missing = issue.code === 'invalid_type' && key !== undefined && raw[key] === undefined;
    const text =
      issue.code === 'custom' ? issue.message : missing ? 'is required' : `${issueText(issue)}${got}`;
    throw new CliUsageError(name ? `${name}: ${text}` : text, name);
  }
  return { help: false, options: result.data };
}

/** `Number(text)`, keeping text that is not a number so that the schema reports it with the flag's name. */
function toNumber(text: string): number | string {
  const n = Number(text);
  return text.trim() === '' || Number.isNaN(n) ? text : n;
}

/**
 * Options back to the flags that give them, leaving out values equal to their defaults: a command line that
 * reruns an in-process `run(options)` (for provenance). Transformed fields appear only when given as text.
 */
export function toArgv<S extends ZodObject>(spec: CliSpec<S>, options: Partial<z.input<S>>): string[] {
  const out: string[] = [];
  const positionalKeys: readonly string[] = spec.positionals ?? [];
  const values = options as Record<string, unknown>;
  for (const key of positionalKeys) {
    if (values[key] !== undefined) out.push(String(values[key]));
  }
  for (const [key, schema] of fields(spec.flags)) {
    const value = values[key];
    if (positionalKeys.includes(key) || value === undefined || value === null) continue;
    if (JSON.stringify(value) === JSON.stringify(defaultOf(schema))) continue;
    const flag = `--${flagName(key)}`;
    const kind = kindOf(schema);
    if (kind === 'boolean') {
      if (value === true) out.push(flag);
    } else if (Array.isArray(value)) {
      for (const item of value) out.push(flag, String(item));
    } else if (typeof value === 'string' || typeof value === 'number') {
      out.push(flag, String(value));
    }
  }
  return out;
}

/**
 * The whole command line: `--help` prints the help (exit 0); a usage error prints its message and a pointer to
 * `--help` (exit 2); an error thrown by `run` prints its message (exit 1). Exit codes are set, not forced, so
 * output is flushed.
 */
export async function runCli<S extends ZodObject>(
  spec: CliSpec<S>,
  argv: readonly string[],
  run: (options: z.output<S>, argv: readonly string[]) => Promise<unknown>,
): Promise<void> {
  let parsed: ParsedArgv<S>;
  try {
    parsed = parseArgv(spec, argv);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    process.stderr.write(`${err.message}\nUsage: ${spec.command} --help\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(helpText(spec));
    return;
  }
  try {
    await run(parsed.options, argv);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

/** True when the module with this `import.meta.url` is the script node (or tsx) was asked to run. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(fileURLToPath(moduleUrl)) === real(script);
}
