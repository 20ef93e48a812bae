/**
 * Caller budgets (`GET/PUT <admin>/api/callers/{caller}/budget`,
 * docs/budgets.md#caller-budgets): the sum of a caller's keys against one
 * budget. Kept where every replica sees them: in Redis (one hash, re-read by
 * each replica every second) with the redis [state] backend, else in the
 * usage database (table `caller_budgets`, migration 3) when `[database]` is
 * configured, else in memory only (lost on restart).
 */
import type { Budget } from '@sipp/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { StateUnavailableError } from '../errors.js';
import type { UsageDatabase } from '../usage/database.js';

export interface CallerBudgets {
  get(caller: string): Budget | undefined;
  all(): ReadonlyMap<string, Budget>;
  /** null removes the caller's budget. */
  set(caller: string, budget: Budget | null): Promise<void>;
  close(): void;
}

const parse = (raw: string): Budget | undefined => {
  try {
    const b = JSON.parse(raw) as Budget;
    return typeof b === 'object' && b !== null && typeof b.period === 'string' ? b : undefined;
  } catch {
    return undefined;
  }
};

export function memoryCallerBudgets(
  db: (() => Promise<UsageDatabase>) | null,
  log: Logger,
): CallerBudgets & { load(): Promise<void> } {
  const map = new Map<string, Budget>();
  return {
    get: (c) => map.get(c),
    all: () => map,
    async load() {
      if (!db) return;
      const rows = await (await db()).query<{ caller: string; budget: string }>('SELECT caller, budget FROM caller_budgets');
      for (const r of rows) {
        const b = parse(typeof r.budget === 'string' ? r.budget : JSON.stringify(r.budget));
        if (b) map.set(r.caller, b);
      }
    },
    async set(caller, budget) {
      if (db) {
        const d = await db();
        if (budget) {
          await d.query(
            `INSERT INTO caller_budgets (caller, budget, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (caller) DO UPDATE SET budget = EXCLUDED.budget, updated_at = now()`,
            [caller, JSON.stringify(budget)],
          );
        } else await d.query('DELETE FROM caller_budgets WHERE caller = $1', [caller]);
      }
      if (budget) map.set(caller, budget);
      else map.delete(caller);
      log.debug({ caller }, 'caller budget stored');
    },
    close() {},
  };
}

export function redisCallerBudgets(redis: Redis, keyPrefix: string, log: Logger, countError: () => void, refreshMs = 1000) {
  const key = `${keyPrefix}caller-budgets`;
  let map = new Map<string, Budget>();
  const refresh = async () => {
    try {
      const h = await redis.hgetall(key);
      const next = new Map<string, Budget>();
      for (const [c, raw] of Object.entries(h)) {
        const b = parse(raw);
        if (b) next.set(c, b);
      }
      map = next;
    } catch {
      countError();
    }
  };
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  const out: CallerBudgets & { load(): Promise<void> } = {
    get: (c) => map.get(c),
    all: () => map,
    load: refresh,
    async set(caller, budget) {
      try {
        if (budget) await redis.hset(key, caller, JSON.stringify(budget));
        else await redis.hdel(key, caller);
      } catch {
        countError();
        // The admin API answers 503 unavailable (admin/index.ts).
        throw new StateUnavailableError('the shared state store (Redis) is unreachable: the caller budget was not saved');
      }
      if (budget) map.set(caller, budget);
      else map.delete(caller);
      log.debug({ caller }, 'caller budget stored');
    },
    close: () => clearInterval(timer),
  };
  return out;
}
