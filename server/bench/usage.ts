/**
 * `BENCH_ONLY=usage npm run bench` (docs/usage.md#measured): the usage
 * history's costs on this machine.
 *
 * - Writer throughput into a real PostgreSQL (Debian's package, loopback,
 *   fsync off as in the tests): BENCH_USAGE_ROWS rows (default 1,000,000)
 *   handed to the background writer in time order, as traffic would, with
 *   the default batch of 5,000 rows; rows and rollups in one transaction.
 * - Month-of-spend by key over those rows (spread over the last 35 days):
 *   the spend API's query (rollups: daily for whole days, hourly at the
 *   ends), median of 25 runs, next to the same sum over the raw rows.
 * - Idle RSS of a gateway process with the embedded database (PGlite) vs
 *   without `[database]`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openDatabase } from '../src/usage/database.js';
import { migrate } from '../src/usage/migrations.js';
import { insertBatch, newRowId, type UsageRow } from '../src/usage/rows.js';
import { querySpend } from '../src/usage/spend.js';
import { UsageSpool } from '../src/usage/spool.js';
import { UsageWriter } from '../src/usage/writer.js';
import { postgresBin, startPostgres } from '../test/support/postgres.js';
import { rssOf, startBenchGateway, startUpstream } from './processes.js';

const DAY = 86_400_000;
const KEYS = 100;
const MODELS = [
  ['gpt-4o', 'openai'],
  ['gpt-4o-mini', 'openai'],
  ['claude-sonnet', 'anthropic'],
  ['claude-haiku', 'anthropic'],
  ['local-qwen', 'local'],
] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en-US');

function makeRow(i: number, time: number): UsageRow {
  const key = (i * 7919) % KEYS;
  const [model, target] = MODELS[(i * 31) % MODELS.length]!;
  return {
    rowId: newRowId(),
    time,
    requestId: `bench-${i}`,
    keyId: `key-${key}`,
    caller: `team-${key % 10}`,
    api: 'openai',
    operation: 'chat',
    model,
    target,
    status: i % 50 === 0 ? 429 : 200,
    code: i % 50 === 0 ? 'rate_limited' : null,
    inputTokens: 200 + (i % 800),
    outputTokens: 50 + (i % 300),
    cacheReadTokens: i % 3 === 0 ? 100 : 0,
    cacheWriteTokens: 0,
    costUsd: 0.0001 * (1 + (i % 40)),
    latencyMs: 100 + (i % 900),
    ttftMs: null,
    stream: i % 2 === 0,
  };
}

const LIVE = 300_000;

/** CPU seconds used so far by a process and its children still running (Linux /proc; clock ticks of 10 ms). */
function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the name: state(0) ppid(1) … utime(11) stime(12).
      if (Number(d) === root || Number(f[1]) === root) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / 100;
}

async function benchPostgres(monthRows: number): Promise<string[]> {
  let rows = monthRows;
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'sipp-bench-usage-'));
  const db = await openDatabase({ backend: 'postgres', url: pg.url });
  try {
    await migrate(db);
    const writer = new UsageWriter({
      write: (batch) => db.transaction((tx) => insertBatch(tx, batch)),
      spool: new UsageSpool(join(dir, 'spool'), 256 * 1024 * 1024),
      log: pino({ level: 'warn' }),
      flushIntervalMs: 1000,
      batchRows: 5000,
    });
    const dataDir = (await pg.psql('SHOW data_directory')).trim();
    const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const cpuNow = () => {
      const u = process.cpuUsage();
      return { node: (u.user + u.system) / 1e6, pg: treeCpuSeconds(postmaster) };
    };
    // Rows in time order, handed over in chunks (bounded memory) as traffic would hand them.
    const feed = async (count: number, first: number, start: number, step: number) => {
      const chunk = 50_000;
      const cpu0 = cpuNow();
      const began = performance.now();
      for (let i = 0; i < count; i += chunk) {
        for (let j = i; j < Math.min(count, i + chunk); j++) writer.add(makeRow(first + j, start + j * step));
        await writer.flush();
      }
      const ms = performance.now() - began;
      const cpu1 = cpuNow();
      return { ms, node: cpu1.node - cpu0.node, pg: cpu1.pg - cpu0.pg };
    };
    const end = Date.now();
    // 1. Live density: LIVE rows stamped 0.1 ms apart (10,000 requests/s), the writer's real workload.
    process.stderr.write(`bench: usage writer, ${LIVE} rows at live density into PostgreSQL\n`);
    const load = loadavg()[0]!;
    const live = await feed(LIVE, 0, end - LIVE * 0.1 - 60_000, 0.1);
    // 2. A month of history: `rows` rows spread over the last 35 days (every batch touches hours of rollups).
    process.stderr.write(`bench: usage writer, ${rows} rows over 35 days into PostgreSQL\n`);
    const month = await feed(rows, LIVE, end - 35 * DAY, (35 * DAY - 120_000) / rows);
    await writer.close();
    rows += LIVE;
    const [{ n }] = (await db.query<{ n: string }>('SELECT count(*) AS n FROM usage_rows')) as [{ n: string }];
    if (Number(n) !== rows) throw new Error(`expected ${rows} rows, found ${n}`);
    const [{ r }] = (await db.query<{ r: string }>('SELECT count(*) AS r FROM usage_rollups')) as [{ r: string }];
    await db.query('ANALYZE usage_rows');
    await db.query('ANALYZE usage_rollups');

    // A month of spend for one key (the calendar month containing "now", or the last 30 days
    // when the month is young), as the spend API runs it.
    const from = end - 30 * DAY;
    process.stderr.write('bench: usage, month-of-spend queries\n');
    const time = async (fn: () => Promise<unknown>) => {
      await fn();
      const xs: number[] = [];
      for (let k = 0; k < 25; k++) {
        const t = performance.now();
        await fn();
        xs.push(performance.now() - t);
      }
      return median(xs);
    };
    const byKeyDay = await time(() => querySpend(db, { groupBy: 'day', key: 'key-42', from, to: end }));
    const allKeys = await time(() => querySpend(db, { groupBy: 'key', from, to: end }));
    const raw = await time(() =>
      db.query(
        `SELECT sum(cost_usd) FROM usage_rows WHERE key_id = $1 AND time >= to_timestamp($2::float8 / 1000) AND time < to_timestamp($3::float8 / 1000)`,
        ['key-42', from, end],
      ),
    );
    return [
      `| usage writer into PostgreSQL, live density (rows 0.1 ms apart; batches of 5,000, rows + rollups per transaction) | ${perSecond(LIVE, live.ms)} rows/s wall (${LIVE.toLocaleString('en-US')} rows in ${(live.ms / 1000).toFixed(1)} s, load average ${load.toFixed(1)} on ${cpus().length} cores); CPU: ${(live.node + live.pg).toFixed(1)} s (gateway ${live.node.toFixed(1)} s + PostgreSQL ${live.pg.toFixed(1)} s) = ${perSecond(LIVE, (live.node + live.pg) * 1000)} rows per CPU-second | ≥ 10,000 rows/s |`,
      `| usage writer into PostgreSQL, a month of history (rows spread over 35 days: each batch spans hours of rollups) | ${perSecond(rows - LIVE, month.ms)} rows/s wall; ${perSecond(rows - LIVE, (month.node + month.pg) * 1000)} rows per CPU-second | |`,
      `| month of spend for one key by day (\`GET spend?group_by=day&key=…\`, rollups) over ${rows.toLocaleString('en-US')} rows (${Number(r).toLocaleString('en-US')} rollup rows) | ${byKeyDay.toFixed(1)} ms (median of 25) | < 100 ms |`,
      `| month of spend of every key (\`GET spend?group_by=key\`, rollups) | ${allKeys.toFixed(1)} ms | |`,
      `| the same one-key month summed from the raw rows (for comparison; the time index, key filtered) | ${raw.toFixed(1)} ms | |`,
    ];
  } finally {
    await db.close();
    await pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchIdleRss(): Promise<string[]> {
  const upstream = await startUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'sipp-bench-pglite-'));
  const target = `[[targets]]
name = "chat"
type = "openai_compatible"
model = "bench-model"
base_url = "${upstream.url}"
token_env = "BENCH_UPSTREAM"
`;
  const env = { BENCH_UPSTREAM: upstream.apiKey };
  const settle = () => new Promise((r) => setTimeout(r, 3000));
  try {
    process.stderr.write('bench: usage, idle RSS without [database]\n');
    const plain = await startBenchGateway(target, 'bench-token-0123456789', env);
    await settle();
    const without = rssOf(plain.proc.pid!);
    await plain.stop();

    process.stderr.write('bench: usage, idle RSS with the embedded database\n');
    const token = 'bench-token-0123456789';
    // Open for sure: one request, then wait until its row is written (the database opens in the background).
    const opened = async (g: { port: number; mgmt: number }) => {
      const r = await fetch(`http://127.0.0.1:${g.port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await r.arrayBuffer();
      for (;;) {
        // A busy gateway (PGlite creating its files holds the event loop for seconds) may reset a kept-alive socket.
        const m = await fetch(`http://127.0.0.1:${g.mgmt}/metrics`)
          .then((res) => res.text())
          .catch(() => '');
        if (/^sipp_gateway_usage_rows_written_total [1-9]/m.test(m)) return;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const began = performance.now();
    const embedded = await startBenchGateway(`${target}[database]\ndata_dir = "${dir}"\n`, token, env);
    let openMs: number;
    let withDb: number;
    try {
      await opened(embedded);
      openMs = performance.now() - began;
      await settle();
      withDb = rssOf(embedded.proc.pid!);
    } finally {
      await embedded.stop();
    }
    // Opened again (files exist): the steady case of every later start.
    const beganAgain = performance.now();
    const again = await startBenchGateway(`${target}[database]\ndata_dir = "${dir}"\n`, token, env);
    let openAgainMs: number;
    let withDbAgain: number;
    try {
      await opened(again);
      openAgainMs = performance.now() - beganAgain;
      await settle();
      withDbAgain = rssOf(again.proc.pid!);
    } finally {
      await again.stop();
    }
    return [
      `| idle RSS, no \`[database]\` | ${mb(without)} MB | |`,
      `| idle RSS, embedded database (first start: creates its files, ${(openMs / 1000).toFixed(1)} s from start to the first row written) | ${mb(withDb)} MB (+${mb(withDb - without)} MB) | reported |`,
      `| idle RSS, embedded database (later start: ${(openAgainMs / 1000).toFixed(1)} s from start to the first row written) | ${mb(withDbAgain)} MB (+${mb(withDbAgain - without)} MB) | reported |`,
    ];
  } finally {
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchUsage(options: { rows?: number } = {}): Promise<string> {
  const rows = options.rows ?? 1_000_000;
  const lines: string[] = [];
  if (rows === 0) lines.push('| usage writer and spend queries | skipped (BENCH_USAGE_ROWS=0) | |');
  else if (postgresBin()) lines.push(...(await benchPostgres(rows)));
  else lines.push('| usage writer and spend queries | skipped: PostgreSQL is not installed | |');
  if (process.env.BENCH_USAGE_RSS !== '0') lines.push(...(await benchIdleRss()));
  return [
    '### Usage history: writer, spend queries, embedded database memory',
    '',
    `${rows.toLocaleString('en-US')} usage rows over 35 days (${KEYS} keys, 10 callers, ${MODELS.length} models), written in time order through the background writer into a loopback PostgreSQL (fsync off). Queries as the spend API runs them.`,
    '',
    '| measure | result | aim |',
    '| --- | --- | --- |',
    ...lines,
    '',
  ].join('\n');
}
