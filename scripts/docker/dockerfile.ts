/**
 * Reads the project's Dockerfile and .dockerignore into plain data, so tools can replay an image's stage without a
 * Docker engine (scripts/docker/runtime-check.ts) and tests can check what the image will contain. Parsing is
 * dockerfile-ast's (the VS Code Docker extension's parser); the .dockerignore rules follow moby's patternmatcher.
 */
import {
  type Arg,
  type Cmd,
  type Copy,
  DockerfileParser,
  type Env,
  type From,
  type Healthcheck as HealthcheckInstruction,
  type Instruction,
  type Run,
} from 'dockerfile-ast';

export type Step =
  | { kind: 'copy'; line: number; from: string | null; sources: string[]; dest: string }
  | { kind: 'run'; line: number; command: string; flags: string[] }
  | { kind: 'env'; line: number; vars: Record<string, string> }
  | { kind: 'arg'; line: number; name: string; value: string | null }
  | { kind: 'workdir'; line: number; path: string };

export interface Healthcheck {
  /** Exec form only: the command docker runs inside the container. */
  command: string[];
  flags: Record<string, string>;
}

export interface Stage {
  /** `AS` name, or the stage's index as a string when it has none (as `COPY --from=0` refers to it). */
  name: string;
  index: number;
  /** Base image with build arguments substituted from the ARGs declared before the first FROM. */
  base: string;
  steps: Step[];
  /** WORKDIR in force at the end of the stage ('/' if never set). */
  workdir: string;
  /** ENV in force at the end of the stage (its own ENV lines; a base stage's are inherited via `inherits`). */
  env: Record<string, string>;
  /** Stage this one is built `FROM`, when it is another stage of this Dockerfile. */
  inherits: string | null;
  user: string | null;
  expose: string[];
  cmd: string[] | null;
  healthcheck: Healthcheck | null;
}

export interface ParsedDockerfile {
  stages: Stage[];
  /** Build arguments declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string | null>;
}

const substitute = (value: string, vars: Record<string, string | null>): string =>
  value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, a?: string, b?: string) => {
      const v = vars[(a ?? b)!];
      return v ?? whole;
    },
  );

/** Exec-form JSON (`["node", "x.js"]`); shell form is rejected: tools here run commands without a shell. */
function execForm(text: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${where}: expected exec form like ["node", "dist/server.js"], got ${text}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((x) => typeof x === 'string')) {
    throw new Error(`${where}: expected a non-empty JSON array of strings, got ${text}`);
  }
  return parsed;
}

function lineOf(i: Instruction): number {
  return i.getRange().start.line + 1;
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const df = DockerfileParser.parse(text);
  const globalArgs: Record<string, string | null> = {};
  const stages: Stage[] = [];
  let stage: Stage | null = null;

  for (const ins of df.getInstructions()) {
    const keyword = ins.getKeyword();
    const where = `Dockerfile:${lineOf(ins)} ${keyword}`;
    if (keyword === 'FROM') {
      const from = ins as From;
      const index = stages.length;
      const base = substitute(from.getImage() ?? '', globalArgs);
      const parent = stages.find((s) => s.name === base) ?? null;
      stage = {
        name: from.getBuildStage() ?? String(index),
        index,
        base,
        steps: [],
        workdir: parent?.workdir ?? '/',
        env: { ...(parent?.env ?? {}) },
        inherits: parent?.name ?? null,
        user: parent?.user ?? null,
        expose: [...(parent?.expose ?? [])],
        cmd: parent?.cmd ?? null,
        healthcheck: parent?.healthcheck ?? null,
      };
      stages.push(stage);
      continue;
    }
    if (stage === null) {
      if (keyword === 'ARG') {
        for (const p of (ins as Arg).getProperties()) globalArgs[p.getName()] = p.getValue();
        continue;
      }
      throw new Error(`${where}: only ARG may come before the first FROM`);
    }
    const line = lineOf(ins);
    switch (keyword) {
      case 'COPY': {
        const copy = ins as Copy;
        const args = copy.getArguments().map((a) => a.getValue());
        if (args.length < 2) throw new Error(`${where}: expected sources and a destination`);
        stage.steps.push({
          kind: 'copy',
          line,
          from: copy.getFromFlag()?.getValue() ?? null,
          sources: args.slice(0, -1),
          dest: args.at(-1)!,
        });
        break;
      }
      case 'RUN': {
        const command = ins.getArgumentsContent();
        if (!command) throw new Error(`${where}: empty command`);
        const flags = (ins as Run).getFlags().map((f) => `--${f.getName()}=${f.getValue() ?? ''}`);
        stage.steps.push({ kind: 'run', line, command, flags });
        break;
      }
      case 'ENV': {
        const vars: Record<string, string> = {};
        for (const p of (ins as Env).getProperties()) vars[p.getName()] = p.getValue() ?? '';
        Object.assign(stage.env, vars);
        stage.steps.push({ kind: 'env', line, vars });
        break;
      }
      case 'ARG':
        for (const p of (ins as Arg).getProperties()) {
          // A bare `ARG NAME` inside a stage takes the global default.
          const value = p.getValue() ?? globalArgs[p.getName()] ?? null;
          stage.steps.push({ kind: 'arg', line, name: p.getName(), value });
        }
        break;
      case 'WORKDIR': {
        const path = ins.getArgumentsContent() ?? '';
        stage.workdir = path.startsWith('/') ? path : `${stage.workdir.replace(/\/$/, '')}/${path}`;
        stage.steps.push({ kind: 'workdir', line, path: stage.workdir });
        break;
      }
      case 'USER':
        stage.user = ins.getArgumentsContent();
        break;
      case 'EXPOSE':
        stage.expose.push(...ins.getArguments().map((a) => a.getValue()));
        break;
      case 'CMD':
        stage.cmd = execForm((ins as Cmd).getArgumentsContent() ?? '', where);
        break;
      case 'HEALTHCHECK': {
        const hc = ins as HealthcheckInstruction;
        const sub = hc.getSubcommand()?.getValue().toUpperCase();
        if (sub === 'NONE') {
          stage.healthcheck = null;
          break;
        }
        const content = hc.getArgumentsContent() ?? '';
        const json = content.replace(/^\s*CMD\s+/i, '');
        const flags: Record<string, string> = {};
        for (const f of hc.getFlags()) flags[f.getName()] = f.getValue() ?? '';
        stage.healthcheck = { command: execForm(json, where), flags };
        break;
      }
      default:
        // LABEL, STOPSIGNAL, SHELL, VOLUME, …: nothing a replay needs.
        break;
    }
  }
  if (stages.length === 0) throw new Error('Dockerfile: no FROM');
  return { stages, globalArgs };
}

/** The stage `docker build .` produces: the last one. */
export function defaultTarget(parsed: ParsedDockerfile): Stage {
  return parsed.stages.at(-1)!;
}

export function stageNamed(parsed: ParsedDockerfile, name: string): Stage {
  const stage = parsed.stages.find((s) => s.name === name || String(s.index) === name);
  if (!stage) {
    throw new Error(
      `Dockerfile has no stage '${name}' (stages: ${parsed.stages.map((s) => s.name).join(', ')})`,
    );
  }
  return stage;
}

// ---- .dockerignore --------------------------------------------------------------------------------------------

interface IgnorePattern {
  exclusion: boolean;
  regex: RegExp;
}

/** One pattern to a regex the way moby's patternmatcher does: `*` and `?` stay within a path segment, `**` crosses. */
function patternRegex(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` also matches nothing at all, so `**/x` matches `x`.
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += pattern[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`);
}

function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

/**
 * `excluded(relativePath)` is true when the build context leaves the path out. Later patterns win; a pattern that
 * matches a parent folder applies to everything under it (patternmatcher's MatchesOrParentMatches).
 */
export function dockerignore(text: string): (relativePath: string) => boolean {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    if (exclusion) line = line.slice(1).trim();
    line = cleanPath(line);
    if (line === '') continue;
    patterns.push({ exclusion, regex: patternRegex(line) });
  }
  return (relativePath: string) => {
    const file = cleanPath(relativePath);
    const segments = file.split('/');
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let matched = false;
    for (const p of patterns) {
      // An inclusion can only change an excluded path and vice versa.
      if (p.exclusion !== matched) continue;
      if (candidates.some((c) => p.regex.test(c))) matched = !p.exclusion;
    }
    return matched;
  };
}
