/**
 * Spend queries and the raw-row export of the usage database
 * (docs/usage.md#spend). Spend reads only the rollups: daily rollups for the
 * whole UTC days of the range, hourly ones for the partial days at its ends,
 * so a month over millions of rows reads a few hundred rollup rows. The export
 * pages through `usage_rows` by (time, row_id), a batch at a time: never the whole
 * table in memory.
 */
import type { SpendGroup, SpendInterval, SpendRow, UsageExportRow } from '@sipp/shared';
import type { Queryable } from './database.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface SpendFilter {
  key?: string;
  caller?: string;
  target?: string;
  model?: string;
}

export interface SpendQuery extends SpendFilter {
  groupBy: SpendGroup;
  /** Epoch ms; rounded out to whole UTC hours. */
  from: number;
  to: number;
  interval?: SpendInterval;
}

/** The whole UTC hours covering [from, to). */
export function hourRange(from: number, to: number): { from: number; to: number } {
  return { from: Math.floor(from / HOUR) * HOUR, to: Math.max(Math.floor(from / HOUR) * HOUR, Math.ceil(to / HOUR) * HOUR) };
}

/**
 * Which rollup rows cover [from, to) (whole hours): the whole days in it from
 * the daily rollups, the rest from the hourly ones. `hourly` forces hourly
 * rollups throughout (an hourly series cannot come from daily sums).
 */
export function rollupPlan(
  from: number,
  to: number,
  hourly = false,
): { days: [number, number] | null; hours: Array<[number, number]> } {
  const firstDay = Math.ceil(from / DAY) * DAY;
  const lastDay = Math.floor(to / DAY) * DAY;
  if (hourly || firstDay >= lastDay) return { days: null, hours: from < to ? [[from, to]] : [] };
  const hours: Array<[number, number]> = [];
  if (from < firstDay) hours.push([from, firstDay]);
  if (lastDay < to) hours.push([lastDay, to]);
  return { days: [firstDay, lastDay], hours };
}

const GROUP_EXPR: Record<SpendGroup, string> = {
  key: 'key_id',
  caller: 'caller',
  target: 'target',
  model: 'model',
  day: `to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
};

const TIME_EXPR: Record<SpendInterval, string> = {
  hour: 'extract(epoch FROM bucket) * 1000',
  day: `extract(epoch FROM date_trunc('day', bucket AT TIME ZONE 'UTC')) * 1000`,
};

const FILTER_COLUMN: Record<keyof SpendFilter, string> = { key: 'key_id', caller: 'caller', target: 'target', model: 'model' };

const ts = (i: number) => `to_timestamp($${i}::float8 / 1000)`;

/** Sums the rollups over the range, by the group (and, with an interval, per hour or day). */
export async function querySpend(db: Queryable, q: SpendQuery): Promise<SpendRow[]> {
  const { from, to } = hourRange(q.from, q.to);
  const plan = rollupPlan(from, to, q.interval === 'hour');
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return params.length;
  };
  const ranges: string[] = [];
  if (plan.days) ranges.push(`(period = 'day' AND bucket >= ${ts(p(plan.days[0]))} AND bucket < ${ts(p(plan.days[1]))})`);
  for (const [a, b] of plan.hours) ranges.push(`(period = 'hour' AND bucket >= ${ts(p(a))} AND bucket < ${ts(p(b))})`);
  if (ranges.length === 0) return [];
  const where = [`(${ranges.join(' OR ')})`];
  for (const f of Object.keys(FILTER_COLUMN) as Array<keyof SpendFilter>) {
    const v = q[f];
    if (v !== undefined) where.push(`${FILTER_COLUMN[f]} = $${p(v)}`);
  }
  const time = q.interval ? `, (${TIME_EXPR[q.interval]})::float8 AS time` : '';
  const order = q.interval
    ? 'time, cost_usd DESC, requests DESC, grp'
    : q.groupBy === 'day'
      ? 'grp'
      : 'cost_usd DESC, requests DESC, grp';
  const rows = await db.query<{
    grp: string;
    time?: number;
    requests: number;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
  }>(
    `SELECT ${GROUP_EXPR[q.groupBy]} AS grp${time},
       sum(requests)::float8 AS requests, sum(input_tokens)::float8 AS input_tokens,
       sum(output_tokens)::float8 AS output_tokens, sum(cost_usd)::float8 AS cost_usd
     FROM usage_rollups WHERE ${where.join(' AND ')}
     GROUP BY 1${q.interval ? ', 2' : ''} ORDER BY ${order}`,
    params,
  );
  return rows.map((r) => ({
    group: r.grp,
    ...(q.interval ? { time: Number(r.time) } : {}),
    requests: Number(r.requests),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cost_usd: Number(r.cost_usd),
  }));
}

export interface UsageExportQuery {
  from: number;
  to: number;
  key?: string;
  caller?: string;
  target?: string;
}

/** Rows fetched per query of the export. */
export const EXPORT_BATCH = 1000;

const EXPORT_SELECT = `SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS iso, time::text AS cur_t, row_id::text AS cur_id,
  request_id, key_id, caller, api, operation, model, target, status, code, input_tokens, output_tokens,
  cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, ttft_ms, stream
FROM usage_rows`;

type ExportDbRow = Omit<UsageExportRow, 'time'> & { iso: string; cur_t: string; cur_id: string };

/**
 * The usage rows in [from, to) matching the filters, oldest first, a batch at
 * a time (keyset paging on (time, row_id): each batch is one query on the time index, and no
 * transaction or connection is held between batches).
 */
export async function* exportUsage(db: Queryable, q: UsageExportQuery, batch = EXPORT_BATCH): AsyncGenerator<UsageExportRow[]> {
  let cursor: { t: string; id: string } | null = null;
  for (;;) {
    const params: unknown[] = [q.from, q.to];
    const where = [`time >= ${ts(1)}`, `time < ${ts(2)}`];
    for (const [f, col] of [
      ['key', 'key_id'],
      ['caller', 'caller'],
      ['target', 'target'],
    ] as const) {
      const v = q[f];
      if (v !== undefined) {
        params.push(v);
        where.push(`${col} = $${params.length}`);
      }
    }
    if (cursor) {
      params.push(cursor.t, cursor.id);
      const [t, id] = [params.length - 1, params.length];
      where.push(`time >= $${t}::timestamptz`, `(time, row_id) > ($${t}::timestamptz, $${id}::uuid)`);
    }
    params.push(batch);
    const rows = await db.query<ExportDbRow>(
      `${EXPORT_SELECT} WHERE ${where.join(' AND ')} ORDER BY time, row_id LIMIT $${params.length}`,
      params,
    );
    if (rows.length === 0) return;
    const last = rows.at(-1)!;
    cursor = { t: last.cur_t, id: last.cur_id };
    yield rows.map(({ iso, cur_t: _t, cur_id: _id, ...r }) => ({
      time: iso,
      ...r,
      cost_usd: Number(r.cost_usd),
      latency_ms: Number(r.latency_ms),
      ttft_ms: r.ttft_ms === null ? null : Number(r.ttft_ms),
    }));
    if (rows.length < batch) return;
  }
}
