/**
 * `GET config`: the effective configuration with every secret removed, built
 * by walking the parsed config generically so settings added later show up
 * too. Rules: keys ending in `_env` (and `env`) hold environment variable
 * NAMES and are kept; keys that look like secrets (password, secret, token,
 * key, credential, authorization) lose their value; any string that parses as
 * a URL loses its user info (redis://:pw@host → redis://host); the admin
 * password value is never read here at all.
 */
import type { ConfigResponse, ConfigValue } from '@sipp/shared';
import type { AdminDeps } from './deps.js';

export const REDACTED = '[redacted]';
const SECRET_KEY = /(pass(word)?|secret|token|api_?key|(^|_)key$|credential|authorization|cookie)/i;
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
  if (!isEnvName(key) && key !== '' && SECRET_KEY.test(key) && typeof value !== 'object') return REDACTED;
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
