/**
 * A key's spend in its budget period (docs/keys.md#spend), read from the daily
 * usage rollups: a few rows per key, whatever the traffic.
 */
import type { BudgetPeriod } from '@sipp/shared';
import type { Queryable } from '../usage/database.js';

/** Start (epoch ms) of the calendar UTC period containing `now`: day, ISO week (Monday), month; null for `total`. */
export function periodStart(period: BudgetPeriod, now: number): number | null {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  switch (period) {
    case 'day':
      return Date.UTC(y, m, day);
    case 'week':
      return Date.UTC(y, m, day - ((d.getUTCDay() + 6) % 7));
    case 'month':
      return Date.UTC(y, m, 1);
    case 'total':
      return null;
  }
}

export interface SpendTotals {
  usd: number;
  tokens: number;
  requests: number;
}

/** Spend per key id since `from` (null: everything the rollups still hold). */
export async function spendByKey(q: Queryable, ids: readonly string[], from: number | null): Promise<Map<string, SpendTotals>> {
  const out = new Map<string, SpendTotals>();
  if (ids.length === 0) return out;
  const rows = await q.query<{ key_id: string; usd: number; tokens: number; requests: number }>(
    `SELECT key_id, sum(cost_usd)::float8 AS usd, sum(input_tokens + output_tokens)::float8 AS tokens,
       sum(requests)::float8 AS requests
     FROM usage_rollups
     WHERE period = 'day' AND key_id IN (SELECT jsonb_array_elements_text($1::jsonb))
       AND ($2::timestamptz IS NULL OR bucket >= $2::timestamptz)
     GROUP BY key_id`,
    [JSON.stringify(ids), from === null ? null : new Date(from).toISOString()],
  );
  for (const r of rows) out.set(r.key_id, { usd: Number(r.usd), tokens: Number(r.tokens), requests: Number(r.requests) });
  return out;
}
