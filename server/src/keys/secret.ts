/**
 * Managed key secrets (docs/keys.md#secrets): `sk-sipp-` + 40 base62
 * characters from the CSPRNG (about 238 bits), shown once; the database keeps
 * only their SHA-256 and a short display prefix. A plain hash is enough: the
 * secrets are long random strings, not passwords a dictionary could guess.
 */
import { createHash, randomBytes } from 'node:crypto';
import { KEY_SECRET_PREFIX } from '@sipp/shared';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SECRET_RANDOM_CHARS = 40;
/** Characters of the random part kept in the display prefix. */
const PREFIX_RANDOM_CHARS = 4;

/** `n` base62 characters, uniform: bytes ≥ 248 (4 × 62) are rejected rather than folded. */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248) out += BASE62[b % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

export function generateSecret(): string {
  return `${KEY_SECRET_PREFIX}${randomBase62(SECRET_RANDOM_CHARS)}`;
}

/** Hex SHA-256 of a presented or new secret. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function displayPrefix(secret: string): string {
  return secret.slice(0, KEY_SECRET_PREFIX.length + PREFIX_RANDOM_CHARS);
}

export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}
