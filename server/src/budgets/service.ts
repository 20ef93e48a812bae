/**
 * Budgets, cost and per-key limits on the request path (docs/budgets.md):
 * admission reserves a request's worst case against every budget that applies
 * (its key's, its caller's) and takes its key's rpm / tpm, all in one ledger
 * call; settlement, once the request is over, prices what the target reported
 * and replaces the reservation with it. Spend is counted for every key and
 * caller and every period, budget or not, so a budget set later starts from
 * the real spend.
 */
import { BUDGET_PERIODS, type Budget, type BudgetPeriod, type KeyLimits } from '@sipp/shared';
import type { Logger } from 'pino';
import { Counter, type Registry } from '../telemetry/prom.js';
import type { CallerBudgets } from './caller-budgets.js';
import type { Amount, AdmitOutcome, Ledger, RateCheck, ScopeCheck, SettleInput, Spend } from './ledger.js';
import { periodWindow, secondsUntilReset, type PeriodWindow } from './periods.js';
import { costNano, nanoOf, usdOf, type Pricing, type TokenCounts } from './pricing.js';

/** One day of spend of a scope before this process started (the usage database's daily rollups). */
export interface SeedDay {
  day: number;
  nano: number;
  tokens: number;
}

export interface Who {
  /** The key's id, or `config:<caller>` for a config token. */
  keyId: string;
  caller: string;
  limits: KeyLimits | undefined;
}

export interface Reservation {
  who: Who;
  amount: Amount;
  /** When admitted: its periods are the ones settled. */
  at: number;
  /** The counters that hold the reservation. */
  keys: ReadonlySet<string>;
  /** Its lease in a shared ledger (docs/budgets.md#leases). */
  lease?: string;
}

export type AdmitDecision =
  | { ok: true; reservation: Reservation }
  | { ok: false; code: 'budget_exceeded'; message: string; retryAfterSeconds: number | null }
  | { ok: false; code: 'rate_limited'; message: string; retryAfterSeconds: number };

export interface BudgetAudit {
  record(entry: { action: string; before: unknown; after: unknown; session: string | null; client: string }): unknown;
}

export interface BudgetServiceOptions {
  ledger: Ledger;
  callerBudgets: CallerBudgets;
  /** Per target name; absent = free. */
  pricing: ReadonlyMap<string, Pricing>;
  thresholdPercent: number;
  log: Logger;
  registry: Registry;
  /** The admin audit log (`budget.threshold`); set once the admin module exists. */
  audit?: BudgetAudit;
  now?: () => number;
}

const NONE: Amount = Object.freeze({ nano: 0, tokens: 0 });
const NO_KEYS: ReadonlySet<string> = new Set();

const PERIOD_WORD: Record<BudgetPeriod, string> = { day: 'daily', week: 'weekly', month: 'monthly', total: 'total' };

/** How long an admission or settlement plan is reused at most (admitPlan, settlePlan). */
const PLAN_MS = 60_000;
const MAX_PLANS = 10_000;

interface SettleScope {
  scope: 'key' | 'caller';
  name: string;
  period: BudgetPeriod;
  w: PeriodWindow;
  budget: Budget | undefined;
  key: string;
  seedNano: number;
  seedTokens: number;
  thresholdNano: number;
  thresholdTokens: number;
  ttlMs: number;
}

/**
 * What admission checks for one key and caller (admitPlan): the budgets that
 * apply, their counters and the key's rate limits, the same for every request
 * of the key until a period turns, its limits, its caller's budget or the seed
 * change.
 */
interface AdmitPlan {
  from: number;
  until: number;
  limits: KeyLimits | undefined;
  callerBudget: Budget | undefined;
  seeds: Map<string, SeedDay[]>;
  budgets: ReadonlyArray<{ scope: 'key' | 'caller'; name: string; budget: Budget; w: PeriodWindow }>;
  scopes: readonly ScopeCheck[];
  /** The counters that hold a reservation admitted with this plan (shared by its reservations; never changed). */
  keys: ReadonlySet<string>;
  rate: RateCheck | null;
}

/** Counters outlive their period by this much, so a late settlement still lands in its own period. */
const TTL_MARGIN_MS = 2 * 86_400_000;

export class BudgetService {
  readonly now: () => number;
  audit: BudgetAudit | undefined;
  private seeds = new Map<string, SeedDay[]>();
  /** Settlement plans by key and caller (settlePlan). */
  private readonly plans = new Map<
    string,
    {
      from: number;
      until: number;
      keyBudget: Budget | undefined;
      callerBudget: Budget | undefined;
      seeds: Map<string, SeedDay[]>;
      scopes: readonly SettleScope[];
    }
  >();
  /** Admission plans by key and caller (admitPlan). */
  private readonly admitPlans = new Map<string, AdmitPlan>();
  /**
   * Per settlement plan, its scopes with `held` set for the counters a
   * reservation holds (by the reservation's key set, which admission shares
   * among the reservations of one plan).
   */
  private readonly heldScopes = new WeakMap<readonly SettleScope[], { keys: ReadonlySet<string>; all: SettleInput['scopes'] }>();
  private seededAt = 0;
  private readonly seedSums = new Map<string, Spend>();
  /**
   * Cost per target not yet added to the counter, in nano-USD: summed here per
   * request and added when the metric is read (target names come from the
   * config, so the map stays small).
   */
  private readonly costPending = new Map<string, number>();
  private readonly rejections: Counter;
  private readonly crossings: Counter;
  /** Budgets over their soft threshold this period (the dashboard banner), by counter key. */
  private readonly over = new Map<
    string,
    { scope: 'key' | 'caller'; name: string; period: BudgetPeriod; end: number | null; percent: number }
  >();

  constructor(private readonly o: BudgetServiceOptions) {
    this.now = o.now ?? Date.now;
    this.audit = o.audit;
    const pending = this.costPending;
    new Counter({
      name: 'sipp_gateway_cost_usd_total',
      help: "What public requests cost in USD, from the serving target's pricing (docs/budgets.md#cost).",
      labelNames: ['target'],
      registers: [o.registry],
      collect() {
        for (const [target, nano] of pending) this.labels({ target }).inc(usdOf(nano));
        pending.clear();
      },
    });
    this.rejections = new Counter({
      name: 'sipp_gateway_budget_rejections_total',
      help: 'Requests refused with 429 budget_exceeded (a key or caller budget was spent).',
      registers: [o.registry],
    });
    this.crossings = new Counter({
      name: 'sipp_gateway_budget_threshold_crossings_total',
      help: "Times a key's or caller's spend crossed the soft threshold of its budget (once per budget and period).",
      registers: [o.registry],
    });
  }

  get callerBudgets(): CallerBudgets {
    return this.o.callerBudgets;
  }

  pricingOf(target: string | null): Pricing | undefined {
    return target === null ? undefined : this.o.pricing.get(target);
  }

  /** Spend before this process started, per scope (`key:<id>` / `caller:<label>`), by UTC day. */
  seed(days: ReadonlyMap<string, SeedDay[]>, at = this.now()): void {
    this.seeds = new Map(days);
    this.seededAt = at;
    this.seedSums.clear();
  }

  private seedOf(scope: string, w: PeriodWindow): Spend {
    const days = this.seeds.get(scope);
    const out = { nano: 0, tokens: 0 };
    if (!days) return out;
    // The seed never changes once loaded: summed once per scope and period.
    const cacheKey = `${scope}\u0000${w.id}`;
    const cached = this.seedSums.get(cacheKey);
    if (cached) return cached;
    if (this.seedSums.size >= 100_000) this.seedSums.clear();
    this.seedSums.set(cacheKey, out);
    for (const d of days) {
      if (d.day >= w.start && (w.end === null || d.day < w.end) && d.day < this.seededAt) {
        out.nano += d.nano;
        out.tokens += d.tokens;
      }
    }
    return out;
  }

  private budgetsOf(who: Who): Array<{ scope: 'key' | 'caller'; name: string; budget: Budget }> {
    const out: Array<{ scope: 'key' | 'caller'; name: string; budget: Budget }> = [];
    if (who.limits?.budget) out.push({ scope: 'key', name: who.keyId, budget: who.limits.budget });
    const cb = this.o.callerBudgets.get(who.caller);
    if (cb) out.push({ scope: 'caller', name: who.caller, budget: cb });
    return out;
  }

  /** Whether admission has anything to check for this caller (else the request path skips the ledger). */
  limited(who: Who): boolean {
    const l = who.limits;
    return !!(l?.budget || l?.rpm || l?.tpm) || this.o.callerBudgets.get(who.caller) !== undefined;
  }

  private counterKey(scope: 'key' | 'caller', name: string, w: PeriodWindow): string {
    return `${scope}:${encodeURIComponent(name)}:${w.id}`;
  }

  private ttl(w: PeriodWindow, now: number): number {
    return w.end === null ? 0 : Math.max(1, w.end - now + TTL_MARGIN_MS);
  }

  /**
   * Checks and reserves (docs/budgets.md#reservations). Answers at once when
   * the ledger does (the memory ledger), so the request path awaits nothing.
   */
  admit(who: Who, amount: Amount): AdmitDecision | Promise<AdmitDecision> {
    const now = this.now();
    const plan = this.admitPlan(who, now);
    const out = this.o.ledger.admit(plan.rate, plan.scopes, amount);
    return out instanceof Promise
      ? out.then((o) => this.decide(o, plan, who, amount, now))
      : this.decide(out, plan, who, amount, now);
  }

  private decide(out: AdmitOutcome, plan: AdmitPlan, who: Who, amount: Amount, now: number): AdmitDecision {
    if (out.ok) {
      return { ok: true, reservation: { who, amount, at: now, keys: plan.keys, ...(out.lease ? { lease: out.lease } : {}) } };
    }
    if (out.reason === 'budget') {
      this.rejections.inc();
      const b = plan.budgets[out.scope]!;
      const whose = b.scope === 'key' ? "this key's" : "this caller's";
      return {
        ok: false,
        code: 'budget_exceeded',
        message: `${whose} ${PERIOD_WORD[b.budget.period]} budget is spent (or this request's worst-case cost would pass it)`,
        retryAfterSeconds: secondsUntilReset(periodWindow(b.budget.period, now), now),
      };
    }
    return {
      ok: false,
      code: 'rate_limited',
      message: `this key's ${out.reason} limit is reached; retry later`,
      retryAfterSeconds: Math.max(1, Math.ceil(out.retryAfterMs / 1000)),
    };
  }

  /**
   * The budgets, counters and rate limits admission checks for a key and
   * caller: the same for every request of the key until one of its periods
   * turns, its limits (a key edit makes a new limits object, keys/cache.ts),
   * its caller's budget or the seed change, so they are kept for up to a
   * minute (the counter TTLs they carry are then at most a minute short of
   * their two-day margin, as settlement's).
   */
  private admitPlan(who: Who, now: number): AdmitPlan {
    const limits = who.limits;
    const callerBudget = this.o.callerBudgets.get(who.caller);
    const id = `${who.keyId}\u0000${who.caller}`;
    const hit = this.admitPlans.get(id);
    if (
      hit &&
      now >= hit.from &&
      now < hit.until &&
      hit.limits === limits &&
      hit.callerBudget === callerBudget &&
      hit.seeds === this.seeds
    )
      return hit;
    let until = now + PLAN_MS;
    const budgets = this.budgetsOf(who).map((b) => {
      const w = periodWindow(b.budget.period, now);
      if (w.end !== null) until = Math.min(until, w.end);
      return { ...b, w };
    });
    const scopes: ScopeCheck[] = budgets.map((b) => {
      const seed = this.seedOf(`${b.scope}:${b.name}`, b.w);
      return {
        key: this.counterKey(b.scope, b.name, b.w),
        limitNano: b.budget.usd !== undefined ? nanoOf(b.budget.usd) : -1,
        limitTokens: b.budget.tokens ?? -1,
        seedNano: seed.nano,
        seedTokens: seed.tokens,
        ttlMs: this.ttl(b.w, now),
      };
    });
    const rate =
      limits?.rpm || limits?.tpm
        ? { id: who.keyId, ...(limits.rpm ? { rpm: limits.rpm } : {}), ...(limits.tpm ? { tpm: limits.tpm } : {}) }
        : null;
    const plan: AdmitPlan = {
      from: now,
      until,
      limits,
      callerBudget,
      seeds: this.seeds,
      budgets,
      scopes,
      keys: new Set(scopes.map((x) => x.key)),
      rate,
    };
    if (this.admitPlans.size >= MAX_PLANS) this.admitPlans.clear();
    this.admitPlans.set(id, plan);
    return plan;
  }

  /** The request's cost in nano-USD at its target's prices (0 when unpriced). */
  cost(target: string | null, tokens: TokenCounts): number {
    const p = this.pricingOf(target);
    return p ? costNano(p, tokens) : 0;
  }

  /**
   * Counts a finished request's cost (metric) and settles it into every
   * period's counters of its key and caller. Returns nothing when the ledger
   * settled at once (the memory ledger), so the request's end awaits nothing.
   */
  settle(
    who: Who | null,
    reservation: Reservation | null,
    target: string | null,
    nano: number,
    tokens: number,
  ): void | Promise<void> {
    if (nano > 0 && target) this.costPending.set(target, (this.costPending.get(target) ?? 0) + nano);
    if (!who) return;
    const now = reservation?.at ?? this.now();
    const scopes = this.settlePlan(who, now);
    const reserved = reservation?.amount ?? NONE;
    const rate = who.limits?.tpm ? { id: who.keyId, tpm: who.limits.tpm } : null;
    const lease = reservation?.lease;
    const results = this.o.ledger.settle({
      rate,
      scopes: this.withHeld(scopes, reservation?.keys ?? null),
      reserved,
      actual: { nano, tokens },
      ...(lease ? { lease } : {}),
    });
    if (results instanceof Promise) return results.then((r) => this.settled(scopes, r));
    this.settled(scopes, results);
  }

  /** The settlement's scopes, each marked `held` when the reservation holds its counter. */
  private withHeld(scopes: readonly SettleScope[], held: ReadonlySet<string> | null): SettleInput['scopes'] {
    const cached = this.heldScopes.get(scopes);
    // Keyed by the reservation's key set: admission hands every reservation of one plan the same set.
    if (cached && cached.keys === (held ?? NO_KEYS)) return cached.all;
    const all = scopes.map((x) => ({
      key: x.key,
      thresholdNano: x.thresholdNano,
      thresholdTokens: x.thresholdTokens,
      ttlMs: x.ttlMs,
      seedNano: x.seedNano,
      seedTokens: x.seedTokens,
      held: held?.has(x.key) ?? false,
    }));
    this.heldScopes.set(scopes, { keys: held ?? NO_KEYS, all });
    return all;
  }

  private settled(scopes: readonly SettleScope[], results: ReadonlyArray<{ spend: Spend; crossed: boolean }>): void {
    for (let i = 0; i < results.length; i++) {
      const s = scopes[i]!;
      if (!s.budget) continue;
      const r = results[i]!;
      const percent = budgetPercent(s.budget, r.spend);
      if (percent >= this.o.thresholdPercent)
        this.over.set(s.key, { scope: s.scope, name: s.name, period: s.period, end: s.w.end, percent });
      if (r.crossed) this.crossed(s.scope, s.name, s.budget, r.spend, percent);
    }
  }

  /**
   * The counters a settlement touches (every period of the key and of the
   * caller) with their thresholds and seeds: the same for every request of a
   * key until a period turns, a budget or the seed changes, so they are kept
   * per key for up to a minute (the counter TTLs they carry are then at most
   * a minute long of their two-day margin).
   */
  private settlePlan(who: Who, now: number): readonly SettleScope[] {
    const keyBudget = who.limits?.budget;
    const callerBudget = this.o.callerBudgets.get(who.caller);
    const id = `${who.keyId}\u0000${who.caller}`;
    const hit = this.plans.get(id);
    if (
      hit &&
      now >= hit.from &&
      now < hit.until &&
      hit.keyBudget === keyBudget &&
      hit.callerBudget === callerBudget &&
      hit.seeds === this.seeds
    )
      return hit.scopes;
    const budgets = this.budgetsOf(who);
    const pct = this.o.thresholdPercent / 100;
    let until = now + PLAN_MS;
    const scopes = (['key', 'caller'] as const).flatMap((scope) =>
      BUDGET_PERIODS.map((period): SettleScope => {
        const name = scope === 'key' ? who.keyId : who.caller;
        const w = periodWindow(period, now);
        if (w.end !== null) until = Math.min(until, w.end);
        const b = budgets.find((x) => x.scope === scope && x.budget.period === period)?.budget;
        const seed = this.seedOf(`${scope}:${name}`, w);
        return {
          scope,
          name,
          period,
          w,
          budget: b,
          key: this.counterKey(scope, name, w),
          seedNano: seed.nano,
          seedTokens: seed.tokens,
          thresholdNano: b?.usd !== undefined ? Math.ceil(nanoOf(b.usd) * pct) : -1,
          thresholdTokens: b?.tokens !== undefined ? Math.ceil(b.tokens * pct) : -1,
          ttlMs: this.ttl(w, now),
        };
      }),
    );
    if (this.plans.size >= MAX_PLANS) this.plans.clear();
    this.plans.set(id, { from: now, until, keyBudget, callerBudget, seeds: this.seeds, scopes });
    return scopes;
  }

  private crossed(scope: 'key' | 'caller', name: string, budget: Budget, spend: Spend, percent: number): void {
    this.crossings.inc();
    const after = {
      [scope]: name,
      budget,
      spent_usd: usdOf(spend.nano),
      spent_tokens: spend.tokens,
      percent: Math.round(percent * 10) / 10,
      threshold_percent: this.o.thresholdPercent,
    };
    this.o.log.warn(after, `${scope} budget passed its soft threshold`);
    this.audit?.record({ action: 'budget.threshold', before: null, after, session: null, client: 'gateway' });
  }

  /** Budgets over their soft threshold in their current period (the dashboard banner). */
  alerts(): Array<{ scope: 'key' | 'caller'; name: string; period: BudgetPeriod; percent: number }> {
    const now = this.now();
    const out = [];
    for (const [k, a] of this.over) {
      if (a.end !== null && a.end <= now) {
        this.over.delete(k);
        continue;
      }
      out.push({ scope: a.scope, name: a.name, period: a.period, percent: Math.round(a.percent * 10) / 10 });
    }
    return out.sort((a, b) => b.percent - a.percent);
  }

  /** A budget's spend this period and what running requests hold reserved in it (admin views; live leases only). */
  async spend(
    scope: 'key' | 'caller',
    name: string,
    period: BudgetPeriod,
  ): Promise<{ usd: number; tokens: number; reserved: { usd: number; tokens: number } }> {
    const now = this.now();
    const w = periodWindow(period, now);
    const s = await this.o.ledger.read(this.counterKey(scope, name, w));
    const seed = s.nano === 0 && s.tokens === 0 ? this.seedOf(`${scope}:${name}`, w) : { nano: 0, tokens: 0 };
    return {
      usd: usdOf(s.nano + seed.nano),
      tokens: s.tokens + seed.tokens,
      reserved: { usd: usdOf(s.reservedNano), tokens: s.reservedTokens },
    };
  }
}

/** How far into a budget a spend is, in percent (the larger of its USD and token shares). */
export function budgetPercent(b: Budget, s: Spend): number {
  const u = b.usd !== undefined ? (usdOf(s.nano) / b.usd) * 100 : 0;
  const t = b.tokens !== undefined ? (s.tokens / b.tokens) * 100 : 0;
  return Math.max(u, t);
}
