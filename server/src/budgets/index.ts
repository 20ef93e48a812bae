/**
 * Budgets (docs/budgets.md): the service the budget pipeline module and the
 * admin API use, over the ledger of the configured [state] backend (memory,
 * or Redis shared by the fleet), with caller budgets stored where every
 * replica sees them and spend seeded at start from the usage database, so a
 * restart does not reset it.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/schema.js';
import type { GatewayState } from '../state/index.js';
import type { UsageDatabase } from '../usage/database.js';
import { memoryCallerBudgets, redisCallerBudgets } from './caller-budgets.js';
import { MemoryLedger, type Ledger } from './ledger.js';
import { pricingOf, type Pricing } from './pricing.js';
import { RedisLedger } from './redis-ledger.js';
import { BudgetService, type SeedDay } from './service.js';

export { BudgetService } from './service.js';

export interface Budgets {
  service: BudgetService;
  /** Loads caller budgets and seeds spend from the usage database; resolves when done or given up (never rejects). */
  ready: Promise<void>;
  close(): void;
}

export interface BudgetsDeps {
  config: Pick<GatewayConfig, 'targets' | 'budgets'>;
  state: Pick<GatewayState, 'redis'>;
  /** The usage database, when `[database]` is configured. */
  database: (() => Promise<UsageDatabase>) | null;
  log: Logger;
  registry: Registry;
  now?: () => number;
}

export function createBudgets(d: BudgetsDeps): Budgets {
  const pricing = new Map<string, Pricing>();
  for (const t of d.config.targets) if (t.pricing) pricing.set(t.name, pricingOf(t.pricing));
  const r = d.state.redis;
  const ledger: Ledger = r
    ? new RedisLedger({
        redis: r.client,
        keyPrefix: r.keyPrefix,
        breaker: r.breaker,
        onError: r.onError,
        countError: r.countError,
        beforeClose: r.beforeClose,
        leaseMs: Math.round(d.config.budgets.reservation_lease_seconds * 1000),
      })
    : new MemoryLedger(d.now);
  const callerBudgets = r
    ? redisCallerBudgets(r.client, r.keyPrefix, d.log, r.countError)
    : memoryCallerBudgets(d.database, d.log);
  const service = new BudgetService({
    ledger,
    callerBudgets,
    pricing,
    thresholdPercent: d.config.budgets.threshold_percent,
    log: d.log,
    registry: d.registry,
    ...(d.now ? { now: d.now } : {}),
  });
  const ready = (async () => {
    try {
      await callerBudgets.load();
    } catch (err) {
      d.log.warn({ err: { message: (err as Error).message } }, 'caller budgets not loaded');
    }
    if (!d.database) return;
    try {
      service.seed(await seedDays(await d.database()));
    } catch (err) {
      d.log.warn(
        { err: { message: (err as Error).message } },
        'spend not seeded from the usage database; budgets count from zero',
      );
    }
  })();
  return {
    service,
    ready,
    close: () => {
      callerBudgets.close();
      ledger.close?.();
    },
  };
}

/** Daily spend per key and caller from the usage rollups (docs/budgets.md#restarts). */
export async function seedDays(db: UsageDatabase): Promise<Map<string, SeedDay[]>> {
  const rows = await db.query<{
    key_id: string;
    caller: string;
    day: string | number;
    cost: string | number;
    tokens: string | number;
  }>(
    `SELECT key_id, caller, extract(epoch from bucket) * 1000 AS day, sum(cost_usd) AS cost,
            sum(input_tokens + output_tokens) AS tokens
       FROM usage_rollups WHERE period = 'day' GROUP BY key_id, caller, bucket`,
  );
  const out = new Map<string, SeedDay[]>();
  const add = (scope: string, day: SeedDay) => {
    const list = out.get(scope);
    if (list) list.push(day);
    else out.set(scope, [day]);
  };
  for (const row of rows) {
    const day = { day: Number(row.day), nano: Math.round(Number(row.cost) * 1e9), tokens: Number(row.tokens) };
    // Config tokens write no key id: their budgets are kept under `config:<caller>` (modules/budget.ts).
    const key = row.key_id !== '' ? row.key_id : row.caller !== '' ? `config:${row.caller}` : null;
    if (key !== null) add(`key:${key}`, day);
    if (row.caller !== '') add(`caller:${row.caller}`, { ...day });
  }
  return out;
}
