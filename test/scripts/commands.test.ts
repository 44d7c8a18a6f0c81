/**
 * Every service-side command line (benchmarks, soak, evaluate, openapi, playground, Docker check): its flags parse
 * through its own zod schema in-process (defaults filled, a bad value refused with the flag's name), `--help` lists
 * every flag, importing the module runs nothing, and executed under tsx `--help` prints the help and exits 0. The
 * benchmarks and the soak themselves are not run here: they take minutes and want a quiet machine.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ZodObject } from 'zod';
import { type CliSpec, CliUsageError, flagName, helpText, parseArgv } from '../../scripts/cli-args.ts';
import { ROOT } from '../../scripts/service-process.ts';

interface Command {
  file: string;
  /** Arguments that parse, and some of the options they give (defaults included). */
  good: { argv: string[]; options: Record<string, unknown> };
  /** Arguments that must be refused, and the flag the message must name. */
  bad: { argv: string[]; flag: string; message: RegExp };
}

const COMMANDS: Command[] = [
  {
    file: 'scripts/bench/cli.ts',
    good: {
      argv: ['--seconds', '2.5', '--threads', '4'],
      options: {
        seconds: 2.5,
        threads: 4,
        modelsDir: 'models',
        memoryRequests: 100_000,
        out: 'docs/benchmarks',
      },
    },
    bad: { argv: ['--seconds', 'abc'], flag: '--seconds', message: /expected a number, got abc/ },
  },
  {
    file: 'scripts/bench/sweep.ts',
    good: {
      argv: ['--workers', '1,2,4', '--spinning', 'false'],
      options: { workers: [1, 2, 4], threads: [1, 2], spinning: [false], rounds: 2, seconds: 4 },
    },
    bad: { argv: ['--workers', '1,0'], flag: '--workers', message: /at least 1/ },
  },
  {
    file: 'scripts/bench/providers.ts',
    good: {
      argv: ['--providers', 'cuda,webgpu', '--http'],
      options: { providers: ['cuda', 'webgpu'], http: true, batches: [1, 64, 256, 1024, 4096], seconds: 2 },
    },
    bad: { argv: ['--providers', 'cpu'], flag: '--providers', message: /cuda.*webgpu, got cpu/ },
  },
  {
    file: 'scripts/bench/codec.ts',
    good: { argv: [], options: { model: 'models/mnist-dcgan', runs: 300 } },
    bad: { argv: ['--runs', '2'], flag: '--runs', message: /at least 5/ },
  },
  {
    file: 'scripts/bench/optimization-levels.ts',
    good: { argv: ['--batches', '1'], options: { batches: [1], rounds: 7, ms: 500 } },
    bad: { argv: ['--batches', '8,x'], flag: '--batches', message: /whole numbers separated by commas/ },
  },
  {
    file: 'scripts/bench/export-forms.ts',
    good: {
      argv: ['--levels', 'basic,all', '--model', 'trainer'],
      options: { levels: ['basic', 'all'], model: 'trainer', threads: [1, 2], batches: [1, 64] },
    },
    bad: {
      argv: ['--levels', 'fast'],
      flag: '--levels',
      message: /disabled.*basic.*extended.*all, got fast/,
    },
  },
  {
    file: 'scripts/bench/large-images.ts',
    good: { argv: ['--size', '64'], options: { size: 64, seconds: 10, out: 'docs/benchmarks-large' } },
    bad: { argv: ['--size', '5000'], flag: '--size', message: /at most 1024, got 5000/ },
  },
  {
    file: 'scripts/bench/v2-protocols.ts',
    good: { argv: ['--batches', '1,4'], options: { batches: [1, 4], connections: 16, model: 'mnist-dcgan' } },
    bad: { argv: ['--connections', '0'], flag: '--connections', message: /at least 1, got 0/ },
  },
  {
    file: 'scripts/bench/stream.ts',
    good: {
      argv: ['--format', 'ndjson', '--count', '300'],
      options: { format: 'ndjson', count: 300, imageFormat: 'png', sampleMs: 1000 },
    },
    bad: { argv: ['--image-format', 'gif'], flag: '--image-format', message: /png.*jpeg.*webp, got gif/ },
  },
  {
    file: 'scripts/bench/ab.ts',
    good: {
      argv: ['--before', '/tmp/before', '--scenarios', 'generate,healthz', '--batch', '1'],
      options: { before: '/tmp/before', after: '.', scenarios: ['generate', 'healthz'], batch: 1, rounds: 4 },
    },
    bad: {
      argv: ['--scenarios', 'generate', '--before', 'x', '--rounds', '0'],
      flag: '--rounds',
      message: /at least 1, got 0/,
    },
  },
  {
    file: 'scripts/bench/model-memory.ts',
    good: { argv: ['--hidden', '64'], options: { hidden: 64, workers: 2 } },
    bad: { argv: ['--workers', 'two'], flag: '--workers', message: /expected a number, got two/ },
  },
  {
    file: 'scripts/soak/cli.ts',
    good: { argv: ['--minutes', '0.5'], options: { minutes: 0.5, connections: 64, window: 30 } },
    bad: { argv: ['--connections', '1.5'], flag: '--connections', message: /expected an integer/ },
  },
  {
    file: 'scripts/evaluate/cli.ts',
    good: {
      argv: ['--model', 'mnist-dcgan', '--rejection', 'drs', '--gamma=-1.5'],
      options: { model: 'mnist-dcgan', rejection: 'drs', gamma: -1.5, samples: 2000, seed: 0, truncation: 1 },
    },
    bad: {
      argv: ['--model', 'mnist-dcgan', '--record', '--rejection', 'top-k'],
      flag: '--record',
      message: /plain samples/,
    },
  },
  {
    file: 'scripts/openapi.ts',
    good: { argv: ['--check'], options: { check: true } },
    bad: { argv: ['--check=yes'], flag: '--check', message: /switch/ },
  },
  {
    file: 'scripts/playground/real-digits.ts',
    good: { argv: ['--out', 'public/real'], options: { out: 'public/real' } },
    bad: { argv: ['--out', ''], flag: '--out', message: /--out/ },
  },
  {
    file: 'scripts/docker/runtime-check.ts',
    good: { argv: ['--keep'], options: { keep: true } },
    bad: { argv: ['--kep'], flag: '--kep', message: /unknown flag --kep/ },
  },
];

interface CliModule {
  cli: CliSpec<ZodObject>;
  run: (options: never) => Promise<unknown>;
}

/** Imports a command's module; a module that ran anything on import would start a benchmark here. */
const load = (file: string) => import(path.join(ROOT, file)) as Promise<CliModule>;

function usageError(cli: CliSpec<ZodObject>, argv: string[]): CliUsageError {
  try {
    parseArgv(cli, argv);
  } catch (err) {
    if (err instanceof CliUsageError) return err;
    throw err;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe.each(COMMANDS)('$file', ({ file, good, bad }) => {
  it('parses its flags with defaults, refuses a bad value by name, and lists every flag in --help', async () => {
    const { cli, run } = await load(file);
    expect(typeof run).toBe('function');
    expect(parseArgv(cli, ['--help'])).toEqual({ help: true });
    const help = helpText(cli);
    expect(help.startsWith(cli.description)).toBe(true);
    for (const key of Object.keys(cli.flags.shape)) expect(help).toContain(`--${flagName(key)}`);

    const parsed = parseArgv(cli, good.argv);
    expect(parsed.help).toBe(false);
    expect(parsed.help ? null : parsed.options).toMatchObject(good.options);

    const err = usageError(cli, bad.argv);
    expect(err.flag).toBe(bad.flag);
    expect(err.message).toMatch(bad.message);
  });
});

describe('executed under tsx', () => {
  const exec = promisify(execFile);
  it.concurrent.each(COMMANDS.map((c) => c.file))('%s --help prints the help and exits 0', async (file) => {
    const { cli } = await load(file);
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', file, '--help'], { cwd: ROOT });
    expect(stdout).toBe(helpText(cli));
  });

  it('exits 2 and names the flag for a bad value, without running anything', async () => {
    const failed = await exec(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench/cli.ts', '--memory-requests', '5'],
      { cwd: ROOT },
    ).catch((err: { code: number; stdout: string; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2, stdout: '' });
    expect((failed as { stderr: string }).stderr).toContain(
      '--memory-requests: expected at least 1000, got 5',
    );
  });
});
