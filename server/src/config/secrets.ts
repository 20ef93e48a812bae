/**
 * Reads every secret the configuration names from the environment, once, at
 * `serve` start. Errors name the variable, never its value.
 */
import type { GatewayConfig } from './schema.js';
import { ConfigError } from '../errors.js';
import { MIN_SECRET_LENGTH } from './secret-policy.js';

export interface Secrets {
  adminPassword: string;
  /** The admin API's automation token (`[admin] api_token_env`), or null. */
  adminApiToken: string | null;
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
  /** Every problem, one sentence each, so one run reports them all (docs/configuration.md#secrets). */
  const problems: string[] = [];
  const reported = new Set<string>();
  const read = (name: string, what: string, check?: (value: string) => string | null): string => {
    const value = env[name];
    const problem =
      value === undefined
        ? 'is not set'
        : value.trim() === ''
          ? 'is blank'
          : PLACEHOLDER_SECRET.test(value.trim())
            ? 'still holds the placeholder value from .env.example; set a real secret'
            : value.length < MIN_SECRET_LENGTH
              ? `is shorter than ${MIN_SECRET_LENGTH} characters (use a random value, e.g. openssl rand -hex 32)`
              : (check?.(value) ?? null);
    if (problem !== null) {
      if (!reported.has(name)) problems.push(`environment variable ${name} (${what}) ${problem}`);
      reported.add(name);
      return '';
    }
    values.set(name, value!);
    return value!;
  };
  const adminPassword = read(config.admin_password_env, 'admin_password_env');
  const apiTokenEnv = config.admin?.api_token_env;
  const adminApiToken = apiTokenEnv
    ? read(apiTokenEnv, 'admin.api_token_env', (value) => (/\s/.test(value) ? 'contains whitespace; bearer tokens cannot' : null))
    : null;
  const tokens = config.tokens.map((t, i) =>
    read(t.env, `tokens[${i}].env`, (value) => (/\s/.test(value) ? 'contains whitespace; bearer tokens cannot' : null)),
  );
  config.targets.forEach((t, i) => {
    if (t.type === 'openai' || t.type === 'anthropic') read(t.api_key_env, `targets[${i}].api_key_env`);
    if (t.type === 'openai_compatible') read(t.token_env, `targets[${i}].token_env`);
  });
  if (config.database?.backend === 'postgres') {
    read(config.database.url_env!, 'database.url_env', (url) =>
      shortUrlPassword(url, ['postgres:', 'postgresql:'], 'PostgreSQL'),
    );
  }
  const redisProblem =
    config.state.backend === 'redis' ? shortUrlPassword(env[config.state.url_env], ['redis:', 'rediss:'], 'Redis') : null;
  if (redisProblem) problems.push(`environment variable ${config.state.url_env} (state.url_env) ${redisProblem}`);
  if (problems.length === 1) throw new ConfigError(problems[0]!);
  if (problems.length > 1)
    throw new ConfigError(`${problems.length} secrets cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const seen = new Map<string, number>();
  tokens.forEach((value, i) => {
    const other = seen.get(value);
    if (other !== undefined) {
      throw new ConfigError(
        `tokens[${i}] (${config.tokens[i]!.env}) has the same value as tokens[${other}] (${config.tokens[other]!.env}); callers must be distinguishable`,
      );
    }
    seen.set(value, i);
  });
  // The admin token must never open the public listener (docs/configuration.md#admin).
  const shared = adminApiToken ? seen.get(adminApiToken) : undefined;
  if (shared !== undefined)
    throw new ConfigError(
      `admin.api_token_env (${apiTokenEnv}) has the same value as tokens[${shared}] (${config.tokens[shared]!.env}); use a separate secret`,
    );
  return {
    adminPassword,
    adminApiToken,
    tokens,
    get(name) {
      const v = values.get(name);
      if (v === undefined) throw new Error(`secret ${name} was not read at start-up`);
      return v;
    },
    all: () => [...new Set(values.values())],
  };
}

/** A URL of one of `protocols` whose password is shorter than the minimum (other URL problems are reported where the URL is used). */
function shortUrlPassword(url: string | undefined, protocols: readonly string[], what: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    if (!protocols.includes(u.protocol)) return null;
    const password = decodeURIComponent(u.password);
    if (password && password.length < MIN_SECRET_LENGTH)
      return `holds a ${what} password shorter than ${MIN_SECRET_LENGTH} characters (use a random one, e.g. openssl rand -hex 32)`;
  } catch {
    return null;
  }
  return null;
}
