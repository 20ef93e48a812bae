/**
 * Stored responses (`store: true`, the default) for `previous_response_id`
 * chaining and `GET` / `DELETE /v1/responses/{id}` / `input_items`
 * (docs/api.md#responses, docs/configuration.md#responses).
 *
 * Kept in the `[state]` store: this replica's memory (bounded by
 * `[responses] max_stored`, oldest first out) or Redis, so a chain continues
 * on any replica. Every entry expires after `store_ttl_seconds`. Entries are
 * keyed by the owner — a hash of the caller identity, never the token — and
 * the id, so another caller's lookup misses (404) exactly like an unknown id.
 * For a response a native Responses target made, the provider keeps it and
 * this store keeps only the claim: which target made it, for which owner.
 */
import { createHash } from 'node:crypto';
import type { StoredItem } from './items.js';

export interface StoredResponse {
  /** The Response object as it was returned. */
  response: Record<string, unknown>;
  /** The items the model saw as input: the chain's items, then this request's input. */
  input: StoredItem[];
}

/** What the store needs of the `[state]` key-value store (state/shared-kv.ts, passed in by gateway.ts). */
export interface ResponseKv {
  get(key: string): Promise<string | null>;
  /** Sets with a time to live in ms. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
}

export interface ResponseStore {
  get(owner: string, id: string): Promise<StoredResponse | null>;
  put(owner: string, id: string, value: StoredResponse): Promise<void>;
  /** put() of a StoredResponse already written as JSON text (exactly JSON.stringify of it). */
  putText(owner: string, id: string, text: string): Promise<void>;
  /** True when there was such a response (for this owner). */
  delete(owner: string, id: string): Promise<boolean>;
  /**
   * A response a native Responses target created (docs/api.md#native-responses-targets):
   * the provider keeps it; the gateway keeps only which target made it, for this owner,
   * under the same bounds and time to live.
   */
  claim(owner: string, id: string, claim: NativeClaim): Promise<void>;
  /** The claim of this owner on a provider-kept response, or null (unknown, expired, another owner's). */
  claimOf(owner: string, id: string): Promise<NativeClaim | null>;
  unclaim(owner: string, id: string): Promise<void>;
}

/** Which native Responses target created a provider-kept response. */
export interface NativeClaim {
  target: string;
  /** The name the client asked for (a retrieved response's `model`). */
  model: string;
}

/** Owner keys already computed, by caller label (the labels are the configured tokens and managed keys: few). */
const owners = new Map<string, string>();
const MAX_OWNERS = 10_000;

/** The owner key of a caller: a hash of its identity (the caller label), never the secret. */
export function ownerOf(callerLabel: string): string {
  let owner = owners.get(callerLabel);
  if (owner === undefined) {
    owner = createHash('sha256').update(`sipp-responses-owner\0${callerLabel}`).digest('hex').slice(0, 32);
    if (owners.size >= MAX_OWNERS) owners.clear();
    owners.set(callerLabel, owner);
  }
  return owner;
}

export interface ResponseStoreOptions {
  ttlMs: number;
  /** Most entries this replica keeps in memory. */
  maxStored: number;
  /** Most bytes (of stored JSON text) this replica keeps in memory; the oldest entries go first. */
  maxStoredBytes?: number;
  /** Redis (shared by the fleet) when `[state] backend = "redis"`. */
  kv: ResponseKv | null;
  now?: () => number;
}

export function createResponseStore(o: ResponseStoreOptions): ResponseStore {
  return o.kv ? redisStore(o.kv, o.ttlMs) : memoryStore(o.ttlMs, o.maxStored, o.maxStoredBytes ?? Infinity, o.now ?? Date.now);
}

const key = (owner: string, id: string): string => `responses:${owner}:${id}`;
const claimKey = (owner: string, id: string): string => `responses-native:${owner}:${id}`;

/** The claim methods over a store's own text get / set / delete. */
function claims(
  get: (k: string) => Promise<string | null>,
  set: (k: string, v: string) => Promise<void>,
  del: (k: string) => Promise<void>,
): Pick<ResponseStore, 'claim' | 'claimOf' | 'unclaim'> {
  return {
    claim: (owner, id, c) => set(claimKey(owner, id), JSON.stringify({ target: c.target, model: c.model })),
    async claimOf(owner, id) {
      const v = await get(claimKey(owner, id));
      return v === null ? null : (JSON.parse(v) as NativeClaim);
    },
    unclaim: (owner, id) => del(claimKey(owner, id)),
  };
}

/** An entry's bytes: its expiry (ms since the epoch, float64 LE), then its text as UTF-8. */
const HEADER_BYTES = 8;

function memoryStore(ttlMs: number, max: number, maxBytes: number, now: () => number): ResponseStore {
  // Insertion order is age order: a put moves the key to the end. Expiry is read lazily, no timer.
  // Each entry is a Buffer of its own, outside the JS heap (docs/architecture.md#cost-per-request):
  // the collector traces its key and one typed array, not the text, an object and a number. Not
  // a slice of a shared slab: an entry kept while its neighbours were deleted would hold the slab.
  const entries = new Map<string, Buffer>();
  /** UTF-8 bytes of the stored texts (the bound of max_stored_mb), without the expiry headers. */
  let bytes = 0;
  const drop = (k: string): void => {
    const e = entries.get(k);
    if (!e) return;
    bytes -= e.length - HEADER_BYTES;
    entries.delete(k);
  };
  /** The entry while it has not expired (an expired one is dropped when found). */
  const found = (k: string): Buffer | null => {
    const e = entries.get(k);
    if (!e) return null;
    if (e.readDoubleLE(0) <= now()) {
      bytes -= e.length - HEADER_BYTES;
      entries.delete(k);
      return null;
    }
    return e;
  };
  const live = (k: string): string | null => found(k)?.toString('utf8', HEADER_BYTES) ?? null;
  // The oldest entry, read from one iterator kept across puts. A fresh `entries()` per
  // eviction walks past every entry deleted since the Map last compacted its table, thousands
  // at max_stored = 10,000 (~6 µs a put); the kept iterator passes each entry once. A Map's
  // iterator skips deleted entries and reaches entries set after it was made, and every entry it
  // has passed was evicted, so its next entry is the oldest one left.
  let cursor = entries.entries();
  const evictOldest = (): void => {
    let r = cursor.next();
    if (r.done) {
      cursor = entries.entries();
      r = cursor.next();
    }
    const [k, e] = r.value!;
    bytes -= e.length - HEADER_BYTES;
    entries.delete(k);
  };
  const set = (k: string, text: string): void => {
    drop(k);
    const size = Buffer.byteLength(text);
    const e = Buffer.allocUnsafeSlow(HEADER_BYTES + size);
    e.writeDoubleLE(now() + ttlMs, 0);
    e.write(text, HEADER_BYTES);
    entries.set(k, e);
    bytes += size;
    while (entries.size > max || (bytes > maxBytes && entries.size > 0)) evictOldest();
  };
  return {
    async get(owner, id) {
      const v = live(key(owner, id));
      return v === null ? null : (JSON.parse(v) as StoredResponse);
    },
    async put(owner, id, value) {
      // Stored as JSON text: a later change to the caller's objects cannot alter it.
      set(key(owner, id), JSON.stringify(value));
    },
    async putText(owner, id, text) {
      set(key(owner, id), text);
    },
    async delete(owner, id) {
      const k = key(owner, id);
      const had = found(k) !== null;
      drop(k);
      return had;
    },
    ...claims(
      async (k) => live(k),
      async (k, v) => set(k, v),
      async (k) => drop(k),
    ),
  };
}

function redisStore(kv: ResponseKv, ttlMs: number): ResponseStore {
  return {
    async get(owner, id) {
      const v = await kv.get(key(owner, id));
      return v === null ? null : (JSON.parse(v) as StoredResponse);
    },
    async put(owner, id, value) {
      await kv.set(key(owner, id), JSON.stringify(value), ttlMs);
    },
    async putText(owner, id, text) {
      await kv.set(key(owner, id), text, ttlMs);
    },
    async delete(owner, id) {
      const k = key(owner, id);
      const had = (await kv.get(k)) !== null;
      if (had) await kv.del(k);
      return had;
    },
    ...claims(
      (k) => kv.get(k),
      (k, v) => kv.set(k, v, ttlMs),
      (k) => kv.del(k),
    ),
  };
}
