/**
 * A small Dockerfile reader and the invariants the image must keep (docs/docker.md):
 * Node 20 on bookworm-slim, production dependencies only in the runtime,
 * a non-root USER, ports 8080/9090, `sipp-gateway serve --config
 * /etc/sipp/gateway.toml`, a readiness healthcheck without curl, and no
 * secret baked into the image. No Docker engine is needed.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string | undefined;
  /** The FROM image with ARG defaults substituted. */
  base: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: Stage[];
  /** Every instruction, global ARGs included. */
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions (joining `\` continuations, dropping comments) and stages. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const instructions: Instruction[] = [];
  let buffer = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!buffer && (!trimmed || trimmed.startsWith('#'))) return;
    if (buffer && trimmed.startsWith('#')) return; // comment lines inside a continuation are ignored
    if (!buffer) startLine = i + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1).trimEnd()} `;
      return;
    }
    buffer += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buffer)!;
    instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: startLine });
    buffer = '';
  });

  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const image = (m?.[1] ?? ins.args).replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_, a: string, b: string) => globalArgs.get(a ?? b) ?? '',
      );
      stages.push({ name: m?.[2], base: image, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [name, ...rest] = ins.args.split('=');
        globalArgs.set(name!.trim(), rest.join('=').trim());
      }
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { globalArgs, stages, instructions };
}

/** `["a", "b"]` → ['a', 'b']; shell form → ['/bin/sh', '-c', text]. */
export function execForm(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
  }
  return ['/bin/sh', '-c', trimmed];
}

/** The variables an ENV or ARG instruction sets (both `K=V K2=V2` and legacy `K V` forms). */
export function declaredNames(ins: Instruction): string[] {
  if (ins.keyword === 'ARG') return [ins.args.split('=')[0]!.trim()];
  if (!ins.args.includes('=')) return [ins.args.split(/\s+/)[0]!];
  return [...ins.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!);
}

/** Resolved ENV values of a stage (only the simple K=V form is needed here). */
export function stageEnv(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions) {
    if (ins.keyword !== 'ENV') continue;
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  }
  return env;
}

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|PRIVATE_KEY)/i;

export interface ImageExpectations {
  /** The base image every runtime built on Node must use. */
  nodeImage: string;
  /** The full command the container runs, ENTRYPOINT + CMD. */
  command: string[];
  ports: number[];
  /** The URL the healthcheck must probe (management readiness). */
  readinessUrl: string;
  /** Environment variable names the example configs read secrets from. */
  secretNames: string[];
}

function stageByName(df: ParsedDockerfile, name: string): Stage | undefined {
  return df.stages.find((s) => s.name === name);
}

/** Follows FROM <stage> links: a stage and the stages it is built on. */
function lineage(df: ParsedDockerfile, stage: Stage): Stage[] {
  const out: Stage[] = [stage];
  let cur = stageByName(df, stage.base);
  while (cur && !out.includes(cur)) {
    out.push(cur);
    cur = stageByName(df, cur.base);
  }
  return out;
}

function lastArgs(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

/** Problems with the image definition; empty when it keeps every promise. */
export function dockerfileProblems(df: ParsedDockerfile, expect: ImageExpectations): string[] {
  const problems: string[] = [];
  const last = df.stages.at(-1);
  if (!last) return ['no FROM instruction'];
  if (last.name !== 'runtime') problems.push(`the last (default) stage is "${last.name ?? '(unnamed)'}", expected "runtime"`);
  if (last.base !== expect.nodeImage) problems.push(`stage runtime is based on "${last.base}", expected "${expect.nodeImage}"`);

  const builders = df.stages.filter((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm run build\b/.test(i.args)));
  if (builders.length === 0) problems.push('no stage runs "npm run build"');
  for (const b of builders) {
    if (b.base !== expect.nodeImage)
      problems.push(`build stage "${b.name}" is based on "${b.base}", expected "${expect.nodeImage}"`);
    const build = b.instructions.find((i) => i.keyword === 'RUN' && /npm run build\b/.test(i.args))!;
    for (const ws of ['shared', 'server', 'admin-web']) {
      if (!new RegExp(`-w ${ws}\\b`).test(build.args)) problems.push(`stage "${b.name}" does not build workspace ${ws}`);
    }
  }

  const runtimes = df.stages.filter((s) => s.name?.startsWith('runtime'));
  for (const stage of runtimes) {
    const where = `stage ${stage.name}`;
    const user = lastArgs(stage, 'USER')?.args;
    if (!user) problems.push(`${where}: no USER instruction (it would run as root)`);
    else if (/^(root|0)(:|$)/.test(user)) problems.push(`${where}: USER is ${user}`);

    const exposed = stage.instructions
      .filter((i) => i.keyword === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0])));
    for (const port of expect.ports) if (!exposed.includes(port)) problems.push(`${where}: does not EXPOSE ${port}`);

    const entry = lastArgs(stage, 'ENTRYPOINT');
    const cmd = lastArgs(stage, 'CMD');
    const command = [...(entry ? execForm(entry.args) : []), ...(cmd ? execForm(cmd.args) : [])];
    if (JSON.stringify(command) !== JSON.stringify(expect.command)) {
      problems.push(`${where}: runs ${JSON.stringify(command)}, expected ${JSON.stringify(expect.command)}`);
    }
    if (entry && !entry.args.trim().startsWith('['))
      problems.push(`${where}: ENTRYPOINT in shell form would not receive SIGTERM`);

    const health = lastArgs(stage, 'HEALTHCHECK');
    if (!health) problems.push(`${where}: no HEALTHCHECK`);
    else {
      const m = /\bCMD\s+(.*)$/s.exec(health.args);
      const probe = m ? execForm(m[1]!) : [];
      if (probe[0] !== 'node')
        problems.push(`${where}: HEALTHCHECK must use node (what the image has), got ${JSON.stringify(probe[0])}`);
      if (!probe.join(' ').includes(expect.readinessUrl))
        problems.push(`${where}: HEALTHCHECK does not probe ${expect.readinessUrl}`);
      if (/\b(curl|wget)\b/.test(health.args))
        problems.push(`${where}: HEALTHCHECK uses curl/wget, which the image does not ship`);
    }

    // Production dependencies only: node_modules must come from a stage that
    // ran `npm ci --omit=dev` (directly or through the stages it is built on).
    const moduleCopies = stage.instructions.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args));
    if (moduleCopies.length === 0) problems.push(`${where}: copies no node_modules`);
    for (const copy of moduleCopies) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      const source = from ? stageByName(df, from) : undefined;
      const prodOnly =
        source !== undefined &&
        lineage(df, source).some((s) =>
          s.instructions.some((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args) && /--omit=dev\b/.test(i.args)),
        );
      if (!prodOnly) problems.push(`${where}: node_modules (line ${copy.line}) do not come from an "npm ci --omit=dev" stage`);
    }
    for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))) {
      problems.push(
        `${where}: COPY from the build context (line ${copy.line}); the runtime takes only built output from other stages`,
      );
    }
  }
  if (runtimes.length === 0) problems.push('no runtime stage');

  // No secret baked in: no ENV/ARG that names or looks like a secret, no .env copied.
  for (const ins of df.instructions) {
    if (ins.keyword === 'ENV' || ins.keyword === 'ARG') {
      for (const name of declaredNames(ins)) {
        if (SECRET_NAME.test(name) || expect.secretNames.includes(name))
          problems.push(`line ${ins.line}: ${ins.keyword} ${name} bakes a secret into the image`);
      }
    }
    if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && /(^|[\s/])\.env\b/.test(ins.args))
      problems.push(`line ${ins.line}: ${ins.keyword} copies a .env file into the image`);
    if (ins.keyword === 'ADD' && /https?:\/\//.test(ins.args))
      problems.push(`line ${ins.line}: ADD fetches a URL; use a pinned package instead`);
    for (const name of expect.secretNames) {
      if (ins.keyword !== 'RUN' && ins.args.includes(name)) problems.push(`line ${ins.line}: mentions secret variable ${name}`);
    }
  }
  return problems;
}

/** Problems with .dockerignore: what must never reach the build context. */
export function dockerignoreProblems(text: string): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const problems: string[] = [];
  const required: Array<[string, RegExp]> = [
    ['.env', /^\.env$/],
    ['node_modules', /^(\*\*\/)?node_modules\/?$/],
    ['dist', /^(\*\*\/)?dist\/?$/],
    ['models', /^\/?models\/?$/],
    ['.git', /^\/?\.git\/?$/],
  ];
  for (const [what, re] of required) if (!lines.some((l) => re.test(l))) problems.push(`.dockerignore does not exclude ${what}`);
  if (lines.some((l) => /^!\.env$/.test(l))) problems.push('.dockerignore re-includes .env');
  return problems;
}
