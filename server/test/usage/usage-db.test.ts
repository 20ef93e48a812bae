/**
 * Usage history (docs/usage.md) against a real PostgreSQL server: versioned
 * migrations applied once even when replicas start together, the batched
 * writer (rows and rollups agree), the on-disk spool while the database is
 * down (nothing lost, nothing counted twice), and `close()` flushing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { openDatabase, type UsageDatabase } from '../../src/usage/database.js';
import { MIGRATIONS, migrate, splitStatements } from '../../src/usage/migrations.js';
import { insertBatch, newRowId, rollup, type UsageRow } from '../../src/usage/rows.js';
import { exportUsage } from '../../src/usage/spend.js';
import { UsageSpool } from '../../src/usage/spool.js';
import { UsageWriter } from '../../src/usage/writer.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 23, 30); // 23:30 UTC: the next hour is the next day

function row(i: number, over: Partial<UsageRow> = {}): UsageRow {
  return {
    rowId: newRowId(),
    time: T0 + (i % 4) * 15 * 60_000,
    requestId: `req-${i}`,
    keyId: i % 2 === 0 ? 'key-a' : 'key-b',
    caller: 'team-x',
    api: 'openai',
    operation: 'chat',
    model: 'gpt',
    target: 'oa',
    status: i % 10 === 0 ? 502 : 200,
    code: i % 10 === 0 ? 'upstream' : null,
    inputTokens: 10,
    outputTokens: 5,
    cacheReadTokens: 2,
    cacheWriteTokens: 1,
    costUsd: 0.001,
    latencyMs: 12.5,
    ttftMs: null,
    stream: false,
    ...over,
  };
}

const silent = pino({ level: 'silent' });

describe('rollups and migrations (no database)', () => {
  test('rows sum into UTC hour and day buckets per key, caller, target and model', () => {
    const rows = [row(0), row(2), row(1), row(3)]; // key-a at 23:30 and 00:00 (+30 min); key-b at 23:45 and 00:15
    const sums = rollup(rows);
    const day = (t: number) => Math.floor(t / (24 * HOUR)) * 24 * HOUR;
    const a = sums.filter((s) => s.keyId === 'key-a' && s.period === 'day').sort((x, y) => x.bucket - y.bucket);
    assert.deepEqual(
      a.map((s) => [s.bucket, s.requests, s.errors, s.inputTokens]),
      [
        [day(T0), 1, 1, 10],
        [day(T0 + HOUR), 1, 0, 10],
      ],
    );
    const hours = sums.filter((s) => s.period === 'hour');
    assert.equal(
      hours.reduce((n, s) => n + s.requests, 0),
      4,
    );
    assert.equal(
      sums.filter((s) => s.period === 'day').reduce((n, s) => n + s.requests, 0),
      4,
    );
  });

  test('rows added while a batch is written wait for the next flush, unless batch_rows are queued', async () => {
    // Steady traffic must make one batch per flush interval: rows that arrive during a write are not written
    // as a batch of their own at once (each batch pays BEGIN, SAVEPOINT, the rollup upsert and COMMIT).
    const spoolDir = mkdtempSync(join(tmpdir(), 'sipp-writer-'));
    const batches: number[] = [];
    let release: () => void = () => {};
    const writer = new UsageWriter({
      write: async (rows) => {
        batches.push(rows.length);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        return rows.length;
      },
      spool: new UsageSpool(join(spoolDir, 'spool'), 1 << 20),
      log: silent,
      flushIntervalMs: 3_600_000, // flushed by hand below
      batchRows: 50,
    });
    try {
      for (let i = 0; i < 10; i++) writer.add(row(i));
      const first = writer.flush();
      assert.deepEqual(batches, [10], 'the first batch is being written');
      for (let i = 10; i < 15; i++) writer.add(row(i));
      release();
      await first;
      assert.deepEqual(batches, [10], 'rows that came during the write wait for the next flush');
      assert.equal(writer.queued, 5);
      await writer.flush();
      assert.deepEqual(batches, [10, 5]);

      // Reaching batch_rows while a batch is written does not wait for the interval.
      batches.length = 0;
      for (let i = 0; i < 10; i++) writer.add(row(i));
      const second = writer.flush();
      for (let i = 10; i < 60; i++) writer.add(row(i));
      release();
      await second;
      assert.deepEqual(batches, [10, 50]);
      assert.equal(writer.queued, 0);
    } finally {
      await writer.close();
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });

  test('every migration splits into statements and versions only grow', () => {
    let last = 0;
    for (const m of MIGRATIONS) {
      assert.ok(m.version > last);
      last = m.version;
      assert.ok(splitStatements(m.sql).every((s) => !s.includes(';')));
    }
  });
});

const skip = postgresBin() ? false : POSTGRES_MISSING;

describe('usage database on PostgreSQL', { skip }, () => {
  let pg: TestPostgres;
  let db: UsageDatabase;
  let dir: string;
  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'sipp-usage-'));
  });
  after(async () => {
    await db?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('three replicas migrating at once apply each migration exactly once', async () => {
    const dbs = await Promise.all([0, 1, 2].map(() => openDatabase({ backend: 'postgres', url: pg.url })));
    const results = await Promise.all(dbs.map((d) => migrate(d)));
    await Promise.all(dbs.map((d) => d.close()));
    assert.deepEqual(
      results.flatMap((r) => r.applied).sort(),
      MIGRATIONS.map((m) => m.version),
    );
    assert.ok(results.every((r) => r.current === MIGRATIONS.at(-1)!.version));
    assert.equal((await pg.psql('SELECT count(*) FROM sipp_schema_migrations')).trim(), String(MIGRATIONS.length));
    db = await openDatabase({ backend: 'postgres', url: pg.url });
    assert.deepEqual((await migrate(db)).applied, [], 'a second run applies nothing');
  });

  test('migration 5 keeps the rows written before it; usage_rows then carries only the row_id and time indexes', async () => {
    await pg.psql('CREATE DATABASE m5');
    const old = await openDatabase({ backend: 'postgres', url: pg.url.replace(/\/sipp$/, '/m5') });
    try {
      assert.deepEqual(
        (
          await migrate(
            old,
            MIGRATIONS.filter((m) => m.version < 5),
          )
        ).current,
        4,
      );
      // 250 rows at one instant, written under schema 4 (with its bigserial id), then migrated.
      const same = Array.from({ length: 250 }, (_, i) => row(i, { time: T0, requestId: `m5-${i}` }));
      assert.equal(await old.transaction((tx) => insertBatch(tx, same)), 250);
      assert.deepEqual((await migrate(old)).applied, [5]);
      const indexes = (
        await old.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE tablename = 'usage_rows' ORDER BY indexname`,
        )
      ).map((r) => r.indexname);
      assert.deepEqual(indexes, ['usage_rows_row_id_key', 'usage_rows_time'], 'the writer maintains two indexes per row');
      const columns = (
        await old.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_name = 'usage_rows'`,
        )
      ).map((r) => r.column_name);
      assert.ok(!columns.includes('id'), 'no id (nor its sequence) to fill per row');
      // The export pages by (time, row_id): three pages of rows sharing one instant, each row once.
      const pages: number[] = [];
      const ids: string[] = [];
      for await (const b of exportUsage(old, { from: T0, to: T0 + 1, key: 'key-a' }, 50)) {
        pages.push(b.length);
        ids.push(...b.map((x) => x.request_id));
      }
      assert.deepEqual(pages, [50, 50, 25]);
      assert.deepEqual(
        ids.sort(),
        same
          .filter((r) => r.keyId === 'key-a')
          .map((r) => r.requestId)
          .sort(),
      );
      // New rows go in beside the migrated ones.
      assert.equal(await old.transaction((tx) => insertBatch(tx, [row(1, { requestId: 'm5-new' })])), 1);
    } finally {
      await old.close();
    }
  });

  test('a batch writes its rows and the rollups agree with them; a replayed batch counts once', async () => {
    await db.query('TRUNCATE usage_rows, usage_rollups');
    const rows = Array.from({ length: 2000 }, (_, i) => row(i));
    assert.equal(await db.transaction((tx) => insertBatch(tx, rows.slice(0, 1500))), 1500);
    // Half present, half new (a spool replayed after a partial write): only the new half is summed.
    assert.equal(await db.transaction((tx) => insertBatch(tx, rows.slice(1000))), 500);
    assert.equal(await db.transaction((tx) => insertBatch(tx, rows.slice(0, 500))), 0, 'rows already present are skipped');
    const [raw] = await db.query<{ n: string; inp: string; cost: number }>(
      'SELECT count(*) n, sum(input_tokens) inp, sum(cost_usd) cost FROM usage_rows',
    );
    assert.equal(Number(raw!.n), 2000);
    for (const period of ['hour', 'day']) {
      const [r] = await db.query<{ n: string; e: string; inp: string; cost: number }>(
        'SELECT sum(requests) n, sum(errors) e, sum(input_tokens) inp, sum(cost_usd) cost FROM usage_rollups WHERE period = $1',
        [period],
      );
      assert.equal(Number(r!.n), 2000, `${period} requests`);
      assert.equal(Number(r!.e), 200, `${period} errors`);
      assert.equal(Number(r!.inp), Number(raw!.inp));
      assert.ok(Math.abs(r!.cost - raw!.cost) < 1e-9);
    }
    const [spend] = await db.query<{ cost: number }>(
      `SELECT sum(cost_usd) cost FROM usage_rollups WHERE period = 'day' AND key_id = 'key-a' AND bucket >= $1::timestamptz`,
      [new Date(T0 - 30 * 24 * HOUR).toISOString()],
    );
    assert.ok(Math.abs(spend!.cost - 1000 * 0.001) < 1e-9, 'a month of spend for one key from the daily rollup');
  });

  test('while the database is down rows go to the spool and reach it once it is back, each once', async () => {
    await db.query('TRUNCATE usage_rows, usage_rollups');
    const spool = new UsageSpool(join(dir, 'spool'), 64 * 1024 * 1024);
    let writes = 0;
    const writer = new UsageWriter({
      write: async (rows) => {
        writes++;
        return db.transaction((tx) => insertBatch(tx, rows));
      },
      spool,
      log: silent,
      flushIntervalMs: 3_600_000, // flushed by hand below
      batchRows: 400,
    });
    for (let i = 0; i < 1000; i++) writer.add(row(i));
    await writer.flush();
    assert.equal(Number((await pg.psql('SELECT count(*) FROM usage_rows')).trim()), 1000);

    await pg.stop();
    for (let i = 1000; i < 2500; i++) writer.add(row(i));
    await writer.flush();
    assert.equal(writer.queued, 0, 'nothing stays in memory');
    assert.ok((await spool.size()) > 0, 'the batches are on disk');
    assert.equal(writer.droppedRows, 0);

    await pg.start();
    for (let i = 2500; i < 2510; i++) writer.add(row(i));
    await writer.close();
    assert.ok(writes > 0);
    assert.equal(await spool.size(), 0, 'the spool was replayed and removed');
    assert.equal(Number((await pg.psql('SELECT count(*) FROM usage_rows')).trim()), 2510);
    assert.equal(Number((await pg.psql(`SELECT sum(requests) FROM usage_rollups WHERE period = 'day'`)).trim()), 2510);
    assert.equal(Number((await pg.psql('SELECT count(DISTINCT request_id) FROM usage_rows')).trim()), 2510);
  });

  test('a full spool drops rows past its bound and counts them', async () => {
    const spool = new UsageSpool(join(dir, 'tiny-spool'), 4096);
    let dropped = 0;
    const writer = new UsageWriter({
      write: async () => {
        throw new Error('connection refused');
      },
      spool,
      log: silent,
      flushIntervalMs: 3_600_000,
      batchRows: 100,
      onDropped: (n) => (dropped += n),
    });
    for (let i = 0; i < 100; i++) writer.add(row(i));
    await writer.close();
    assert.ok(dropped > 0 && dropped < 100, `some rows fit, the rest were dropped (${dropped})`);
    assert.equal(writer.droppedRows, dropped);
    assert.ok((await spool.size()) <= 4096);
  });

  test('writer throughput into PostgreSQL (reported, not asserted)', async () => {
    await db.query('TRUNCATE usage_rows, usage_rollups');
    const n = 20_000;
    const rows = Array.from({ length: n }, (_, i) => row(i));
    const began = performance.now();
    for (let i = 0; i < n; i += 5000) await db.transaction((tx) => insertBatch(tx, rows.slice(i, i + 5000)));
    const ms = performance.now() - began;
    assert.equal(Number((await pg.psql('SELECT count(*) FROM usage_rows')).trim()), n);
    console.log(`# usage writer: ${n} rows in ${ms.toFixed(0)} ms (${Math.round((n / ms) * 1000)} rows/s) on this machine`);
  });
});

describe('usage database, embedded (PGlite)', () => {
  let db: UsageDatabase;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipp-usage-embedded-rows-'));
    db = await openDatabase({ backend: 'embedded', dataDir: join(dir, 'usage-db') });
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Every column as PostgreSQL holds it: text exactly, NULL apart from '', the time to the microsecond.
  const READ_BACK = `SELECT row_id::text, (extract(epoch FROM time) * 1000000)::bigint::text AS us, request_id, key_id, caller,
    api, operation, model, target, status, code, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    cost_usd, latency_ms, ttft_ms, stream FROM usage_rows WHERE request_id LIKE $1 ORDER BY request_id`;
  const expected = (r: UsageRow) => ({
    row_id: r.rowId,
    us: String(Math.round(r.time * 1000)),
    request_id: r.requestId,
    key_id: r.keyId,
    caller: r.caller,
    api: r.api,
    operation: r.operation,
    model: r.model,
    target: r.target,
    status: r.status,
    code: r.code,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_write_tokens: r.cacheWriteTokens,
    cost_usd: r.costUsd,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    stream: r.stream,
  });

  test('rows with quotes, commas, newlines, backslashes and unicode are written exactly, NULL kept apart from empty', async () => {
    const awkward = [
      row(0, { requestId: 'w-0', model: 'a,"b"\n\\.\r\nc\tü😀', keyId: '', caller: null, target: '', code: null }),
      row(1, { requestId: 'w-1', model: '\\.', operation: null, ttftMs: 0.25, stream: true, status: 429 }),
      row(2, { requestId: 'w-2', model: '"', caller: '', code: 'rate_limited', costUsd: 1e-7, time: T0 + 0.1234 }),
      row(3, { requestId: 'w-3', model: null, keyId: null, target: ',', latencyMs: 1e21, inputTokens: 2 ** 31 - 1 }),
    ];
    // Fresh rows go in by COPY alone: a CSV that COPY cannot read would fall back to the INSERT (same rows, slower).
    const statements: string[] = [];
    const n = await db.transaction((tx) => {
      assert.ok(tx.copyFrom, 'the embedded database writes batches with COPY');
      const copyFrom = tx.copyFrom.bind(tx);
      return insertBatch(
        {
          query: (sql, params) => (statements.push(sql.split(' ', 2).join(' ')), tx.query(sql, params)),
          copyFrom: (sql, data) => (statements.push(sql.split(' ', 2).join(' ')), copyFrom(sql, data)),
        },
        awkward,
      );
    });
    assert.equal(n, 4);
    assert.deepEqual(statements, ['SAVEPOINT usage_batch', 'COPY usage_rows', 'INSERT INTO']);
    // The same rows through the INSERT that PostgreSQL servers run (no copyFrom): both land alike.
    const again = awkward.map((r) => ({ ...r, rowId: newRowId(), requestId: `v${r.requestId.slice(1)}` }));
    assert.equal(await db.transaction((tx) => insertBatch({ query: tx.query }, again)), 4);
    assert.deepEqual(await db.query(READ_BACK, ['w-%']), awkward.map(expected));
    assert.deepEqual(await db.query(READ_BACK, ['v-%']), again.map(expected));
  });

  test('a replayed batch counts once (COPY fails on the duplicate, the batch is written again row by row id)', async () => {
    await db.query('TRUNCATE usage_rows, usage_rollups');
    const rows = Array.from({ length: 600 }, (_, i) => row(i));
    assert.equal(await db.transaction((tx) => insertBatch(tx, rows.slice(0, 400))), 400);
    assert.equal(await db.transaction((tx) => insertBatch(tx, rows.slice(200))), 200);
    const [raw] = await db.query<{ n: string }>('SELECT count(*) n FROM usage_rows');
    assert.equal(Number(raw!.n), 600);
    const [r] = await db.query<{ n: string; e: string }>(
      `SELECT sum(requests) n, sum(errors) e FROM usage_rollups WHERE period = 'day'`,
    );
    assert.equal(Number(r!.n), 600);
    assert.equal(Number(r!.e), 60);
  });
});
