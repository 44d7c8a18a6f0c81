/**
 * Replays a Dockerfile stage outside Docker: each stage gets a folder standing in for its WORKDIR, COPY copies what
 * the build context (filtered by .dockerignore) or an earlier stage holds, RUN runs the same command with the same
 * ARG/ENV, and the result starts with the image's ENV, USER, CMD and HEALTHCHECK. It catches what a real build of the
 * runtime stage would: a runtime dependency left in devDependencies, a file the image forgot, an ENV the service
 * rejects. What it cannot replay (a base image's own files, apt-get, useradd) it refuses loudly instead of skipping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, cp, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import {
  defaultTarget,
  dockerignore,
  type Healthcheck,
  type ParsedDockerfile,
  parseDockerfile,
  type Stage,
  stageNamed,
} from './dockerfile.ts';

export interface ReplayOptions {
  /** The build context: the repository root, holding Dockerfile and .dockerignore. */
  root: string;
  /** An empty folder; each stage gets a subfolder. */
  workDir: string;
  /** Stage to produce (default: the default target, the last stage). */
  target?: string;
  /**
   * In stages other than the target, a plain `npm ci` (dev dependencies included) links the root's node_modules
   * instead of installing again: it was installed from the same lockfile. The target's installs always run.
   */
  reuseRootNodeModules?: boolean;
  /**
   * Context paths that may be absent, copied as empty folders instead of failing the COPY (recorded in
   * `substitutions`): e.g. models/ before any trained model is committed, when the caller supplies a fixture.
   */
  missingAsEmpty?: string[];
  /** Per RUN command (default 10 minutes). */
  commandTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface ReplayedImage {
  stage: Stage;
  /** Folder standing in for the image's WORKDIR. */
  appDir: string;
  /** The image's ENV, with paths under WORKDIR mapped into appDir. */
  env: Record<string, string>;
  cmd: string[];
  healthcheck: Healthcheck | null;
  /** Numeric USER of the image, or null (root, or a name we cannot map). */
  user: { uid: number; gid: number } | null;
  /** What the replay did instead of the Dockerfile's exact step, for the record. */
  substitutions: string[];
}

/** First words a replayed RUN may use: portable commands that only touch the stage's own folder. */
const REPLAYABLE = new Set([
  'npm',
  'node',
  'npx',
  'test',
  '[',
  'if',
  'then',
  'fi',
  'else',
  'true',
  'echo',
  'rm',
  'mkdir',
  'cp',
]);

/** Split a shell command on `&&`, `||`, `;` and `|` outside quotes; returns each part's first word. */
export function commandWords(command: string): string[] {
  const words: string[] = [];
  let quote: string | null = null;
  let current = '';
  const flush = () => {
    const first = current.trim().split(/\s+/)[0];
    if (first) words.push(first);
    current = '';
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
      current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ';' || c === '|' || (c === '&' && command[i + 1] === '&')) {
      if (command[i + 1] === c) i++;
      flush();
    } else {
      current += c;
    }
  }
  flush();
  return words;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Copy a context path into dest, leaving out what .dockerignore excludes; returns how many files were copied. */
async function copyFromContext(
  root: string,
  rel: string,
  dest: string,
  excluded: (p: string) => boolean,
): Promise<number> {
  const src = join(root, rel);
  const s = await stat(src);
  if (!s.isDirectory()) {
    if (excluded(rel)) return 0;
    await mkdir(dirname(dest), { recursive: true });
    await cp(src, dest);
    return 1;
  }
  let count = 0;
  await mkdir(dest, { recursive: true });
  for (const entry of await readdir(src)) {
    count += await copyFromContext(root, posix.join(rel, entry), join(dest, entry), excluded);
  }
  return count;
}

function globRegex(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  );
}

function runShell(
  command: string,
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Environment a replayed command starts from: nothing of the caller's but PATH, like a fresh container. */
function baseEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: process.env.TMPDIR ?? '/tmp',
  };
}

function stagesNeeded(parsed: ParsedDockerfile, target: Stage): Stage[] {
  const needed = new Set<string>();
  const visit = (stage: Stage) => {
    if (needed.has(stage.name)) return;
    needed.add(stage.name);
    if (stage.inherits) visit(stageNamed(parsed, stage.inherits));
    for (const step of stage.steps) {
      if (step.kind === 'copy' && step.from !== null) {
        const source = parsed.stages.find((s) => s.name === step.from || String(s.index) === step.from);
        // A --from naming an image (not a stage) cannot be replayed.
        if (!source) {
          throw new Error(`Dockerfile:${step.line} COPY --from=${step.from}: not a stage, cannot replay`);
        }
        visit(source);
      }
    }
  };
  visit(target);
  return parsed.stages.filter((s) => needed.has(s.name));
}

export async function replayStage(options: ReplayOptions): Promise<ReplayedImage> {
  const { root, workDir, log = () => {} } = options;
  const timeoutMs = options.commandTimeoutMs ?? 600_000;
  const parsed = parseDockerfile(await readFile(join(root, 'Dockerfile'), 'utf8'));
  const ignoreText = (await exists(join(root, '.dockerignore')))
    ? await readFile(join(root, '.dockerignore'), 'utf8')
    : '';
  const excluded = dockerignore(ignoreText);
  const target = options.target ? stageNamed(parsed, options.target) : defaultTarget(parsed);
  const substitutions: string[] = [];
  const stageDirs = new Map<string, { dir: string; workdir: string }>();
  const home = join(workDir, 'home');
  await mkdir(home, { recursive: true });
  // Readable by the image's non-root user when the replay starts it under that uid.
  await chmod(workDir, 0o755);

  /** A path inside a stage's filesystem to our folder; only paths under the stage's WORKDIR exist here. */
  const mapper = (stageName: string, stageDir: string, workdir: string) => (path: string) => {
    const rel = posix.relative(workdir, path);
    if (rel.startsWith('..') || posix.isAbsolute(rel)) {
      throw new Error(
        `stage ${stageName}: ${path} is outside WORKDIR ${workdir}; the replay only maps WORKDIR`,
      );
    }
    return join(stageDir, rel);
  };

  for (const stage of stagesNeeded(parsed, target)) {
    const dir = join(workDir, `stage-${stage.name}`);
    let workdir = '/';
    if (stage.inherits) {
      const parent = stageDirs.get(stage.inherits)!;
      await cp(parent.dir, dir, { recursive: true, verbatimSymlinks: true });
      workdir = parent.workdir;
    } else {
      await mkdir(dir, { recursive: true });
    }
    const env: Record<string, string> = {};
    const args: Record<string, string> = {};
    let filesArrived = stage.inherits !== null;
    for (const step of stage.steps) {
      if (step.kind === 'copy' || step.kind === 'run') filesArrived = true;
      const map = mapper(stage.name, dir, workdir);
      const where = `Dockerfile:${step.line} (stage ${stage.name})`;
      switch (step.kind) {
        case 'workdir':
          // The stage's folder stands in for its WORKDIR, so WORKDIR must be settled before files arrive.
          if (filesArrived && step.path !== workdir) {
            throw new Error(
              `${where}: WORKDIR changes after COPY/RUN; the replay maps one WORKDIR per stage`,
            );
          }
          workdir = step.path;
          break;
        case 'arg':
          if (step.value !== null) args[step.name] = step.value;
          break;
        case 'env':
          Object.assign(env, step.vars);
          break;
        case 'copy': {
          const destPath = posix.isAbsolute(step.dest) ? step.dest : posix.join(workdir, step.dest);
          const dest = map(destPath);
          const intoDir = step.dest.endsWith('/') || step.sources.length > 1;
          for (const source of step.sources) {
            if (step.from !== null) {
              const from = stageDirs.get(
                parsed.stages.find((s) => s.name === step.from || String(s.index) === step.from)!.name,
              )!;
              const srcPath = mapper(
                step.from,
                from.dir,
                from.workdir,
              )(posix.isAbsolute(source) ? source : posix.join('/', source));
              if (!(await exists(srcPath))) {
                throw new Error(`${where}: COPY --from=${step.from} ${source}: not found`);
              }
              const isDir = (await stat(srcPath)).isDirectory();
              const to = !isDir && intoDir ? join(dest, basename(srcPath)) : dest;
              await mkdir(dirname(to), { recursive: true });
              await cp(srcPath, to, { recursive: true, verbatimSymlinks: true });
              continue;
            }
            const rel = posix.normalize(source).replace(/^\/+/, '').replace(/\/+$/, '');
            const matches = /[*?]/.test(rel)
              ? (await readdir(join(root, posix.dirname(rel))))
                  .filter((e) => globRegex(posix.basename(rel)).test(e))
                  .map((e) => posix.join(posix.dirname(rel), e))
              : [rel];
            let copied = 0;
            let emptyDir = false;
            for (const m of matches) {
              if (!(await exists(join(root, m)))) continue;
              const isDir = (await stat(join(root, m))).isDirectory();
              // An empty folder copies as an empty folder, as Docker does.
              if (isDir && !excluded(m) && (await readdir(join(root, m))).length === 0) emptyDir = true;
              const to = !isDir && (intoDir || matches.length > 1) ? join(dest, posix.basename(m)) : dest;
              copied += await copyFromContext(root, m, to, excluded);
            }
            if (
              copied === 0 &&
              !emptyDir &&
              options.missingAsEmpty?.includes(rel) &&
              !(await exists(join(root, rel)))
            ) {
              await mkdir(dest, { recursive: true });
              substitutions.push(
                `${where}: COPY ${source}: absent from the context, copied as an empty folder`,
              );
              continue;
            }
            if (copied === 0 && !emptyDir) {
              throw new Error(
                `${where}: COPY ${source}: nothing in the build context (missing, or left out by .dockerignore)`,
              );
            }
          }
          break;
        }
        case 'run': {
          const cwd = map(workdir);
          await mkdir(cwd, { recursive: true });
          const isPlainCi =
            /^npm ci(\s+--?[\w-]+(=\S+)?)*\s*$/.test(step.command) && !/--omit/.test(step.command);
          if (stage !== target && options.reuseRootNodeModules !== false && isPlainCi) {
            await symlink(join(root, 'node_modules'), join(cwd, 'node_modules'), 'dir');
            substitutions.push(`${where}: \`${step.command}\` → linked the repository's node_modules`);
            log(`${where}: linked node_modules instead of \`${step.command}\``);
            break;
          }
          const foreign = commandWords(step.command).filter((w) => !REPLAYABLE.has(w) && !/^\w+=/.test(w));
          if (foreign.length > 0) {
            throw new Error(
              `${where}: cannot replay \`${foreign.join('`, `')}\` outside Docker: ${step.command}`,
            );
          }
          log(`${where}: RUN ${step.command.slice(0, 120)}`);
          const started = Date.now();
          const result = await runShell(
            step.command,
            cwd,
            // The caller's npm cache is warm (it installed the repository): prefer it, so no registry is needed.
            {
              ...baseEnv(home),
              npm_config_cache: process.env.npm_config_cache ?? join(homedir(), '.npm'),
              npm_config_prefer_offline: 'true',
              npm_config_update_notifier: 'false',
              ...args,
              ...env,
            },
            timeoutMs,
          );
          if (result.code !== 0) {
            throw new Error(`${where}: RUN exited ${result.code}: ${step.command}\n${result.output}`);
          }
          log(`${where}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
          break;
        }
      }
    }
    stageDirs.set(stage.name, { dir, workdir });
  }

  const final = stageDirs.get(target.name)!;
  const appDir = mapper(target.name, final.dir, final.workdir)(final.workdir);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(target.env)) {
    env[k] =
      v === final.workdir || v.startsWith(`${final.workdir}/`) ? join(appDir, relative(final.workdir, v)) : v;
  }
  if (!target.cmd) throw new Error(`stage ${target.name} has no CMD`);
  const userMatch = target.user?.match(/^(\d+)(?::(\d+))?$/);
  return {
    stage: target,
    appDir,
    env,
    cmd: target.cmd,
    healthcheck: target.healthcheck,
    user: userMatch ? { uid: Number(userMatch[1]), gid: Number(userMatch[2] ?? userMatch[1]) } : null,
    substitutions,
  };
}

// ---- running the replayed image --------------------------------------------------------------------------------

export interface RunningImage {
  child: ChildProcess;
  baseUrl: string;
  /** The last ~64 KB the process wrote to stdout and stderr. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Run as the image's USER when we can (we are root and it is numeric), as a container would. */
function spawnIdentity(image: ReplayedImage): { uid?: number; gid?: number } {
  return image.user && process.getuid?.() === 0 ? { uid: image.user.uid, gid: image.user.gid } : {};
}

async function containerEnv(image: ReplayedImage, port: number): Promise<Record<string, string>> {
  const home = join(dirname(image.appDir), 'container-home');
  await mkdir(home, { recursive: true });
  if (image.user && process.getuid?.() === 0) await chown(home, image.user.uid, image.user.gid);
  // Loopback only: the image listens on 0.0.0.0 inside its own network namespace, we have none.
  return { ...baseEnv(home), ...image.env, GAN_PORT: String(port), GAN_HOST: '127.0.0.1' };
}

/** Start the image's CMD in its WORKDIR with its ENV, on `port`. */
export async function startImage(image: ReplayedImage, port: number): Promise<RunningImage> {
  const [command, ...args] = image.cmd;
  const child = spawn(command!, args, {
    cwd: image.appDir,
    env: await containerEnv(image, port),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...spawnIdentity(image),
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-65_536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** Poll `path` until it answers 200; fails fast when the process exits first. */
export async function waitForStatus(running: RunningImage, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exited.then(() => {
    exited = true;
  });
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the server exited before ${path} was 200:\n${running.output()}`);
    try {
      const res = await fetch(`${running.baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${path} not 200 after ${timeoutMs} ms (last: ${last}):\n${running.output()}`);
}

/** Run the image's HEALTHCHECK command against a server on `port`; resolves to its exit code. */
export async function runHealthcheck(image: ReplayedImage, port: number): Promise<number | null> {
  if (!image.healthcheck) throw new Error(`stage ${image.stage.name} has no HEALTHCHECK`);
  const [command, ...args] = image.healthcheck.command;
  const env = await containerEnv(image, port);
  // Docker's timeout plus slack for starting node on a busy machine: the exit code is what is checked here.
  const timeoutMs = Number.parseInt(image.healthcheck.flags.timeout ?? '30', 10) * 1000 + 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { cwd: image.appDir, env, stdio: 'ignore', ...spawnIdentity(image) });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** SIGTERM, as `docker stop` and the kubelet send; SIGKILL after `graceMs`. */
export async function stopImage(
  running: RunningImage,
  graceMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return running.exited;
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), graceMs);
  const result = await running.exited;
  clearTimeout(timer);
  return result;
}

/** Folders under `modelsDir` that hold a model.json. */
export async function modelFolders(modelsDir: string): Promise<string[]> {
  if (!(await exists(modelsDir))) return [];
  const out: string[] = [];
  for (const entry of await readdir(modelsDir)) {
    if (await exists(join(modelsDir, entry, 'model.json'))) out.push(entry);
  }
  return out.sort();
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR; throws when the bytes are not a PNG. */
export function pngDimensions(bytes: Buffer): { width: number; height: number } {
  if (
    bytes.length < 24 ||
    !bytes.subarray(0, 8).equals(PNG_SIGNATURE) ||
    bytes.toString('ascii', 12, 16) !== 'IHDR'
  ) {
    throw new Error(
      `expected a PNG, got ${bytes.length} bytes starting ${bytes.subarray(0, 8).toString('hex')}`,
    );
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
