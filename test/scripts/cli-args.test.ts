import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CliSpec, CliUsageError, helpText, parseArgv, toArgv } from '../../scripts/cli-args.ts';

const Flags = z
  .object({
    runDir: z.string().describe('the training run'),
    epochs: z.number().int().min(1).max(100).default(5).describe('passes over the training set'),
    dataset: z.enum(['mnist', 'fashion-mnist']).default('mnist').describe('images to train on'),
    form: z.enum(['fast', 'plain', 'depth-to-space']).default('fast').describe('graph form'),
    lr: z.number().positive().default(2e-4).describe('learning rate'),
    out: z.string().describe('output folder'),
    conditional: z.boolean().default(false).describe('class-conditional'),
    quality: z.array(z.string()).default([]).describe('key=value'),
    scales: z.array(z.number().int().min(1)).default([]).describe('upscale factors'),
    outputRange: z
      .string()
      .transform((s) => s.split(',').map(Number))
      .optional()
      .describe('low,high'),
  })
  .superRefine((v, ctx) => {
    if (v.conditional && v.dataset === 'fashion-mnist') {
      ctx.addIssue({ code: 'custom', path: ['conditional'], message: 'not with fashion-mnist' });
    }
  });
const spec: CliSpec<typeof Flags> = {
  command: 'npm run try --',
  description: 'Tries the helper.',
  flags: Flags,
  positionals: ['runDir'],
  examples: ['npm run try -- runs/a --out b'],
};

function usageError(argv: string[]): CliUsageError {
  try {
    parseArgv(spec, argv);
  } catch (err) {
    if (err instanceof CliUsageError) return err;
    throw err;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('parseArgv', () => {
  it('fills defaults, reads numbers, switches, repeated flags, positionals and transforms', () => {
    const parsed = parseArgv(spec, [
      'runs/a',
      '--out',
      'o',
      '--epochs',
      '7',
      '--conditional',
      '--quality',
      'a=1',
      '--quality',
      'b=2',
      '--scales',
      '2',
      '--scales',
      '4',
      '--output-range=-1,1',
    ]);
    expect(parsed).toEqual({
      help: false,
      options: {
        runDir: 'runs/a',
        out: 'o',
        epochs: 7,
        dataset: 'mnist',
        form: 'fast',
        lr: 2e-4,
        conditional: true,
        quality: ['a=1', 'b=2'],
        scales: [2, 4],
        outputRange: [-1, 1],
      },
    });
  });

  it('--help wins over missing and unknown flags', () => {
    expect(parseArgv(spec, ['--help'])).toEqual({ help: true });
    expect(parseArgv(spec, ['--bogus', '--help'])).toEqual({ help: true });
  });

  it('names the flag and what it expected', () => {
    const cases: [string[], string, string | undefined][] = [
      [['r', '--out', 'o', '--epochs', '0'], '--epochs: expected at least 1, got 0', '--epochs'],
      [['r', '--out', 'o', '--epochs', '101'], '--epochs: expected at most 100, got 101', '--epochs'],
      [['r', '--out', 'o', '--epochs', 'x'], '--epochs: expected a number, got x', '--epochs'],
      [['r', '--out', 'o', '--epochs', '1.5'], '--epochs: expected an integer, got 1.5', '--epochs'],
      [['r', '--out', 'o', '--lr', '0'], '--lr: expected more than 0, got 0', '--lr'],
      [
        ['r', '--out', 'o', '--dataset', 'cifar'],
        '--dataset: expected mnist or fashion-mnist, got cifar',
        '--dataset',
      ],
      [['r', '--out', 'o', '--scales', '0'], '--scales: expected at least 1, got 0', '--scales'],
      [['r'], '--out: is required', '--out'],
      [['--out', 'o'], '<run-dir>: is required', '<run-dir>'],
      [['r', '--out'], '--out: expected a value after it', '--out'],
      [
        ['r', '--out', 'o', '--conditional=1'],
        '--conditional: is a switch and takes no value',
        '--conditional',
      ],
      [['r', '--out', 'o', '--bogus'], 'unknown flag --bogus (--help lists the flags)', '--bogus'],
      [['r', '--out', '-o'], "--out: a value starting with '-' goes after '=', as in --out=-1", '--out'],
      [
        ['r', '--out', 'o', '--form', 'onnx'],
        '--form: expected fast, plain or depth-to-space, got onnx',
        '--form',
      ],
      [['r', 's', '--out', 'o'], 'expected <run-dir>, got 2 arguments: r s', undefined],
      [
        ['r', '--out', 'o', '--conditional', '--dataset', 'fashion-mnist'],
        '--conditional: not with fashion-mnist',
        '--conditional',
      ],
    ];
    for (const [argv, message, flag] of cases) {
      const err = usageError(argv);
      expect(err.message, argv.join(' ')).toBe(message);
      expect(err.flag, argv.join(' ')).toBe(flag);
    }
  });
});

describe('helpText', () => {
  it('lists every flag with its value, range, default and description', () => {
    const help = helpText(spec);
    expect(help.startsWith('Tries the helper.\n\nUsage: npm run try -- <run-dir> [flags]\n')).toBe(true);
    const line = (flag: string) => help.split('\n').find((l) => l.trimStart().startsWith(flag));
    expect(line('<run-dir>')).toMatch(/<run-dir>\s+the training run$/);
    expect(line('--epochs')).toMatch(
      /--epochs <int 1\.\.100>\s+passes over the training set \(default: 5\)$/,
    );
    expect(line('--dataset')).toMatch(
      /--dataset <mnist\|fashion-mnist>\s+images to train on \(default: mnist\)$/,
    );
    expect(line('--lr')).toMatch(/--lr <number > 0>\s+learning rate \(default: 0.0002\)$/);
    expect(line('--conditional')).toMatch(/--conditional\s+class-conditional$/);
    expect(line('--quality')).toMatch(/--quality <text>\s+key=value \(repeatable\)$/);
    expect(line('--help')).toMatch(/--help\s+print this help and exit$/);
    expect(help.endsWith('Examples:\n  npm run try -- runs/a --out b\n')).toBe(true);
  });
});

describe('toArgv', () => {
  it('gives back the flags of options, without defaults, and they parse to the same options', () => {
    const argv = toArgv(spec, {
      runDir: 'r',
      out: 'o',
      epochs: 5,
      lr: 0.001,
      conditional: true,
      scales: [2],
    });
    expect(argv).toEqual(['r', '--lr', '0.001', '--out', 'o', '--conditional', '--scales', '2']);
    expect(parseArgv(spec, argv)).toMatchObject({ options: { runDir: 'r', lr: 0.001, conditional: true } });
  });
});

describe('runCli and isMain under tsx', () => {
  let dir: string;
  const TSX = path.resolve('node_modules/.bin/tsx');
  const run = promisify(execFile);
  beforeAll(async () => {
    // outside the repository, as an ES module package that resolves zod from this project's node_modules
    dir = await mkdtemp(path.join(tmpdir(), 'cli-args-'));
    await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    await symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');
    const helper = path.resolve('scripts/cli-args.ts');
    await writeFile(
      path.join(dir, 'cli.ts'),
      [
        "import { z } from 'zod';",
        `import { isMain, runCli } from ${JSON.stringify(helper)};`,
        "const flags = z.object({ n: z.number().int().min(1).describe('how many'), fail: z.boolean().default(false) });",
        'export async function run(o: z.output<typeof flags>): Promise<void> {',
        "  if (o.fail) throw new Error('it failed');",
        '  console.log(JSON.stringify(o));',
        '}',
        "if (isMain(import.meta.url)) await runCli({ command: 'cli --', description: 'A test CLI.', flags }, process.argv.slice(2), run);",
      ].join('\n'),
    );
    await writeFile(
      path.join(dir, 'importer.ts'),
      `import { run } from './cli.ts';\nconsole.log(typeof run);\n`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const exec = async (file: string, argv: string[]) => {
    try {
      const { stdout, stderr } = await run(TSX, [path.join(dir, file), ...argv]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('runs when executed, prints help (exit 0), usage errors (exit 2) and failures (exit 1)', {
    timeout: 60_000,
  }, async () => {
    expect(await exec('cli.ts', ['--n', '3'])).toEqual({
      code: 0,
      stdout: '{"n":3,"fail":false}\n',
      stderr: '',
    });
    const help = await exec('cli.ts', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--n <int ≥ 1>');
    expect(await exec('cli.ts', ['--n', '0'])).toEqual({
      code: 2,
      stdout: '',
      stderr: '--n: expected at least 1, got 0\nUsage: cli -- --help\n',
    });
    expect(await exec('cli.ts', ['--n', '1', '--fail'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'it failed\n',
    });
  });

  it('does nothing on import', { timeout: 60_000 }, async () => {
    expect(await exec('importer.ts', [])).toEqual({ code: 0, stdout: 'function\n', stderr: '' });
  });
});
