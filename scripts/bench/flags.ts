/**
 * Flags the benchmark and soak CLIs share, as zod fields for scripts/cli-args.ts, and the command line their
 * reports record.
 */
import { type ZodObject, z } from 'zod';
import { type CliSpec, toArgv } from '../cli-args.ts';
import { commandLine } from '../command-line.ts';

/** `1,64,256` → [1, 64, 256]: whole numbers in `min`..`max`, separated by commas. */
export function intList(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'expected whole numbers separated by commas, e.g. 1,64')
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().int().min(min).max(max)));
}

/** `a,b` → ['a', 'b'], each one of `values`. */
export function enumList<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(values)).min(1));
}

export const modelsDirFlag = z.string().min(1).default('models').describe('the model repository');

/** Seconds each measurement runs. */
export function secondsFlag(seconds: number) {
  return z.number().positive().max(3600).default(seconds).describe('seconds each measurement runs');
}

/** Where a report goes: `<out>.json` (and `<out>.md` when `markdown`). */
export function outFlag(path: string, markdown = true) {
  return z
    .string()
    .min(1)
    .default(path)
    .describe(`report path without extension: writes <out>.json${markdown ? ' and <out>.md' : ''}`);
}

/**
 * The command line a report records, to be pasted and rerun: the arguments it was run with, or, for an in-process
 * `run(options)`, the flags that give those options.
 */
export function reportCommand<S extends ZodObject>(
  cli: CliSpec<S>,
  options: z.output<S>,
  argv: readonly string[] | undefined,
): string {
  return commandLine(cli.command, argv ?? toArgv(cli, options as Partial<z.input<S>>));
}
