/**
 * Budget periods (docs/budgets.md#periods): calendar UTC day, ISO week
 * (Monday 00:00 UTC), month, or `total` (never resets).
 */
import type { BudgetPeriod } from '@sipp/shared';

export interface PeriodWindow {
  /** Names the period in counter keys: `2026-12-03`, `w2026-11-30`, `2026-12`, `total`. */
  id: string;
  /** Epoch ms the period began (0 for `total`). */
  start: number;
  /** Epoch ms the next period begins; null for `total`. */
  end: number | null;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The window each period was last asked for: every settlement asks for all four, and they change once a day at most. */
const lastWindow = new Map<BudgetPeriod, PeriodWindow>();

/** The period's window holding `now` (the same frozen object while `now` stays inside it). */
export function periodWindow(period: BudgetPeriod, now: number): PeriodWindow {
  const last = lastWindow.get(period);
  if (last && now >= last.start && (last.end === null || now < last.end)) return last;
  const w = Object.freeze(computeWindow(period, now));
  lastWindow.set(period, w);
  return w;
}

function computeWindow(period: BudgetPeriod, now: number): PeriodWindow {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case 'day': {
      const start = Date.UTC(y, m, d.getUTCDate());
      return { id: day(start), start, end: start + 86_400_000 };
    }
    case 'week': {
      // ISO weeks start on Monday (getUTCDay: Sunday = 0).
      const back = (d.getUTCDay() + 6) % 7;
      const start = Date.UTC(y, m, d.getUTCDate() - back);
      return { id: `w${day(start)}`, start, end: start + 7 * 86_400_000 };
    }
    case 'month': {
      const start = Date.UTC(y, m, 1);
      return { id: day(start).slice(0, 7), start, end: Date.UTC(y, m + 1, 1) };
    }
    case 'total':
      return { id: 'total', start: 0, end: null };
  }
}

/** Whole seconds until the period resets (at least 1); null for `total` (no Retry-After). */
export function secondsUntilReset(w: PeriodWindow, now: number): number | null {
  return w.end === null ? null : Math.max(1, Math.ceil((w.end - now) / 1000));
}
