/**
 * The `api_keys` table of the usage database (docs/keys.md): reads and the
 * writes of the admin API and the CLI. Every write bumps the one-row
 * `api_keys_version` in its transaction and stamps the key with the new
 * version; the row lock makes writers queue, so versions become visible in
 * order and a replica that loads `version > what it holds` misses nothing.
 */
import type { Budget, BudgetPeriod } from '@sipp/shared';
import type { Queryable, UsageDatabase } from '../usage/database.js';

export interface KeyRow {
  id: string;
  name: string;
  caller: string;
  secretHash: string;
  prefix: string;
  targets: string[];
  rpm: number | null;
  tpm: number | null;
  budget: Budget | null;
  /** Epoch ms. */
  expiresAt: number | null;
  metadata: Record<string, unknown>;
  disabled: boolean;
  revokedAt: number | null;
  previousHash: string | null;
  previousValidUntil: number | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

const SELECT = `SELECT id, name, caller, secret_hash, prefix, targets, rpm, tpm, budget_usd, budget_tokens, budget_period,
  expires_at, metadata, disabled, revoked_at, previous_hash, previous_valid_until, created_at, updated_at,
  version::float8 AS version FROM api_keys`;

type DbRow = Record<string, unknown>;

const time = (v: unknown): number | null =>
  v === null || v === undefined ? null : v instanceof Date ? v.getTime() : Date.parse(String(v));
const json = <T>(v: unknown, fallback: T): T =>
  v === null || v === undefined ? fallback : typeof v === 'string' ? JSON.parse(v) : (v as T);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromDb(r: DbRow): KeyRow {
  const usd = num(r.budget_usd);
  const tokens = num(r.budget_tokens);
  const period = r.budget_period as BudgetPeriod | null;
  return {
    id: String(r.id),
    name: String(r.name),
    caller: String(r.caller),
    secretHash: String(r.secret_hash),
    prefix: String(r.prefix),
    targets: json<string[]>(r.targets, []),
    rpm: num(r.rpm),
    tpm: num(r.tpm),
    budget: period ? { ...(usd !== null ? { usd } : {}), ...(tokens !== null ? { tokens } : {}), period } : null,
    expiresAt: time(r.expires_at),
    metadata: json<Record<string, unknown>>(r.metadata, {}),
    disabled: r.disabled === true,
    revokedAt: time(r.revoked_at),
    previousHash: r.previous_hash === null || r.previous_hash === undefined ? null : String(r.previous_hash),
    previousValidUntil: time(r.previous_valid_until),
    createdAt: time(r.created_at)!,
    updatedAt: time(r.updated_at)!,
    version: Number(r.version),
  };
}

/** The newest change's version (0 before the first key). */
export async function keysVersion(q: Queryable): Promise<number> {
  const [r] = await q.query<{ v: number }>('SELECT version::float8 AS v FROM api_keys_version WHERE id = 1');
  return Number(r?.v ?? 0);
}

/** Keys changed after `version`, oldest change first. */
export async function keysSince(q: Queryable, version: number): Promise<KeyRow[]> {
  return (await q.query<DbRow>(`${SELECT} WHERE version > $1 ORDER BY version`, [version])).map(fromDb);
}

export async function allKeys(q: Queryable): Promise<KeyRow[]> {
  return (await q.query<DbRow>(`${SELECT} ORDER BY created_at, id`)).map(fromDb);
}

export async function getKey(q: Queryable, id: string): Promise<KeyRow | null> {
  const [r] = await q.query<DbRow>(`${SELECT} WHERE id = $1`, [id]);
  return r ? fromDb(r) : null;
}

/** Columns a write may set, with the SQL type of their parameter. */
export interface KeyColumns {
  name?: string;
  caller?: string;
  secret_hash?: string;
  prefix?: string;
  targets?: string[];
  rpm?: number | null;
  tpm?: number | null;
  budget_usd?: number | null;
  budget_tokens?: number | null;
  budget_period?: BudgetPeriod | null;
  expires_at?: number | null;
  metadata?: Record<string, unknown>;
  disabled?: boolean;
  revoked_at?: number | null;
  previous_hash?: string | null;
  previous_valid_until?: number | null;
}

const CASTS: Record<keyof KeyColumns, string> = {
  name: 'text',
  caller: 'text',
  secret_hash: 'text',
  prefix: 'text',
  targets: 'jsonb',
  rpm: 'int4',
  tpm: 'int8',
  budget_usd: 'float8',
  budget_tokens: 'float8',
  budget_period: 'text',
  expires_at: 'timestamptz',
  metadata: 'jsonb',
  disabled: 'bool',
  revoked_at: 'timestamptz',
  previous_hash: 'text',
  previous_valid_until: 'timestamptz',
};

function param(column: keyof KeyColumns, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (CASTS[column] === 'jsonb') return JSON.stringify(value);
  if (CASTS[column] === 'timestamptz') return new Date(value as number).toISOString();
  return value;
}

async function bump(tx: Queryable): Promise<number> {
  const [r] = await tx.query<{ v: number }>(
    'UPDATE api_keys_version SET version = version + 1 WHERE id = 1 RETURNING version::float8 AS v',
  );
  return Number(r!.v);
}

export async function insertKey(
  db: UsageDatabase,
  id: string,
  columns: Required<Pick<KeyColumns, 'name' | 'caller' | 'secret_hash' | 'prefix'>> & KeyColumns,
): Promise<KeyRow> {
  return db.transaction(async (tx) => {
    const version = await bump(tx);
    const cols = Object.keys(columns) as Array<keyof KeyColumns>;
    const values = cols.map((c) => param(c, columns[c]));
    const placeholders = cols.map((c, i) => `$${i + 3}::${CASTS[c]}`);
    const [r] = await tx.query<DbRow>(
      `INSERT INTO api_keys (id, version, ${cols.join(', ')}) VALUES ($1, $2, ${placeholders.join(', ')}) RETURNING id`,
      [id, version, ...values],
    );
    return (await getKey(tx, String(r!.id)))!;
  });
}

/**
 * Sets `columns` on key `id` (and `updated_at`) when `when(row)` holds for the
 * row as it is inside the transaction; returns the row before and after, or
 * null when there is no such key.
 */
export async function updateKey(
  db: UsageDatabase,
  id: string,
  columns: KeyColumns | ((before: KeyRow) => KeyColumns),
): Promise<{ before: KeyRow; after: KeyRow } | null> {
  return db.transaction(async (tx) => {
    const version = await bump(tx);
    const [locked] = await tx.query<DbRow>(`${SELECT} WHERE id = $1 FOR UPDATE`, [id]);
    if (!locked) return null;
    const before = fromDb(locked);
    const set = typeof columns === 'function' ? columns(before) : columns;
    const cols = Object.keys(set) as Array<keyof KeyColumns>;
    const assignments = cols.map((c, i) => `${c} = $${i + 3}::${CASTS[c]}`);
    await tx.query(`UPDATE api_keys SET ${[...assignments, 'version = $2', 'updated_at = now()'].join(', ')} WHERE id = $1`, [
      id,
      version,
      ...cols.map((c) => param(c, set[c])),
    ]);
    return { before, after: (await getKey(tx, id))! };
  });
}
