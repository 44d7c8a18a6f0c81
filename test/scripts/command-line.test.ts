import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandLine, shellQuote } from '../../scripts/command-line.ts';

describe('commandLine', () => {
  it('leaves plain arguments alone', () => {
    expect(
      commandLine('npm run train --', ['--dataset', 'mnist', '--out', 'runs/a-b_c.d', '--lr=2e-4']),
    ).toBe('npm run train -- --dataset mnist --out runs/a-b_c.d --lr=2e-4');
  });

  it('quotes what a shell would split or expand, and bash reads back the same arguments', () => {
    const argv = [
      '--title',
      'MNIST ACGAN (conditional)',
      '--description',
      'it\'s 0–9; $HOME `x` "q" *',
      '',
      'a\nb',
    ];
    const line = commandLine('printf "%s\\0"', argv);
    expect(line).toContain(`'MNIST ACGAN (conditional)'`);
    const out = execFileSync('bash', ['-c', line], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv);
  });

  it('quotes a lone quote', () => {
    expect(shellQuote("'")).toBe(`''\\'''`);
  });
});
