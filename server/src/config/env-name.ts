/**
 * An `*_env` field: the NAME of an environment variable that holds a secret
 * (docs/configuration.md#secrets). A random-looking string here is a secret
 * pasted where its name belongs: refused, and never echoed.
 */
import { z } from 'zod';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A random-looking string (hex, or mixed-case letters and digits without `_`):
 * a secret pasted where its variable's NAME belongs (docs/configuration.md#secrets).
 */
function looksLikeSecretValue(s: string): boolean {
  if (/^[0-9a-f]{16,}$/i.test(s) && /[0-9]/.test(s) && /[a-f]/i.test(s)) return true;
  return s.length >= 24 && !s.includes('_') && /[0-9]/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s);
}

export const envName = z
  .string()
  .regex(ENV_NAME, 'must be an environment variable name (a letter or _, then letters, digits or _)')
  .refine(
    (s) => !looksLikeSecretValue(s),
    'looks like a secret value, not an environment variable name: put the secret in the environment and name its variable here',
  );
