/**
 * Each replica's copy of the managed keys (docs/keys.md#replicas), looked up
 * by the SHA-256 of the presented secret on every public request: a map read,
 * never a database query. Filled from `api_keys` rows as they change.
 */
import { KEY_SECRET_PREFIX, type KeyLimits, type KeyStatus } from '@sipp/shared';
import type { Caller } from '../security/bearer.js';
import { hashSecret } from './secret.js';
import type { KeyRow } from './store.js';

/** Why a known key was refused (only in the log line; the client sees a plain 401). */
export type KeyRefusal = Exclude<KeyStatus, 'active'> | 'rotated';

export type KeyLookup = { caller: Caller; key: KeyRow } | { refused: KeyRefusal; key: KeyRow } | null;

export function statusOf(k: KeyRow, now: number): KeyStatus {
  if (k.revokedAt !== null) return 'revoked';
  if (k.disabled) return 'disabled';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  return 'active';
}

export function limitsOf(k: KeyRow): KeyLimits {
  return {
    ...(k.rpm !== null ? { rpm: k.rpm } : {}),
    ...(k.tpm !== null ? { tpm: k.tpm } : {}),
    ...(k.budget ? { budget: k.budget } : {}),
  };
}

/** Presented secrets whose SHA-256 is remembered (docs/keys.md#secrets): a map read instead of a hash per request. */
const HASH_MEMO_MAX = 1024;

export class KeyCache {
  /**
   * SHA-256 of recently presented secrets, so a busy key is hashed once, not on
   * every request. Bounded: cleared when full (unknown secrets sent in bulk
   * only cost their hash again). Held in memory only, like the request itself.
   */
  private readonly hashes = new Map<string, string>();
  private readonly byId = new Map<string, { row: KeyRow; caller: Caller }>();
  private readonly byHash = new Map<string, string>();
  private readonly byPrevious = new Map<string, string>();
  /** The newest change applied; -1 until the first load. */
  version = -1;

  get loaded(): boolean {
    return this.version >= 0;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Applies changed rows (any order of ids; each row replaces that key) and the version they bring the cache to. */
  apply(rows: readonly KeyRow[], version: number): void {
    for (const row of rows) {
      const old = this.byId.get(row.id);
      if (old && old.row.version > row.version) continue;
      if (old) {
        this.byHash.delete(old.row.secretHash);
        if (old.row.previousHash) this.byPrevious.delete(old.row.previousHash);
      }
      const caller: Caller = {
        label: row.caller,
        allowed: row.targets.length ? new Set(row.targets) : null,
        keyId: row.id,
        limits: limitsOf(row),
      };
      this.byId.set(row.id, { row, caller });
      this.byHash.set(row.secretHash, row.id);
      if (row.previousHash) this.byPrevious.set(row.previousHash, row.id);
    }
    this.version = Math.max(this.version, version, ...rows.map((r) => r.version));
  }

  /** The distinct callers of the keys not revoked (the dashboard's Callers view). */
  callers(): Set<string> {
    const out = new Set<string>();
    for (const { row } of this.byId.values()) if (row.revokedAt === null) out.add(row.caller);
    return out;
  }

  /** The key a presented secret belongs to, and whether it may authenticate at `now`. */
  lookup(presented: string, now: number): KeyLookup {
    if (!presented.startsWith(KEY_SECRET_PREFIX)) return null;
    let hash = this.hashes.get(presented);
    if (hash === undefined) {
      hash = hashSecret(presented);
      if (this.hashes.size >= HASH_MEMO_MAX) this.hashes.clear();
      this.hashes.set(presented, hash);
    }
    const current = this.byId.get(this.byHash.get(hash) ?? '');
    const entry = current ?? this.byId.get(this.byPrevious.get(hash) ?? '');
    if (!entry) return null;
    const { row, caller } = entry;
    const status = statusOf(row, now);
    if (status !== 'active') return { refused: status, key: row };
    if (!current && !(row.previousHash === hash && row.previousValidUntil !== null && now < row.previousValidUntil))
      return { refused: 'rotated', key: row };
    return { caller, key: row };
  }
}
