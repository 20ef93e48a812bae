/**
 * Bearer-token authentication. The presented token is hashed and compared with
 * every configured token's hash using crypto.timingSafeEqual, with no early
 * exit, so timing reveals neither which token matched nor how much of it.
 */
import { hash as oneShotHash, timingSafeEqual } from 'node:crypto';
import type { KeyLimits } from '@sipp/shared';
import type { TokenConfig } from '../config/schema.js';

export interface Caller {
  /** The caller (team or person) the token belongs to; callers group keys. */
  label: string;
  /** null = every target allowed. */
  allowed: ReadonlySet<string> | null;
  /** Id of the managed key (docs/keys.md); absent for a config token. */
  keyId?: string;
  /** The key's or config token's rpm / tpm / budget; absent = unlimited. */
  limits?: KeyLimits;
}

export type Digest = (value: string) => Buffer;
export type DigestEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => boolean;

/** Node's one-shot digest: no Hash object per request (a quarter less CPU than createHash().update().digest()). */
export const sha256: Digest = (value) => oneShotHash('sha256', value, 'buffer');

/**
 * The entry whose digest equals the digest of `presented`, or null. The
 * presented token is hashed (so its length never reaches the comparison: every
 * comparison is between two fixed-size digests) and compared with every entry,
 * with no early exit, so timing reveals neither which token matched nor how
 * much of one. Configured tokens are hashed once, up front, with the same
 * `hash`. The comparison is exact: byte for byte, case-sensitive.
 */
export function matchToken<T>(
  presented: string,
  entries: ReadonlyArray<{ digest: Buffer; value: T }>,
  hash: Digest = sha256,
  equal: DigestEqual = timingSafeEqual,
): T | null {
  const digest = hash(presented);
  let found: T | null = null;
  for (const e of entries) {
    if (equal(e.digest, digest)) found = e.value;
  }
  return found;
}

export type Authenticator = (authorization: string | undefined) => Caller | null;

export function createAuthenticator(
  tokens: readonly TokenConfig[],
  values: readonly string[],
  hash: Digest = sha256,
  equal: DigestEqual = timingSafeEqual,
): Authenticator {
  const entries = tokens.map((t, i) => ({
    digest: hash(values[i]!),
    value: { label: t.caller, allowed: t.targets.length ? new Set(t.targets) : null, ...tokenLimits(t) } satisfies Caller,
  }));
  return (authorization) => {
    if (!authorization || authorization.length > 8192) return null;
    const m = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!m) return null;
    return matchToken(m[1]!, entries, hash, equal);
  };
}

/** A config token's `rpm` / `tpm` / `budget` as the caller's limits (docs/budgets.md); none: no `limits`. */
function tokenLimits(t: TokenConfig): { limits?: KeyLimits } {
  const limits: KeyLimits = {};
  if (t.rpm !== undefined) limits.rpm = t.rpm;
  if (t.tpm !== undefined) limits.tpm = t.tpm;
  if (t.budget !== undefined) limits.budget = t.budget;
  return Object.keys(limits).length ? { limits } : {};
}
