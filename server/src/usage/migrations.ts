/**
 * Versioned schema migrations of the usage database (docs/usage.md#schema),
 * applied in order at start and by `sipp-gateway db migrate`. Each runs in its
 * own transaction and is recorded in `sipp_schema_migrations`; a Postgres
 * advisory lock keeps replicas that start together from applying one twice.
 * Never edit a released migration: add the next one.
 */
import type { UsageDatabase } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'usage rows and rollups',
    sql: `
CREATE TABLE usage_rows (
  id bigserial PRIMARY KEY,
  -- Made when the row is queued: a row replayed from the spool after a crash
  -- is inserted (and summed into the rollups) at most once.
  row_id uuid NOT NULL UNIQUE,
  time timestamptz NOT NULL,
  request_id text NOT NULL,
  key_id text,
  caller text,
  api text NOT NULL,
  operation text,
  model text,
  target text,
  status integer NOT NULL,
  code text,
  input_tokens integer NOT NULL DEFAULT 0,
  output_tokens integer NOT NULL DEFAULT 0,
  cache_read_tokens integer NOT NULL DEFAULT 0,
  cache_write_tokens integer NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0,
  latency_ms double precision NOT NULL,
  ttft_ms double precision,
  stream boolean NOT NULL DEFAULT false
);
CREATE INDEX usage_rows_time ON usage_rows (time);
CREATE INDEX usage_rows_key_time ON usage_rows (key_id, time);
CREATE INDEX usage_rows_caller_time ON usage_rows (caller, time);
-- Hourly and daily sums per (key, caller, target, model); '' stands for "none"
-- so that the key is a plain primary key.
CREATE TABLE usage_rollups (
  period text NOT NULL CHECK (period IN ('hour', 'day')),
  bucket timestamptz NOT NULL,
  key_id text NOT NULL DEFAULT '',
  caller text NOT NULL DEFAULT '',
  target text NOT NULL DEFAULT '',
  model text NOT NULL DEFAULT '',
  requests bigint NOT NULL DEFAULT 0,
  errors bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (period, bucket, key_id, caller, target, model)
);
CREATE INDEX usage_rollups_key ON usage_rollups (period, key_id, bucket);
CREATE INDEX usage_rollups_caller ON usage_rollups (period, caller, bucket);
`,
  },
  {
    // Managed API keys (docs/keys.md): only a hash of each secret and a display
    // prefix are stored. Every change bumps api_keys_version (one row, so
    // writers queue on its lock and versions commit in order); replicas poll
    // it and load the rows whose version is newer than what they hold.
    version: 2,
    name: 'managed api keys',
    sql: `
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  caller text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  targets jsonb NOT NULL DEFAULT '[]',
  rpm integer,
  tpm integer,
  budget_usd double precision,
  budget_tokens double precision,
  budget_period text CHECK (budget_period IN ('day', 'week', 'month', 'total')),
  expires_at timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}',
  disabled boolean NOT NULL DEFAULT false,
  revoked_at timestamptz,
  previous_hash text,
  previous_valid_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version bigint NOT NULL
);
CREATE INDEX api_keys_by_version ON api_keys (version);
CREATE INDEX api_keys_by_caller ON api_keys (caller);
CREATE TABLE api_keys_version (
  id integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO api_keys_version (id, version) VALUES (1, 0);
`,
  },
  {
    version: 3,
    name: 'caller budgets',
    sql: `
-- Caller budgets set through the admin API (docs/budgets.md#caller-budgets): JSON {usd?, tokens?, period}.
CREATE TABLE caller_budgets (
  caller text PRIMARY KEY,
  budget text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 4,
    name: 'key tpm as bigint',
    sql: `
-- A key's tpm takes the bound of [[tokens]] tpm, up to 10^12 (shared/src/budgets.ts,
-- docs/keys.md#what-a-key-holds): past integer's 2^31 - 1. rpm (at most 10^8) fits integer.
ALTER TABLE api_keys ALTER COLUMN tpm TYPE bigint;
`,
  },
  {
    // The writer's insert maintains every index of usage_rows on every row (about 2 µs per row and btree
    // in the embedded database, docs/usage.md#measured). Raw rows are read only by the export, which
    // always has a time range: it reads the time index and filters key and caller there, and pages by
    // (time, row_id). The bigserial id (its sequence and primary key) served only that paging.
    version: 5,
    name: 'fewer usage_rows indexes',
    sql: `
DROP INDEX usage_rows_key_time;
DROP INDEX usage_rows_caller_time;
ALTER TABLE usage_rows DROP COLUMN id;
`,
  },
];

const LOCK_ID = 0x5199_0001;

export interface MigrationResult {
  applied: number[];
  current: number;
}

/**
 * Applies every migration newer than the database's version, all in one
 * transaction (PostgreSQL DDL is transactional: a failed step leaves nothing
 * half-done). On PostgreSQL a transaction-scoped advisory lock, taken first,
 * makes replicas that start together wait for each other.
 */
export async function migrate(db: UsageDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    if (db.backend === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await tx.query(`CREATE TABLE IF NOT EXISTS sipp_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM sipp_schema_migrations')).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      // One statement per query: the extended protocol runs one at a time.
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('INSERT INTO sipp_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    const current = Math.max(0, ...done, ...applied);
    return { applied, current };
  });
}

/** Splits a migration into statements (our migrations hold no semicolon inside a literal). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
