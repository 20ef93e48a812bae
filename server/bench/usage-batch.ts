/**
 * `node --import tsx server/bench/usage-batch.ts` (docs/usage.md#measured): what one
 * writer batch costs the embedded database (PGlite worker): the row INSERT and
 * the rollup upsert timed apart, per 1,000 rows, and the process RSS after.
 * Rows look like the bench's `keys` profile: one key, one caller, one target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Queryable } from '../src/usage/database.js';
import { migrate } from '../src/usage/migrations.js';
import { insertBatch, newRowId, type UsageRow } from '../src/usage/rows.js';

const BATCH = Number(process.env.BENCH_BATCH_ROWS ?? 2000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 30);

function row(i: number, time: number): UsageRow {
  return {
    rowId: newRowId(time),
    time,
    requestId: `req-${i}`,
    keyId: 'key-bench',
    caller: 'bench-keys',
    api: 'openai',
    operation: 'chat',
    model: 'demo',
    target: 'upstream',
    status: 200,
    code: null,
    inputTokens: 12,
    outputTokens: 20,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0.000052,
    latencyMs: 1.5,
    ttftMs: null,
    stream: false,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'sipp-usage-batch-'));
const db = await openDatabase({ backend: 'embedded', dataDir: dir });
await migrate(db);
const rssIdle = process.memoryUsage().rss;
const times: Record<string, number[]> = { total: [], statements: [], cpu: [] };
let i = 0;
for (let b = 0; b < BATCHES; b++) {
  const rows = Array.from({ length: BATCH }, () => row(i++, Date.now()));
  let statements = 0;
  const split: Record<string, number> = {};
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await db.transaction(async (tx) => {
    const timed: Queryable = {
      async query(sql, params) {
        statements++;
        const s = performance.now();
        const out = await tx.query(sql, params);
        const name = /^\s*INSERT INTO usage_rollups/.test(sql)
          ? 'rollups'
          : /^\s*INSERT INTO usage_rows/.test(sql)
            ? 'insert'
            : 'other';
        split[name] = (split[name] ?? 0) + performance.now() - s;
        return out as never;
      },
      ...(tx.copyFrom && {
        async copyFrom(sql: string, data: Uint8Array) {
          statements++;
          const s = performance.now();
          await tx.copyFrom!(sql, data);
          split.insert = (split.insert ?? 0) + performance.now() - s;
        },
      }),
    };
    return insertBatch(timed, rows);
  });
  times.total!.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  times.cpu!.push((c.user + c.system) / 1000);
  times.statements!.push(statements + 2);
  for (const [k, v] of Object.entries(split)) (times[k] ??= []).push(v);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const per1k = (ms: number) => ((ms / BATCH) * 1000).toFixed(1);
console.log(
  `batch ${BATCH} rows × ${BATCHES}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const [k, v] of Object.entries(times)) {
  if (k === 'statements') console.log(`statements per batch: ${med(v)}`);
  else
    console.log(
      `${k === 'cpu' ? 'process CPU (all threads)' : k}: median ${med(v).toFixed(1)} ms/batch = ${per1k(med(v))} ms per 1,000 rows`,
    );
}
console.log(`rss idle ${(rssIdle / 2 ** 20).toFixed(0)} MB, after ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
await db.close();
rmSync(dir, { recursive: true, force: true });
