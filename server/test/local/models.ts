/**
 * Model files for local-target tests: the project's generated demo model
 * (written on first use) and, when present, the small real models in
 * ../shared/models/ (tests using them skip with a message when it is absent).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

export { REPO_ROOT };

let generated = false;

/**
 * Path of the generated demo model. (Re)writes it once per test process so a
 * file left by an older generator never goes stale; the output is
 * deterministic and replaced atomically, so concurrent processes are safe.
 */
export function ensureDemoModel(): string {
  const path = resolve(REPO_ROOT, 'models/demo.gguf');
  if (!generated) {
    execFileSync(process.execPath, [resolve(REPO_ROOT, 'scripts/generate-demo-model.mjs'), path], { stdio: 'ignore' });
    generated = true;
  }
  return path;
}

/** Points the real-model tests at another folder (the skip-reporting test uses a missing one). */
export const SHARED_MODELS_ENV = 'SIPP_TEST_SHARED_MODELS_DIR';

export const SHARED_MODELS_DIR = process.env[SHARED_MODELS_ENV] || resolve(REPO_ROOT, '../shared/models');

/** Path of a model from ../shared/models/, or a skip message when it is absent. */
export function sharedModel(file: string): { path: string; skip: false } | { path: null; skip: string } {
  const path = resolve(SHARED_MODELS_DIR, file);
  if (existsSync(path)) return { path, skip: false };
  return { path: null, skip: `${file} not found in ${SHARED_MODELS_DIR} (optional real-model tests)` };
}

/** Escapes a path for a TOML basic string. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * The generated demo model as a `[[targets]]` entry: target `name` (default
 * "demo"), `keys` (more target keys, e.g. `stats = "profile"`) and its
 * `[targets.runtime]` table. The runtime is the caller's to spell out: the
 * tests' assertions depend on it (sequences, queue, context, output limit).
 */
export function demoTargetToml(
  runtime: Readonly<Record<string, number>>,
  options: { name?: string; keys?: string } = {},
): string {
  const lines = Object.entries(runtime).map(([k, v]) => `${k} = ${v}`);
  return `[[targets]]
name = "${options.name ?? 'demo'}"
type = "local"
model = ${tomlString(ensureDemoModel())}
${options.keys ? `${options.keys}\n` : ''}[targets.runtime]
${lines.join('\n')}
`;
}
