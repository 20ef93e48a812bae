/**
 * One usage row per public request (docs/usage.md#rows), and the batch insert
 * that writes rows and their hourly/daily rollups in one transaction.
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from './database.js';

export interface UsageRow {
  rowId: string;
  /** Epoch milliseconds when the request finished. */
  time: number;
  requestId: string;
  keyId: string | null;
  caller: string | null;
  api: string;
  operation: string | null;
  /** The `model` the client asked for. */
  model: string | null;
  /** The target that served (or last tried) it. */
  target: string | null;
  status: number;
  code: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
}

/** Random bits for row ids, drawn from the CSPRNG 4 KiB at a time (as hex: 431 ids), not 16 bytes per request. */
const POOL_BYTES = 4096;
/** Hex digits of randomness one id takes: 3 (rand_a), 1 (the variant's 2 bits), 15 (rand_b's other 60 bits). */
const ID_HEX = 19;
let pool = '';
let poolAt = 0;
/** A hex digit's low two bits as the RFC 9562 variant digit (10xx: 8, 9, a or b), by character code. */
const VARIANT: string[] = [];
for (const c of '0123456789abcdef') VARIANT[c.charCodeAt(0)] = '89ab'[parseInt(c, 16) & 3]!;
/** The id's time part for the last millisecond asked (`xxxxxxxx-xxxx-7`): ids of one millisecond share it. */
let prefixMs = -1;
let prefix = '';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * Ids made in time order land at the end of the unique index instead of at
 * random pages of it, so inserts stay cheap as the table grows.
 */
export function newRowId(now = Date.now()): string {
  if (now !== prefixMs) {
    // 48 bits of milliseconds, as 12 hex digits.
    const ms = now.toString(16).padStart(12, '0');
    prefix = `${ms.slice(0, 8)}-${ms.slice(8)}-7`;
    prefixMs = now;
  }
  if (poolAt + ID_HEX > pool.length) {
    pool = randomBytes(POOL_BYTES).toString('hex');
    poolAt = 0;
  }
  const i = poolAt;
  poolAt += ID_HEX;
  return `${prefix}${pool.slice(i, i + 3)}-${VARIANT[pool.charCodeAt(i + 3)]}${pool.slice(i + 4, i + 7)}-${pool.slice(i + 7, i + ID_HEX)}`;
}

/**
 * The columns of `usage_rows` as the insert sends them: one getter per column,
 * each its own function, so every property read in it sees one field (a
 * single `r[field]` over all nineteen is a slow generic lookup per value).
 */
const COLUMNS: ReadonlyArray<readonly [(r: UsageRow) => unknown, string, string]> = [
  [(r) => r.rowId, 'row_id', 'uuid'],
  [(r) => r.time, 'time', 'float8'],
  [(r) => r.requestId, 'request_id', 'text'],
  [(r) => r.keyId, 'key_id', 'text'],
  [(r) => r.caller, 'caller', 'text'],
  [(r) => r.api, 'api', 'text'],
  [(r) => r.operation, 'operation', 'text'],
  [(r) => r.model, 'model', 'text'],
  [(r) => r.target, 'target', 'text'],
  [(r) => r.status, 'status', 'int4'],
  [(r) => r.code, 'code', 'text'],
  [(r) => r.inputTokens, 'input_tokens', 'int4'],
  [(r) => r.outputTokens, 'output_tokens', 'int4'],
  [(r) => r.cacheReadTokens, 'cache_read_tokens', 'int4'],
  [(r) => r.cacheWriteTokens, 'cache_write_tokens', 'int4'],
  [(r) => r.costUsd, 'cost_usd', 'float8'],
  [(r) => r.latencyMs, 'latency_ms', 'float8'],
  [(r) => r.ttftMs, 'ttft_ms', 'float8'],
  [(r) => r.stream, 'stream', 'bool'],
];

// One statement per batch: every column travels as one array parameter, so a
// batch of thousands of rows is one round trip.
const INSERT_SELECT = `INSERT INTO usage_rows (${COLUMNS.map((c) => c[1]).join(', ')})
SELECT ${COLUMNS.map((c) => (c[1] === 'time' ? 'to_timestamp(u.time / 1000.0)' : `u.${c[1]}`)).join(', ')}
FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${c[2]}[]`).join(', ')}) AS u(${COLUMNS.map((c) => c[1]).join(', ')})`;

// The usual batch: rows made by this process, never written before. No
// conflict check and nothing returned (handing every row id back costs the
// database about as much as a third of the insert, docs/usage.md#measured);
// a duplicate row id makes it fail, and the batch is written again below.
const INSERT_FRESH = INSERT_SELECT;

// The same batch into the embedded database: COPY reads the rows in PostgreSQL's
// binary COPY format from PGlite's `/dev/blob`, which costs its thread less than
// unpacking nineteen column arrays, or than parsing the same rows as CSV text
// (docs/usage.md#measured). PostgreSQL servers keep INSERT_FRESH.
const COPY_FRESH = `COPY usage_rows (${COLUMNS.map((c) => c[1]).join(', ')}) FROM '/dev/blob' WITH (FORMAT binary)`;

/** The binary COPY file's header: signature, flags (0) and header-extension length (0). */
const COPY_HEADER = Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1');
/** PostgreSQL's epoch (2000-01-01 UTC) in Unix microseconds: binary timestamps count from it. */
const PG_EPOCH_US = 946_684_800_000_000;
const TWO_32 = 2 ** 32;

/** Each hex digit's value by character code (-1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (const [i, c] of [...'0123456789abcdef'].entries()) HEX[c.charCodeAt(0)] = HEX[c.toUpperCase().charCodeAt(0)] = i;

/**
 * One field in binary COPY format (PostgreSQL's send functions): its length as
 * int32 (-1: NULL), then its bytes, big-endian. Each writes at `o` and returns
 * the offset after it.
 */
const BINARY_FIELD: Record<string, (b: Buffer, o: number, v: unknown) => number> = {
  uuid: (b, o, v) => {
    if (v == null) return b.writeInt32BE(-1, o);
    const s = v as string;
    // A malformed id is thrown, so the batch goes to the INSERT, which rejects it too.
    if (s.length !== 36) throw new Error('usage row id is not a UUID');
    let p = b.writeInt32BE(16, o);
    // Two hex digits per byte, skipping the dashes (each group has an even count of digits).
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++;
      const hi = HEX[s.charCodeAt(i)] ?? -1;
      const lo = HEX[s.charCodeAt(i + 1)] ?? -1;
      if ((hi | lo) < 0) throw new Error('usage row id is not a UUID');
      b[p++] = hi * 16 + lo;
    }
    return p;
  },
  text: (b, o, v) => {
    if (v == null) return b.writeInt32BE(-1, o);
    const n = b.write(v as string, o + 4, 'utf8');
    b.writeInt32BE(n, o);
    return o + 4 + n;
  },
  int4: (b, o, v) => (v == null ? b.writeInt32BE(-1, o) : b.writeInt32BE(v as number, b.writeInt32BE(4, o))),
  float8: (b, o, v) => (v == null ? b.writeInt32BE(-1, o) : b.writeDoubleBE(v as number, b.writeInt32BE(8, o))),
  bool: (b, o, v) => (v == null ? b.writeInt32BE(-1, o) : b.writeUInt8(v ? 1 : 0, b.writeInt32BE(1, o))),
};

/** Epoch milliseconds as a timestamptz field: microseconds since 2000-01-01 (what `to_timestamp(ms / 1000.0)` keeps), int64. */
function writeTime(b: Buffer, o: number, ms: number | null): number {
  if (ms == null) return b.writeInt32BE(-1, o);
  const us = Math.round(ms * 1000) - PG_EPOCH_US;
  const high = Math.floor(us / TWO_32);
  b.writeInt32BE(8, o);
  b.writeInt32BE(high, o + 4);
  return b.writeUInt32BE(us - high * TWO_32, o + 8);
}

/** Each column's getter and binary writer, in COPY_FRESH's column order. */
const BINARY_COLUMNS = COLUMNS.map(([get, name, type]) =>
  name === 'time'
    ? (b: Buffer, o: number, r: UsageRow) => writeTime(b, o, r.time)
    : (
        (write) => (b: Buffer, o: number, r: UsageRow) =>
          write(b, o, get(r))
      )(BINARY_FIELD[type]!),
);
/** The text columns' getters: a row's size is bounded by its fixed fields and its text. */
const TEXT_GETTERS = COLUMNS.filter((c) => c[2] === 'text').map((c) => c[0] as (r: UsageRow) => string | null);
/** A row's bytes besides its text: field count, nineteen lengths, uuid, timestamp, 5 × int4, 3 × float8, bool. */
const ROW_FIXED = 2 + 4 * COLUMNS.length + 16 + 8 + 5 * 4 + 3 * 8 + 1;

/**
 * The rows as the binary COPY file COPY_FRESH reads. Its own ArrayBuffer, so
 * it can be handed to the database thread without a copy.
 */
export function usageCopyBinary(rows: readonly UsageRow[]): Uint8Array {
  let size = COPY_HEADER.length + 2;
  for (const r of rows) {
    size += ROW_FIXED;
    // At most 3 UTF-8 bytes per UTF-16 unit.
    for (const get of TEXT_GETTERS) size += 3 * (get(r)?.length ?? 0);
  }
  const b = Buffer.allocUnsafeSlow(size);
  let o = COPY_HEADER.copy(b, 0);
  for (const r of rows) {
    o = b.writeInt16BE(COLUMNS.length, o);
    for (const write of BINARY_COLUMNS) o = write(b, o, r);
  }
  o = b.writeInt16BE(-1, o);
  return b.subarray(0, o);
}

// A batch that holds rows already present (a spool replayed twice): those are
// skipped, and only the rows inserted are returned, so the rollups count each
// row once.
const INSERT_ROWS = `${INSERT_SELECT}
ON CONFLICT (row_id) DO NOTHING
RETURNING row_id`;

const ROLLUP_SUMS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cost_usd',
] as const;

const UPSERT_ROLLUPS = `INSERT INTO usage_rollups (period, bucket, key_id, caller, target, model, ${ROLLUP_SUMS.join(', ')})
SELECT u.period, to_timestamp(u.bucket / 1000.0), u.key_id, u.caller, u.target, u.model, ${ROLLUP_SUMS.map((s) => `u.${s}`).join(', ')}
FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::float8[])
  AS u(period, bucket, key_id, caller, target, model, ${ROLLUP_SUMS.join(', ')})
ON CONFLICT (period, bucket, key_id, caller, target, model) DO UPDATE SET
  ${ROLLUP_SUMS.map((s) => `${s} = usage_rollups.${s} + excluded.${s}`).join(',\n  ')}`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Sum {
  period: 'hour' | 'day';
  bucket: number;
  keyId: string;
  caller: string;
  target: string;
  model: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

/**
 * Sums rows into hourly and daily buckets (UTC) per key, caller, target and
 * model: each row into its hour, then the hours into their days (a batch
 * holds a few hours of a few groups, so that second pass is short).
 */
export function rollup(rows: readonly UsageRow[]): Sum[] {
  const hours = new Map<string, Sum>();
  for (const r of rows) {
    const bucket = Math.floor(r.time / HOUR) * HOUR;
    const k = `${bucket}\u0000${r.keyId ?? ''}\u0000${r.caller ?? ''}\u0000${r.target ?? ''}\u0000${r.model ?? ''}`;
    let s = hours.get(k);
    if (!s) hours.set(k, (s = emptySum('hour', bucket, r.keyId ?? '', r.caller ?? '', r.target ?? '', r.model ?? '')));
    s.requests += 1;
    if (r.status >= 400 || r.code !== null) s.errors += 1;
    s.inputTokens += r.inputTokens;
    s.outputTokens += r.outputTokens;
    s.cacheReadTokens += r.cacheReadTokens;
    s.cacheWriteTokens += r.cacheWriteTokens;
    s.costUsd += r.costUsd;
  }
  const days = new Map<string, Sum>();
  for (const h of hours.values()) {
    const bucket = Math.floor(h.bucket / DAY) * DAY;
    const k = `${bucket}\u0000${h.keyId}\u0000${h.caller}\u0000${h.target}\u0000${h.model}`;
    let d = days.get(k);
    if (!d) days.set(k, (d = emptySum('day', bucket, h.keyId, h.caller, h.target, h.model)));
    d.requests += h.requests;
    d.errors += h.errors;
    d.inputTokens += h.inputTokens;
    d.outputTokens += h.outputTokens;
    d.cacheReadTokens += h.cacheReadTokens;
    d.cacheWriteTokens += h.cacheWriteTokens;
    d.costUsd += h.costUsd;
  }
  return [...hours.values(), ...days.values()];
}

function emptySum(period: 'hour' | 'day', bucket: number, keyId: string, caller: string, target: string, model: string): Sum {
  return {
    period,
    bucket,
    keyId,
    caller,
    target,
    model,
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0,
  };
}

/**
 * Inserts a batch and adds the newly inserted rows to the rollups; returns how
 * many rows were new. Runs inside the writer's transaction: the fast insert
 * runs under a savepoint, so a batch with rows already present (only a spool
 * replay has those) rolls back to it and is inserted row by row-id check.
 */
export async function insertBatch(q: Queryable, rows: readonly UsageRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const params = () => COLUMNS.map(([get]) => rows.map(get));
  let fresh: readonly UsageRow[] = rows;
  await q.query('SAVEPOINT usage_batch');
  try {
    if (q.copyFrom) await q.copyFrom(COPY_FRESH, usageCopyBinary(rows));
    else await q.query(INSERT_FRESH, params());
  } catch {
    // Most likely a row id already present; anything else fails again below and is thrown.
    await q.query('ROLLBACK TO SAVEPOINT usage_batch');
    const inserted = new Set((await q.query<{ row_id: string }>(INSERT_ROWS, params())).map((r) => r.row_id));
    fresh = inserted.size === rows.length ? rows : rows.filter((r) => inserted.has(r.rowId));
  }
  const sums = rollup(fresh);
  if (sums.length > 0) {
    await q.query(UPSERT_ROLLUPS, [
      sums.map((s) => s.period),
      sums.map((s) => s.bucket),
      sums.map((s) => s.keyId),
      sums.map((s) => s.caller),
      sums.map((s) => s.target),
      sums.map((s) => s.model),
      sums.map((s) => s.requests),
      sums.map((s) => s.errors),
      sums.map((s) => s.inputTokens),
      sums.map((s) => s.outputTokens),
      sums.map((s) => s.cacheReadTokens),
      sums.map((s) => s.cacheWriteTokens),
      sums.map((s) => s.costUsd),
    ]);
  }
  return fresh.length;
}
