/**
 * The command a script was run with, as one line a shell reads back into the same arguments: recorded in model
 * provenance and benchmark reports so that it can be pasted and rerun.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument, single-quoted when a shell would otherwise split or expand it. */
export function shellQuote(arg: string): string {
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `prefix` (e.g. `npm run train --`) followed by the quoted arguments. */
export function commandLine(prefix: string, argv: readonly string[]): string {
  return [prefix, ...argv.map(shellQuote)].join(' ').trim();
}
