/**
 * Creating, listing, changing, revoking and rotating managed keys
 * (docs/keys.md): the operations behind the admin API and `sipp-gateway keys`.
 * Bodies are validated with the shared schemas (a 400 naming the field); a
 * new secret is returned to the caller once and never stored, logged or
 * shown again.
 */
import {
  KeyCreateSchema,
  KeyRotateSchema,
  KeyUpdateSchema,
  type KeySecretResponse,
  type KeySpend,
  type ManagedKey,
} from '@sipp/shared';
import { AdminError } from '../errors.js';
import { fieldError } from '../field-error.js';
import type { UsageDatabase } from '../usage/database.js';
import { limitsOf, statusOf } from './cache.js';
import { displayPrefix, generateSecret, hashSecret, newKeyId } from './secret.js';
import { periodStart, spendByKey, type SpendTotals } from './spend.js';
import { allKeys, getKey, insertKey, updateKey, type KeyColumns, type KeyRow } from './store.js';

export interface KeyManagerDeps {
  database(): Promise<UsageDatabase>;
  /** The target and group names a key may be limited to. */
  names: ReadonlySet<string>;
  clock?: () => number;
  /** Runs after each committed change (the local cache applies it at once). */
  changed?(): Promise<void>;
  /**
   * What a failure to reach the database becomes. Default: a 503
   * `unavailable` admin error that names no cause (a cause may hold a
   * connection detail). The CLI prints the cause instead.
   */
  unavailable?(err: Error): Error;
}

/** Errors that say the database could not be reached (not a mistake in a query). */
function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  return (
    /^(08|57P)/.test(code) ||
    /^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NOTFOUND)$/.test(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(String(e?.message ?? ''))
  );
}

export interface KeyChange {
  before: ManagedKey | null;
  after: ManagedKey;
}

const KEY_ID = /^key_[A-Za-z0-9]{16}$/;

function spendOf(row: KeyRow, totals: SpendTotals | undefined, now: number): KeySpend {
  const period = row.budget?.period ?? 'month';
  const from = periodStart(period, now);
  const t = totals ?? { usd: 0, tokens: 0, requests: 0 };
  const shares = [
    row.budget?.usd ? t.usd / row.budget.usd : null,
    row.budget?.tokens ? t.tokens / row.budget.tokens : null,
  ].filter((s): s is number => s !== null);
  return {
    period,
    from: from === null ? null : new Date(from).toISOString(),
    usd: t.usd,
    tokens: t.tokens,
    requests: t.requests,
    budget_used_pct: shares.length ? Math.round(Math.max(...shares) * 10_000) / 100 : null,
  };
}

/** A key as the admin API shows it: never the secret or its hash. */
export function keyView(row: KeyRow, now: number, spend: KeySpend | null = null): ManagedKey {
  const limits = limitsOf(row);
  return {
    id: row.id,
    name: row.name,
    caller: row.caller,
    prefix: row.prefix,
    targets: row.targets,
    rpm: limits.rpm ?? null,
    tpm: limits.tpm ?? null,
    budget: limits.budget ?? null,
    expires_at: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
    metadata: row.metadata,
    disabled: row.disabled,
    revoked_at: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
    previous_valid_until:
      row.previousHash && row.previousValidUntil !== null && row.previousValidUntil > now
        ? new Date(row.previousValidUntil).toISOString()
        : null,
    status: statusOf(row, now),
    spend,
    // Filled in by the admin API, which has the running gateway's budget ledger (admin/keys.ts).
    reserved: null,
  };
}

export type KeyManager = ReturnType<typeof createKeyManager>;

export function createKeyManager(deps: KeyManagerDeps) {
  const now = deps.clock ?? Date.now;
  const unavailable =
    deps.unavailable ??
    (() => new AdminError('unavailable', 'the usage database is unreachable; keys cannot be changed until it answers'));
  const db = async (): Promise<UsageDatabase> => {
    try {
      return await deps.database();
    } catch (err) {
      throw unavailable(err as Error);
    }
  };
  /** Runs one operation; an outage in the middle is the same answer as one before it. */
  const op = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw unreachable(err) ? unavailable(err as Error) : err;
    }
  };
  const checkTargets = (targets: readonly string[] | undefined) => {
    targets?.forEach((t, i) => {
      if (!deps.names.has(t))
        throw new AdminError('invalid_request', `targets.${i}: unknown target "${t}" (no target or group has this name)`);
    });
  };
  const find = async (d: UsageDatabase, id: string): Promise<KeyRow> => {
    const row = KEY_ID.test(id) ? await getKey(d, id) : null;
    if (!row) throw new AdminError('not_found', 'id: no such key');
    return row;
  };
  const withSpend = async (d: UsageDatabase, rows: KeyRow[]): Promise<ManagedKey[]> => {
    const t = now();
    const byPeriod = new Map<number | null, string[]>();
    for (const r of rows) {
      const from = periodStart(r.budget?.period ?? 'month', t);
      byPeriod.set(from, [...(byPeriod.get(from) ?? []), r.id]);
    }
    const totals = new Map<string, SpendTotals>();
    try {
      for (const [from, ids] of byPeriod) for (const [id, s] of await spendByKey(d, ids, from)) totals.set(id, s);
    } catch {
      return rows.map((r) => keyView(r, t, null));
    }
    return rows.map((r) => keyView(r, t, spendOf(r, totals.get(r.id), t)));
  };
  const changed = async () => {
    await deps.changed?.();
  };
  const mutable = (row: KeyRow) => {
    if (row.revokedAt !== null) throw new AdminError('invalid_request', 'id: this key is revoked; create a new one');
  };

  return {
    list(): Promise<ManagedKey[]> {
      return op(async () => {
        const d = await db();
        return withSpend(d, await allKeys(d));
      });
    },

    get(id: string): Promise<ManagedKey> {
      return op(async () => {
        const d = await db();
        return (await withSpend(d, [await find(d, id)]))[0]!;
      });
    },

    create(body: unknown): Promise<KeySecretResponse> {
      return op(async () => {
        const parsed = KeyCreateSchema.safeParse(body);
        if (!parsed.success) throw fieldError(parsed.error, body);
        const b = parsed.data;
        checkTargets(b.targets);
        const expiresAt = b.expires_at === undefined ? null : Date.parse(b.expires_at);
        if (expiresAt !== null && expiresAt <= now())
          throw new AdminError('invalid_request', 'expires_at: must be in the future');
        const d = await db();
        const secret = generateSecret();
        const row = await insertKey(d, newKeyId(), {
          name: b.name,
          caller: b.caller,
          secret_hash: hashSecret(secret),
          prefix: displayPrefix(secret),
          targets: b.targets ?? [],
          rpm: b.rpm ?? null,
          tpm: b.tpm ?? null,
          budget_usd: b.budget?.usd ?? null,
          budget_tokens: b.budget?.tokens ?? null,
          budget_period: b.budget?.period ?? null,
          expires_at: expiresAt,
          metadata: b.metadata ?? {},
        });
        await changed();
        return { key: (await withSpend(d, [row]))[0]!, secret };
      });
    },

    update(id: string, body: unknown): Promise<KeyChange> {
      return op(async () => {
        const parsed = KeyUpdateSchema.safeParse(body);
        if (!parsed.success) throw fieldError(parsed.error, body);
        const b = parsed.data;
        checkTargets(b.targets);
        const set: KeyColumns = {};
        if (b.name !== undefined) set.name = b.name;
        if (b.disabled !== undefined) set.disabled = b.disabled;
        if (b.targets !== undefined) set.targets = b.targets;
        if (b.rpm !== undefined) set.rpm = b.rpm;
        if (b.tpm !== undefined) set.tpm = b.tpm;
        if (b.budget !== undefined) {
          set.budget_usd = b.budget?.usd ?? null;
          set.budget_tokens = b.budget?.tokens ?? null;
          set.budget_period = b.budget?.period ?? null;
        }
        if (b.expires_at !== undefined) set.expires_at = b.expires_at === null ? null : Date.parse(b.expires_at);
        if (b.metadata !== undefined) set.metadata = b.metadata;
        const d = await db();
        await find(d, id);
        const r = await updateKey(d, id, (before) => {
          mutable(before);
          return set;
        });
        if (!r) throw new AdminError('not_found', 'id: no such key');
        await changed();
        const t = now();
        return { before: keyView(r.before, t), after: (await withSpend(d, [r.after]))[0]! };
      });
    },

    /** Revokes for good (revoking a revoked key changes nothing: `before` is null then). */
    revoke(id: string): Promise<KeyChange> {
      return op(async () => {
        const d = await db();
        const row = await find(d, id);
        const t = now();
        if (row.revokedAt !== null) return { before: null, after: (await withSpend(d, [row]))[0]! };
        const r = await updateKey(d, id, (before) =>
          before.revokedAt !== null ? {} : { revoked_at: t, previous_hash: null, previous_valid_until: null },
        );
        if (!r) throw new AdminError('not_found', 'id: no such key');
        await changed();
        return { before: keyView(r.before, t), after: (await withSpend(d, [r.after]))[0]! };
      });
    },

    /** A new secret; the old one keeps working for `grace_seconds` (default 0). */
    rotate(id: string, body: unknown): Promise<KeySecretResponse & { before: ManagedKey }> {
      return op(async () => {
        const parsed = KeyRotateSchema.safeParse(body ?? {});
        if (!parsed.success) throw fieldError(parsed.error, body ?? {});
        const grace = parsed.data.grace_seconds ?? 0;
        const d = await db();
        await find(d, id);
        const secret = generateSecret();
        const t = now();
        const r = await updateKey(d, id, (before) => {
          mutable(before);
          return {
            secret_hash: hashSecret(secret),
            prefix: displayPrefix(secret),
            previous_hash: grace > 0 ? before.secretHash : null,
            previous_valid_until: grace > 0 ? t + grace * 1000 : null,
          };
        });
        if (!r) throw new AdminError('not_found', 'id: no such key');
        await changed();
        return { before: keyView(r.before, t), key: (await withSpend(d, [r.after]))[0]!, secret };
      });
    },
  };
}
