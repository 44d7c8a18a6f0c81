/**
 * The Dockerfile and .dockerignore read statically: the parser and ignore rules the replay relies on, a lint with
 * dockerfile-utils (the VS Code Docker extension's validator), and the promises made about each image
 * that the replay cannot check (the cuda target is never built here).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import {
  defaultTarget,
  dockerignore,
  type ParsedDockerfile,
  parseDockerfile,
  type Stage,
  stageNamed,
} from '../../../scripts/docker/dockerfile.ts';
import { commandWords } from '../../../scripts/docker/replay.ts';
import { configSchema, loadConfig } from '../../../src/config.ts';

const root = resolve(import.meta.dirname, '../../..');
const dockerfileText = readFileSync(join(root, 'Dockerfile'), 'utf8');
const parsed: ParsedDockerfile = parseDockerfile(dockerfileText);
const excluded = dockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));

const runs = (stage: Stage) => stage.steps.flatMap((s) => (s.kind === 'run' ? [s.command] : []));
const args = (stage: Stage) =>
  Object.fromEntries(stage.steps.flatMap((s) => (s.kind === 'arg' ? [[s.name, s.value]] : [])));

describe('parseDockerfile', () => {
  const sample = parseDockerfile(
    [
      'ARG BASE=node:20-slim',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile build-arg reference, not JS
      'FROM ${BASE} AS build',
      'WORKDIR /app',
      'ARG MODE=fast',
      'COPY a.json b.json ./',
      'RUN --mount=type=cache,target=/root/.npm npm ci \\',
      '  && npm run build',
      'FROM build AS final',
      'ENV A=1 B="two words"',
      'COPY --from=build /app/dist ./dist',
      'USER 1000:1000',
      'EXPOSE 8080',
      'HEALTHCHECK --interval=5s CMD ["node", "-e", "process.exit(0)"]',
      'CMD ["node", "dist/server.js"]',
    ].join('\n'),
  );

  it('reads stages, build args, COPY, RUN with continuations, ENV, USER, CMD and HEALTHCHECK', () => {
    expect(sample.globalArgs).toEqual({ BASE: 'node:20-slim' });
    const [build, final] = sample.stages;
    expect(build).toMatchObject({ name: 'build', base: 'node:20-slim', workdir: '/app', inherits: null });
    expect(build!.steps).toContainEqual({ kind: 'arg', line: 4, name: 'MODE', value: 'fast' });
    expect(build!.steps).toContainEqual({
      kind: 'copy',
      line: 5,
      from: null,
      sources: ['a.json', 'b.json'],
      dest: './',
    });
    expect(runs(build!)).toEqual(['npm ci   && npm run build']);
    expect(final).toMatchObject({
      name: 'final',
      inherits: 'build',
      workdir: '/app',
      env: { A: '1', B: 'two words' },
      user: '1000:1000',
      expose: ['8080'],
      cmd: ['node', 'dist/server.js'],
      healthcheck: { command: ['node', '-e', 'process.exit(0)'], flags: { interval: '5s' } },
    });
    expect(final!.steps).toContainEqual({
      kind: 'copy',
      line: 10,
      from: 'build',
      sources: ['/app/dist'],
      dest: './dist',
    });
    expect(defaultTarget(sample).name).toBe('final');
  });

  it('rejects a shell-form CMD, which a replay could not run without a shell', () => {
    expect(() => parseDockerfile('FROM x\nCMD node server.js')).toThrow(
      /Dockerfile:2 CMD: expected exec form/,
    );
  });

  it('names an unknown stage and lists the real ones', () => {
    expect(() => stageNamed(parsed, 'gpu')).toThrow(
      /no stage 'gpu' \(stages: build, cuda-deps, cuda, runtime\)/,
    );
  });
});

describe('dockerignore', () => {
  it('applies patterns in order, to a path and everything under it', () => {
    const ex = dockerignore('*\n!src\n!package.json\n**/*.log\nsrc/secret\n!src/secret/keep.txt\n');
    expect(ex('node_modules/x/index.js')).toBe(true);
    expect(ex('README.md')).toBe(true);
    expect(ex('package.json')).toBe(false);
    expect(ex('src/app.ts')).toBe(false);
    expect(ex('src/deep/debug.log')).toBe(true);
    expect(ex('debug.log')).toBe(true);
    expect(ex('src/secret/key.pem')).toBe(true);
    expect(ex('src/secret/keep.txt')).toBe(false);
  });

  it('keeps `*` within one path segment and lets `**/` match no folder at all', () => {
    const ex = dockerignore('docs/*.md\n**/tmp\n');
    expect(ex('docs/a.md')).toBe(true);
    expect(ex('docs/sub/a.md')).toBe(false);
    expect(ex('tmp/x')).toBe(true);
    expect(ex('a/b/tmp')).toBe(true);
    expect(ex('a/b/tmpfile')).toBe(false);
  });

  it('sends what the Dockerfile copies from the context, and nothing of node_modules, dist or git', () => {
    const copied = parsed.stages.flatMap((s) =>
      s.steps.flatMap((step) => (step.kind === 'copy' && step.from === null ? step.sources : [])),
    );
    expect(new Set(copied)).toEqual(
      new Set([
        'package.json',
        'package-lock.json',
        '.npmrc',
        'tsconfig.json',
        'tsconfig.build.json',
        'src',
        'public',
        'models',
      ]),
    );
    for (const path of copied) expect(excluded(path), path).toBe(false);
    expect(excluded('src/server.ts')).toBe(false);
    expect(excluded('models/mnist-dcgan/generator.onnx')).toBe(false);
    for (const path of [
      'node_modules/sharp/package.json',
      'dist/server.js',
      '.git/HEAD',
      'runs/x.json',
      'test/a.ts',
    ]) {
      expect(excluded(path), path).toBe(true);
    }
  });
});

describe('commandWords', () => {
  it('splits on && || ; | outside quotes only', () => {
    expect(commandWords(`npm ci && node -e "a(); b() || c" ; rm -rf x | cat`)).toEqual([
      'npm',
      'node',
      'rm',
      'cat',
    ]);
    expect(commandWords(`apt-get update&&useradd x`)).toEqual(['apt-get', 'useradd']);
  });
});

describe('the Dockerfile', () => {
  it('passes dockerfile-utils’ validator, which does flag a broken file', () => {
    expect(validate(dockerfileText).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    const broken = validate(
      'FROM node:20 AS a\nCOPY --form=a x y\nHEALTHCHECK --intervl=3s CMD ["node"]\nEXPOSE abc\n',
    );
    expect(broken.map((d) => d.message)).toEqual([
      'Unknown flag: form',
      'Unknown flag: intervl',
      'Invalid containerPort: abc',
    ]);
  });

  const runtime = defaultTarget(parsed);
  const cuda = stageNamed(parsed, 'cuda');

  it('builds the CPU image by default: the last stage, on node:20-bookworm-slim', () => {
    expect(runtime.name).toBe('runtime');
    expect(runtime.base).toBe('node:20-bookworm-slim');
    expect(stageNamed(parsed, 'build').base).toBe('node:20-bookworm-slim');
    expect(runtime.env.GAN_EXECUTION_PROVIDERS).toBe('cpu');
  });

  it('installs production dependencies only and never drops optional ones (sharp’s libvips)', () => {
    expect(runs(runtime).some((c) => /^npm ci --omit=dev\b/.test(c))).toBe(true);
    for (const command of parsed.stages.flatMap(runs))
      expect(command).not.toMatch(/--omit[= ]optional|--no-optional/);
    expect(args(runtime).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    expect(readFileSync(join(root, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  it('cuda target: CUDA 12 + cuDNN 9 runtime base, onnxruntime’s CUDA provider fetched at build time', () => {
    expect(parsed.globalArgs.CUDA_IMAGE).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
    expect(cuda.base).toBe(parsed.globalArgs.CUDA_IMAGE);
    const deps = stageNamed(parsed, 'cuda-deps');
    expect(args(deps).ONNXRUNTIME_NODE_INSTALL).toBe('cuda12');
    const install = runs(deps).join('\n');
    expect(install).toMatch(/^npm ci --omit=dev\b/);
    // Runs the postinstall itself when npm skipped it, then insists the provider is there.
    expect(install).toContain('node node_modules/onnxruntime-node/script/install.js');
    expect(install).toContain('test -f "$provider"');
    expect(cuda.env.GAN_EXECUTION_PROVIDERS).toBe('cuda,cpu');
    // One worker: one CUDA session per network on the GPU, not one per host core.
    expect(cuda.env.GAN_WORKERS).toBe('1');
    expect(runs(cuda).join('\n')).toContain('ldd "$provider"');
  });

  for (const name of ['runtime', 'cuda']) {
    it(`${name}: non-root numeric USER, port 8080, curl-free HEALTHCHECK on /healthz, node dist/server.js`, () => {
      const stage = stageNamed(parsed, name);
      expect(stage.user).toBe('1000:1000');
      expect(stage.expose).toEqual(['8080']);
      expect(stage.env.GAN_PORT).toBe('8080');
      expect(stage.cmd).toEqual(['node', 'dist/server.js']);
      expect(stage.healthcheck?.command.slice(0, 2)).toEqual(['node', '-e']);
      expect(stage.healthcheck?.command[2]).toContain('/healthz');
      expect(stage.healthcheck?.flags).toMatchObject({ interval: '30s', timeout: '5s', retries: '3' });
    });

    it(`${name}: every GAN_* ENV is a setting the service accepts`, () => {
      const stage = stageNamed(parsed, name);
      const gan = Object.fromEntries(Object.entries(stage.env).filter(([k]) => k.startsWith('GAN_')));
      for (const key of Object.keys(gan)) expect(Object.keys(configSchema.shape)).toContain(key);
      expect(() => loadConfig(gan)).not.toThrow();
    });
  }
});
