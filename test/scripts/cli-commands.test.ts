/**
 * The trainer's commands as a person types them (through tsx, as npm runs them): `--help` prints the flags and
 * exits 0, a bad flag is refused with its name and exit code 2, and nothing else runs.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const TSX = path.resolve('node_modules/.bin/tsx');
const exec = promisify(execFile);

async function command(
  script: string,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(TSX, [script, ...argv], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const COMMANDS = [
  {
    script: 'scripts/train/cli.ts',
    npm: 'npm run train --',
    flag: '--ema-decay',
    bad: ['--out', 'x', '--ema-decay', '1'],
  },
  {
    script: 'scripts/export/cli.ts',
    npm: 'npm run export --',
    flag: '--samples',
    bad: ['a', 'b', '--samples', '0'],
  },
  {
    script: 'scripts/classifier/cli.ts',
    npm: 'npm run train:classifier --',
    flag: '--batch-size',
    bad: ['--out', 'x', '--batch-size', 'many'],
  },
  {
    script: 'scripts/bench/train.ts',
    npm: 'npm run bench:train --',
    flag: '--arch',
    bad: ['--arch', 'resnet'],
  },
];

describe.each(COMMANDS)('$npm', ({ script, npm, flag, bad }) => {
  it('--help lists every flag and exits 0; a bad flag exits 2 naming it', { timeout: 120_000 }, async () => {
    const help = await command(script, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`Usage: ${npm}`);
    expect(help.stdout).toContain(`  ${flag} `);
    expect(help.stdout).toMatch(/ {2}--help +print this help and exit\n/);
    const refused = await command(script, bad);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(new RegExp(`^${flag}: expected .*\\nUsage: ${npm} --help\\n$`));
  });
});
