/**
 * Bearer-token authentication. The presented token is hashed and compared with
 * every configured token's hash using crypto.timingSafeEqual, with no early
 * exit, so timing reveals neither which token matched nor how much of it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenConfig } from '../config/schema.js';

export interface Caller {
  label: string;
  /** null = every target allowed. */
  allowed: ReadonlySet<string> | null;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

export type Authenticator = (authorization: string | undefined) => Caller | null;

export function createAuthenticator(tokens: readonly TokenConfig[], values: readonly string[]): Authenticator {
  const entries = tokens.map((t, i) => ({
    digest: sha256(values[i]!),
    caller: { label: t.caller, allowed: t.targets.length ? new Set(t.targets) : null } satisfies Caller,
  }));
  return (authorization) => {
    if (!authorization || authorization.length > 8192) return null;
    const m = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!m) return null;
    const presented = sha256(m[1]!);
    let found: Caller | null = null;
    for (const e of entries) {
      if (timingSafeEqual(e.digest, presented)) found = e.caller;
    }
    return found;
  };
}
