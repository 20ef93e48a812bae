/**
 * `GET <admin>/api/spend` and `GET <admin>/api/usage` (docs/usage.md#spend):
 * query validation (a 400 names the field), the answers when there is no
 * `[database]` (404) or it is unreachable (503), and the streamed CSV / JSON
 * export of raw usage rows.
 */
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import {
  SPEND_GROUPS,
  SPEND_INTERVALS,
  USAGE_EXPORT_COLUMNS,
  USAGE_FORMATS,
  type SpendGroup,
  type SpendInterval,
  type SpendResponse,
  type UsageExportRow,
  type UsageFormat,
} from '@sipp/shared';
import { AdminError } from '../errors.js';
import type { UsageDatabase } from '../usage/database.js';
import { exportUsage, hourRange, querySpend, type SpendFilter } from '../usage/spend.js';

/** What the admin API needs of the usage service (absent without `[database]`). */
export interface UsageAccess {
  database(): Promise<UsageDatabase>;
}

const MAX_TEXT = 200;

function one(ctx: Context, name: string): string | undefined {
  const raw = ctx.query[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === '') return undefined;
  if (v.length > MAX_TEXT) throw new AdminError('invalid_request', `${name}: too long (at most ${MAX_TEXT} characters)`);
  return v;
}

function choice<T extends string>(ctx: Context, name: string, allowed: readonly T[]): T | undefined {
  const v = one(ctx, name);
  if (v !== undefined && !(allowed as readonly string[]).includes(v))
    throw new AdminError('invalid_request', `${name}: must be one of ${allowed.join(', ')}`);
  return v as T | undefined;
}

/** A time: epoch milliseconds or an ISO 8601 date / date-time (UTC unless it names an offset). */
export function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t) || t < 0 || t > 8.64e15)
    throw new AdminError(
      'invalid_request',
      `${name}: must be an ISO 8601 time (e.g. 2026-12-01T00:00:00Z) or epoch milliseconds`,
    );
  return t;
}

/** The first instant of the current UTC month. */
export function monthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function range(ctx: Context, defaultFrom: number, now: number): { from: number; to: number } {
  const from = parseTime('from', one(ctx, 'from')) ?? defaultFrom;
  const to = parseTime('to', one(ctx, 'to')) ?? now;
  if (to < from) throw new AdminError('invalid_request', 'to: must not be before from');
  return { from, to };
}

function filters<K extends keyof SpendFilter>(ctx: Context, names: readonly K[]): Pick<SpendFilter, K> {
  const out: Partial<SpendFilter> = {};
  for (const n of names) {
    const v = one(ctx, n);
    if (v !== undefined) out[n] = v;
  }
  return out as Pick<SpendFilter, K>;
}

async function open(usage: UsageAccess | null): Promise<UsageDatabase> {
  if (!usage)
    throw new AdminError(
      'not_found',
      'usage history is off: the configuration has no [database] table (docs/usage.md), so there is no spend or usage to show',
    );
  try {
    return await usage.database();
  } catch {
    // The reason may name the server; the URL (and its password) never reaches a message.
    throw new AdminError('unavailable', 'the usage database is not reachable right now; retry shortly');
  }
}

async function query<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AdminError) throw err;
    throw new AdminError('unavailable', 'the usage database did not answer; retry shortly');
  }
}

/** `GET spend?group_by=key|caller|target|model|day&from&to[&interval=hour|day&key&caller&target&model]`. */
export async function spend(usage: UsageAccess | null, ctx: Context, now = Date.now()): Promise<SpendResponse> {
  const groupBy = choice<SpendGroup>(ctx, 'group_by', SPEND_GROUPS);
  if (groupBy === undefined) throw new AdminError('invalid_request', `group_by: is required (one of ${SPEND_GROUPS.join(', ')})`);
  const interval = choice<SpendInterval>(ctx, 'interval', SPEND_INTERVALS);
  const r = range(ctx, monthStart(now), now);
  const f = filters(ctx, ['key', 'caller', 'target', 'model'] as const);
  const db = await open(usage);
  const rows = await query(() => querySpend(db, { groupBy, ...r, ...(interval ? { interval } : {}), ...f }));
  return { group_by: groupBy, ...hourRange(r.from, r.to), rows };
}

/** A CSV field (RFC 4180), with text that a spreadsheet would run as a formula made inert. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'string') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (r: UsageExportRow) => `${USAGE_EXPORT_COLUMNS.map((c) => csvField(r[c])).join(',')}\r\n`;

/**
 * `GET usage?format=csv|json&from&to&key&caller&target`: the raw rows, streamed
 * a batch at a time. The first batch is read before the answer starts, so an
 * unreachable database is a 503, not a broken 200.
 */
export async function usageExport(usage: UsageAccess | null, ctx: Context, now = Date.now()): Promise<Readable> {
  const format = choice<UsageFormat>(ctx, 'format', USAGE_FORMATS) ?? 'csv';
  const r = range(ctx, 0, now);
  const f = filters(ctx, ['key', 'caller', 'target'] as const);
  const db = await open(usage);
  const batches = exportUsage(db, { ...r, ...f });
  const first = await query(() => batches.next());
  async function* text(): AsyncGenerator<string> {
    let n = 0;
    if (format === 'csv') yield `${USAGE_EXPORT_COLUMNS.join(',')}\r\n`;
    else yield '[';
    for (let b = first; !b.done; b = await batches.next()) {
      if (format === 'csv') yield b.value.map(csvLine).join('');
      else yield b.value.map((row) => `${n++ === 0 ? '\n' : ',\n'}${JSON.stringify(row)}`).join('');
    }
    if (format === 'json') yield '\n]\n';
  }
  const stamp = (t: number) => new Date(t).toISOString().replace(/[:.]/g, '-');
  ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8';
  ctx.set('Content-Disposition', `attachment; filename="sipp-usage-${stamp(r.from)}-${stamp(r.to)}.${format}"`);
  ctx.set('X-Content-Type-Options', 'nosniff');
  return Readable.from(text(), { objectMode: false });
}
