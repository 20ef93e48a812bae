/**
 * `GET config`: the effective configuration with every secret removed, built
 * by walking the parsed config generically so settings added later show up
 * too. Rules: keys ending in `_env` (and `env`) hold environment variable
 * NAMES and are kept; keys that name a secret lose their value (by their words,
 * so `refresh_token` and `apiKey` are secrets but `default_max_tokens`, a count,
 * and `key_prefix` are not: docs/dashboard.md#sanitized-configuration); any string that parses as
 * a URL loses its user info (redis://:pw@host → redis://host); the admin
 * password value is never read here at all.
 */
import type { ConfigResponse, ConfigValue } from '@sipp/shared';
import type { AdminDeps } from './deps.js';

export const REDACTED = '[redacted]';
/** A key is a secret when one of its words is one of these… */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'secrets',
  'token',
  'apikey',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'cookies',
]);
/** …or its last word is one of these (`db_pass`, `private_key`; but `key_prefix` is not). */
const SECRET_LAST_WORDS = new Set(['pass', 'key']);

/** The words of a key: `refresh_token` → [refresh, token], `apiKey` → [api, key], `api-key` → [api, key]. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  if (words.length === 0) return false;
  return words.some((w) => SECRET_WORDS.has(w)) || SECRET_LAST_WORDS.has(words.at(-1)!);
}
const isEnvName = (key: string) => key === 'env' || key.endsWith('_env');

function stripUserInfo(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const u = new URL(value);
    if (!u.username && !u.password) return value;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return value;
  }
}

/** A JSON-safe, secret-free copy of `value`. */
export function sanitize(value: unknown, key = ''): ConfigValue {
  if (value === null || value === undefined) return null;
  if (!isEnvName(key) && key !== '' && isSecretKey(key) && typeof value !== 'object') return REDACTED;
  if (typeof value === 'string') return stripUserInfo(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => sanitize(v, key === 'tokens' ? '' : key));
  if (typeof value === 'object') {
    const out: { [k: string]: ConfigValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v === 'function') continue;
      out[k] = sanitize(v, k);
    }
    return out;
  }
  return null;
}

export function configView(deps: Pick<AdminDeps, 'version' | 'config'>): ConfigResponse {
  return {
    version: deps.version,
    metricsPath: deps.config.routes.metrics,
    config: sanitize(deps.config) as { [key: string]: ConfigValue },
  };
}
