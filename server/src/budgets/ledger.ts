/**
 * The spend counters and per-key rate limits behind budgets
 * (docs/budgets.md#reservations): one admission call checks every budget
 * that applies (the key's, its caller's), the key's `rpm` and `tpm`, and
 * reserves the request's worst case, all or nothing; settlement releases the
 * reservation and adds the real spend. The memory ledger does it in this
 * process; the Redis ledger (redis-ledger.ts) in one Lua script per call, so
 * replicas sharing Redis share one set of counters.
 */

/** One budget's counter for one period. Limits are -1 when the budget has none of that kind. */
export interface ScopeCheck {
  /** Counter key (scope and period, e.g. `key:k1:2026-12-03`). */
  key: string;
  limitNano: number;
  limitTokens: number;
  /** Spend already recorded for this period elsewhere (usage database at start): the counter's start when it is new. */
  seedNano: number;
  seedTokens: number;
  /** ms after which the counter may be dropped (the period's end plus a margin); 0 = never. */
  ttlMs: number;
}

export interface RateCheck {
  /** The key's id (or `config:<caller>`). */
  id: string;
  rpm?: number;
  tpm?: number;
}

export interface Amount {
  nano: number;
  tokens: number;
}

export type AdmitOutcome =
  /** `lease`: the reservation's id in a shared ledger (redis-ledger.ts), handed back at settlement. */
  | { ok: true; lease?: string }
  /** `scope`: index into the checks of the budget that is spent. */
  | { ok: false; reason: 'budget'; scope: number }
  | { ok: false; reason: 'rpm' | 'tpm'; retryAfterMs: number };

export interface SettleInput {
  rate: RateCheck | null;
  /** `held`: the counter holds this request's reservation (admission checked it), released now. */
  scopes: ReadonlyArray<{
    key: string;
    thresholdNano: number;
    thresholdTokens: number;
    ttlMs: number;
    held: boolean;
    seedNano: number;
    seedTokens: number;
  }>;
  reserved: Amount;
  actual: Amount;
  /** The lease admission returned (shared ledger): settling ends it. */
  lease?: string;
}

export interface Spend {
  nano: number;
  tokens: number;
}

export type SettleResult = Array<{ spend: Spend; crossed: boolean }>;

/**
 * A ledger in this process answers at once (a value, not a promise), so a
 * request that only touches memory awaits nothing; a shared one answers with
 * a promise.
 */
export interface Ledger {
  admit(rate: RateCheck | null, scopes: readonly ScopeCheck[], reserve: Amount): AdmitOutcome | Promise<AdmitOutcome>;
  /** Per scope: the spend after settling, and whether this settlement took it over the soft threshold (once per period). */
  settle(input: SettleInput): SettleResult | Promise<SettleResult>;
  /**
   * The spend and the live reservations of a counter (admin views); zeros when none. A shared ledger leaves
   * out leases that ran out but were not swept yet; the memory ledger's reservations are this process's
   * running requests, released when each settles (no leases to run out).
   */
  read(key: string): Promise<Spend & { reservedNano: number; reservedTokens: number }>;
  /** Stops background work (lease renewal); reservations not settled are left to their leases. */
  close?(): void;
}

interface Counter {
  su: number;
  st: number;
  ru: number;
  rt: number;
  warned: boolean;
  expires: number;
}

interface Bucket {
  v: number;
  t: number;
}

/** Refills a token bucket of capacity `cap` (refill `cap` per minute) to `now`; a missing bucket is full. */
export function refilled(b: Bucket | undefined, cap: number, now: number): number {
  if (!b) return cap;
  return Math.min(cap, b.v + Math.max(0, now - b.t) * (cap / 60_000));
}

/** ms until a bucket at `v` holds one token again. */
export const waitMs = (v: number, cap: number): number => Math.max(1, Math.ceil((1 - v) / (cap / 60_000)));

const MAX_ENTRIES = 200_000;

export class MemoryLedger implements Ledger {
  private readonly counters = new Map<string, Counter>();
  private readonly rpm = new Map<string, Bucket>();
  private readonly tpm = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  private counter(s: { key: string; ttlMs: number; seedNano?: number; seedTokens?: number }, now: number): Counter {
    let c = this.counters.get(s.key);
    if (c && c.expires !== 0 && c.expires <= now) c = undefined;
    if (!c) {
      if (this.counters.size >= MAX_ENTRIES) this.sweep(now);
      c = { su: s.seedNano ?? 0, st: s.seedTokens ?? 0, ru: 0, rt: 0, warned: false, expires: s.ttlMs ? now + s.ttlMs : 0 };
      this.counters.set(s.key, c);
    }
    return c;
  }

  private sweep(now: number): void {
    for (const [k, c] of this.counters) if (c.expires !== 0 && c.expires <= now) this.counters.delete(k);
  }

  admit(rate: RateCheck | null, scopes: readonly ScopeCheck[], reserve: Amount): AdmitOutcome {
    const now = this.now();
    const counters = scopes.map((s) => this.counter(s, now));
    for (let i = 0; i < scopes.length; i++) {
      const s = scopes[i]!;
      const c = counters[i]!;
      if (s.limitNano >= 0 && c.su + c.ru + reserve.nano > s.limitNano) return { ok: false, reason: 'budget', scope: i };
      if (s.limitTokens >= 0 && c.st + c.rt + reserve.tokens > s.limitTokens) return { ok: false, reason: 'budget', scope: i };
    }
    let rpmLeft: number | undefined;
    if (rate?.rpm) {
      rpmLeft = refilled(this.rpm.get(rate.id), rate.rpm, now);
      if (rpmLeft < 1) return { ok: false, reason: 'rpm', retryAfterMs: waitMs(rpmLeft, rate.rpm) };
    }
    if (rate?.tpm) {
      const left = refilled(this.tpm.get(rate.id), rate.tpm, now);
      if (left < 1) return { ok: false, reason: 'tpm', retryAfterMs: waitMs(left, rate.tpm) };
    }
    if (rate?.rpm && rpmLeft !== undefined) {
      if (this.rpm.size >= MAX_ENTRIES) this.rpm.clear();
      this.rpm.set(rate.id, { v: rpmLeft - 1, t: now });
    }
    for (const c of counters) {
      c.ru += reserve.nano;
      c.rt += reserve.tokens;
    }
    return { ok: true };
  }

  settle(input: SettleInput): SettleResult {
    const now = this.now();
    const { rate, reserved, actual } = input;
    if (rate?.tpm && actual.tokens > 0) {
      const left = refilled(this.tpm.get(rate.id), rate.tpm, now);
      if (this.tpm.size >= MAX_ENTRIES) this.tpm.clear();
      this.tpm.set(rate.id, { v: left - actual.tokens, t: now });
    }
    return input.scopes.map((s) => {
      const c = this.counter(s, now);
      if (s.held) {
        c.ru = Math.max(0, c.ru - reserved.nano);
        c.rt = Math.max(0, c.rt - reserved.tokens);
      }
      c.su += actual.nano;
      c.st += actual.tokens;
      let crossed = false;
      if (
        !c.warned &&
        ((s.thresholdNano >= 0 && c.su >= s.thresholdNano) || (s.thresholdTokens >= 0 && c.st >= s.thresholdTokens))
      ) {
        c.warned = true;
        crossed = true;
      }
      return { spend: { nano: c.su, tokens: c.st }, crossed };
    });
  }

  async read(key: string) {
    const c = this.counters.get(key);
    if (!c || (c.expires !== 0 && c.expires <= this.now())) return { nano: 0, tokens: 0, reservedNano: 0, reservedTokens: 0 };
    return { nano: c.su, tokens: c.st, reservedNano: c.ru, reservedTokens: c.rt };
  }
}
