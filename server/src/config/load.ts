import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigSchema, type GatewayConfig } from './schema.js';
import { describeConfigIssue, friendlyDefaultMessage } from './issues.js';
import { ConfigError } from '../errors.js';

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { ConfigError };

/**
 * Environment variables that replace a bind address of the file (so the demo,
 * or any config, can move off ports that are already taken). Applied before
 * validation, so a bad value is reported like a bad key, naming the variable.
 */
export const BIND_OVERRIDE_ENV = {
  public_bind: 'SIPP_GATEWAY_PUBLIC_BIND',
  management_bind: 'SIPP_GATEWAY_MANAGEMENT_BIND',
} as const;

export type ConfigOverrides = Partial<Record<keyof typeof BIND_OVERRIDE_ENV, string>>;

/** The bind overrides set (non-empty) in `env`. */
export function bindOverridesFromEnv(env: NodeJS.ProcessEnv): ConfigOverrides {
  const out: ConfigOverrides = {};
  for (const [key, name] of Object.entries(BIND_OVERRIDE_ENV) as Array<[keyof ConfigOverrides, string]>) {
    const value = env[name]?.trim();
    if (value) out[key] = value;
  }
  return out;
}

/**
 * Validates an already-parsed TOML document (with `overrides` applied on top).
 * Throws ConfigError with one sentence about the first problem, naming its key.
 */
export function validateConfig(doc: unknown, overrides: ConfigOverrides = {}): GatewayConfig {
  const effective = applyOverrides(doc, overrides);
  const result = ConfigSchema.safeParse(effective, { reportInput: true, error: friendlyDefaultMessage });
  if (!result.success) {
    const first = result.error.issues[0]!;
    const overridden = Object.entries(overrides).find(([key]) => first.path.length === 1 && first.path[0] === key);
    const message = describeConfigIssue(first, effective);
    if (overridden) {
      const name = BIND_OVERRIDE_ENV[overridden[0] as keyof ConfigOverrides];
      throw new ConfigError(`${message} (the value comes from the environment variable ${name})`);
    }
    throw new ConfigError(message);
  }
  return result.data;
}

function applyOverrides(doc: unknown, overrides: ConfigOverrides): unknown {
  if (Object.keys(overrides).length === 0 || typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  return { ...doc, ...overrides };
}

export function parseConfigText(text: string, overrides: ConfigOverrides = {}): GatewayConfig {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      // smol-toml's message quotes the offending source line; keep only the position
      // so a mistyped secret pasted into the TOML is not echoed back.
      throw new ConfigError(`invalid TOML at line ${err.line}, column ${err.column}`);
    }
    throw new ConfigError('invalid TOML');
  }
  return validateConfig(doc, overrides);
}

export async function loadConfigFile(path: string, overrides: ConfigOverrides = {}): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read config file ${path} (${code})`);
  }
  return parseConfigText(text, overrides);
}
