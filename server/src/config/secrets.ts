/**
 * Reads every secret the configuration names from the environment, once, at
 * `serve` start. Errors name the variable, never its value.
 */
import type { GatewayConfig } from './schema.js';
import { ConfigError } from '../errors.js';

export interface Secrets {
  adminPassword: string;
  /** Bearer token values, index-aligned with config.tokens. */
  tokens: string[];
  /** Provider credentials by env var name. */
  get(envName: string): string;
  /** Every secret value, for redaction and leak checks. */
  all(): string[];
}

/**
 * The placeholder values of `.env.example` ("replace-with-admin-password", …).
 * A secret that still holds one was copied without being filled in.
 */
export const PLACEHOLDER_SECRET = /^replace-with-/i;

export function readSecrets(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): Secrets {
  const values = new Map<string, string>();
  const read = (name: string, what: string): string => {
    const value = env[name];
    if (value === undefined) throw new ConfigError(`environment variable ${name} (${what}) is not set`);
    if (value.trim() === '') throw new ConfigError(`environment variable ${name} (${what}) is blank`);
    if (PLACEHOLDER_SECRET.test(value.trim())) {
      throw new ConfigError(`environment variable ${name} (${what}) still holds the placeholder value from .env.example; set a real secret`);
    }
    values.set(name, value);
    return value;
  };
  const adminPassword = read(config.admin_password_env, 'admin_password_env');
  const tokens = config.tokens.map((t, i) => {
    const value = read(t.env, `tokens[${i}].env`);
    if (/\s/.test(value)) throw new ConfigError(`environment variable ${t.env} (tokens[${i}].env) contains whitespace; bearer tokens cannot`);
    return value;
  });
  const seen = new Map<string, number>();
  tokens.forEach((value, i) => {
    const other = seen.get(value);
    if (other !== undefined) {
      throw new ConfigError(`tokens[${i}] (${config.tokens[i]!.env}) has the same value as tokens[${other}] (${config.tokens[other]!.env}); callers must be distinguishable`);
    }
    seen.set(value, i);
  });
  config.targets.forEach((t, i) => {
    if (t.type === 'openai' || t.type === 'anthropic') read(t.api_key_env, `targets[${i}].api_key_env`);
    if (t.type === 'openai_compatible') read(t.token_env, `targets[${i}].token_env`);
  });
  if (config.database?.backend === 'postgres') read(config.database.url_env!, 'database.url_env');
  return {
    adminPassword,
    tokens,
    get(name) {
      const v = values.get(name);
      if (v === undefined) throw new Error(`secret ${name} was not read at start-up`);
      return v;
    },
    all: () => [...new Set(values.values())],
  };
}
