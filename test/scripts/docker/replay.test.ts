/**
 * The replay's mechanics on a tiny build context (no npm, so it runs in a second): COPY from the context through
 * .dockerignore and from an earlier stage, RUN with the stage's ARG/ENV, ENV paths mapped into the replayed WORKDIR,
 * and the loud failures that keep the runtime-stage test honest.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replayStage } from '../../../scripts/docker/replay.ts';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((t) => rm(t, { recursive: true, force: true })));
});

async function context(
  dockerfile: string,
  files: Record<string, string>,
): Promise<{ root: string; work: string }> {
  const root = await mkdtemp(join(tmpdir(), 'replay-ctx-'));
  const work = await mkdtemp(join(tmpdir(), 'replay-work-'));
  temps.push(root, work);
  await writeFile(join(root, 'Dockerfile'), dockerfile);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return { root, work };
}

const DOCKERFILE = `FROM node:20-bookworm-slim AS build
WORKDIR /app
ARG GREETING=hello
COPY a.txt ./
RUN node -e "require('fs').writeFileSync('b.txt', process.env.GREETING + ' ' + require('fs').readFileSync('a.txt', 'utf8'))"

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
COPY --from=build /app/b.txt ./
COPY conf ./conf
ENV CONF_DIR=/app/conf MODE=prod
USER 1000:1000
CMD ["node", "-e", "console.log(1)"]
`;

describe('replayStage', () => {
  it('copies through .dockerignore and from earlier stages, runs RUN with ARGs, maps ENV paths', async () => {
    const { root, work } = await context(DOCKERFILE, {
      '.dockerignore': '*\n!a.txt\n!conf\nconf/secret.pem\n',
      'a.txt': 'world',
      'conf/app.json': '{}',
      'conf/secret.pem': 'x',
      'unrelated.txt': 'x',
    });
    const image = await replayStage({ root, workDir: work });
    expect(image.stage.name).toBe('runtime');
    expect((await readdir(image.appDir)).sort()).toEqual(['b.txt', 'conf']);
    expect(await readFile(join(image.appDir, 'b.txt'), 'utf8')).toBe('hello world');
    expect(await readdir(join(image.appDir, 'conf'))).toEqual(['app.json']);
    expect(image.env).toEqual({ CONF_DIR: join(image.appDir, 'conf'), MODE: 'prod' });
    expect(image.user).toEqual({ uid: 1000, gid: 1000 });
    expect(image.cmd).toEqual(['node', '-e', 'console.log(1)']);
  });

  it('fails a COPY whose source .dockerignore leaves out, as docker build would', async () => {
    const { root, work } = await context(DOCKERFILE, {
      '.dockerignore': '*\n!a.txt\n',
      'a.txt': 'x',
      'conf/a': '',
    });
    await expect(replayStage({ root, workDir: work })).rejects.toThrow(
      /Dockerfile:10 \(stage runtime\): COPY conf: nothing in the build context/,
    );
  });

  it('copies an absent folder as empty only when the caller says so', async () => {
    const { root, work } = await context(DOCKERFILE, { 'a.txt': 'x' });
    await expect(replayStage({ root, workDir: work })).rejects.toThrow(
      /COPY conf: nothing in the build context/,
    );
    const image = await replayStage({ root, workDir: join(work, 'again'), missingAsEmpty: ['conf'] });
    expect(await readdir(join(image.appDir, 'conf'))).toEqual([]);
    expect(image.substitutions).toEqual([
      'Dockerfile:10 (stage runtime): COPY conf: absent from the context, copied as an empty folder',
    ]);
  });

  it('refuses a RUN it cannot replay on this machine instead of skipping it', async () => {
    const { root, work } = await context(
      'FROM debian AS x\nWORKDIR /app\nRUN apt-get update && useradd app\nCMD ["x"]\n',
      {},
    );
    await expect(replayStage({ root, workDir: work })).rejects.toThrow(/cannot replay `apt-get`, `useradd`/);
  });

  it('reports a failing RUN with its output', async () => {
    const { root, work } = await context(
      'FROM node AS x\nWORKDIR /app\nRUN node -e "console.error(42); process.exit(3)"\nCMD ["x"]\n',
      {},
    );
    await expect(replayStage({ root, workDir: work })).rejects.toThrow(/RUN exited 3: .*\n42/);
  });
});
