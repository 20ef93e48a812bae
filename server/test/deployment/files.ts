/**
 * Reading the repository's deployment files for the deployment tests: where
 * they are, the example configs, `.env.example`, and running the built CLI
 * the way the container image does.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfigText } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { CLI, NODE_ARGS, REPO_ROOT } from '../support/paths.js';

const execFileAsync = promisify(execFile);

export { CLI, REPO_ROOT };

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export function readRepoFile(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

/** Every shipped example config, as repo-relative paths (config/*.toml). */
export function exampleConfigs(): string[] {
  return readdirSync(repoPath('config'))
    .filter((f) => f.endsWith('.toml'))
    .sort()
    .map((f) => `config/${f}`);
}

export function loadExampleConfig(relPath: string): GatewayConfig {
  return parseConfigText(readRepoFile(relPath));
}

/** Every environment variable a configuration names (all of them hold secrets). */
export function secretEnvNames(config: GatewayConfig): string[] {
  const names = new Set<string>([config.admin_password_env]);
  if (config.admin?.api_token_env) names.add(config.admin.api_token_env);
  for (const t of config.tokens) names.add(t.env);
  for (const t of config.targets) {
    if (t.type === 'openai' || t.type === 'anthropic') names.add(t.api_key_env);
    if (t.type === 'openai_compatible') names.add(t.token_env);
  }
  return [...names];
}

/**
 * Parses dotenv text (KEY=value lines, # comments, blank lines) strictly:
 * anything else is reported, so a malformed .env.example fails loudly.
 */
export function parseDotenv(text: string): { vars: Map<string, string>; problems: string[] } {
  const vars = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      problems.push(`line ${i + 1} is not KEY=value`);
      return;
    }
    if (vars.has(m[1]!)) problems.push(`line ${i + 1}: ${m[1]} is listed twice`);
    vars.set(m[1]!, m[2]!);
  });
  return { vars, problems };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion (for `check`). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [...NODE_ARGS, CLI, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 120_000, // against a hang only: a loaded machine starts node slowly
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Whether an executable is on PATH (for optional tools such as docker-compose and nginx). */
export async function which(command: string): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync('sh', ['-c', `command -v ${command}`]);
    return stdout.trim() || null;
  } catch {
    return null;
  }
}
