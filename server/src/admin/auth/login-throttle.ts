/**
 * Brute-force protection for the admin login (docs/dashboard.md "Sign-in,
 * sessions, CSRF"): slow guessing down, never lock the operator out.
 *  - per source (the client address): after `freeFailures` failed attempts,
 *    each further failure makes that source wait an exponentially growing
 *    delay (`baseDelayMs` × 2^k, at most `maxDelayMs`) before it may try again
 *    (429 + Retry-After meanwhile). A success, or `forgetMs` without a
 *    failure, clears the record.
 *  - global budget: every password check takes a token from one bucket
 *    (`budget` tokens, one back every `refillMs`); a correct password gives
 *    its token back, so only failures spend the budget. With the bucket
 *    empty, a source that has failed before is refused until a token is back;
 *    a source that has never failed is never refused outright: it waits
 *    (`wait`), and the next token goes to the newest waiting source, ahead of
 *    sources that failed. So an attacker, however many addresses it has,
 *    gets at most `budget` + one check per `refillMs`, and the operator's
 *    sign-in waits at most about one `refillMs` once the attacker's own new
 *    addresses are spent.
 * Times are passed in (`now`), so tests drive the clock. The fleet's Redis
 * version (shared-login-throttle.ts) follows the same rules.
 */
export interface ThrottleOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
  budget: number;
  refillMs: number;
  /** A waiting new source that has not asked again for this long has given up (callers ask every 250 ms). */
  waiterStaleMs: number;
  maxClients: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 2,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  forgetMs: 15 * 60_000,
  budget: 30,
  refillMs: 2_000,
  waiterStaleMs: 3_000,
  maxClients: 10_000,
};

export type LockoutScope = 'client' | 'global';

/**
 * ok: check the password (a token is taken: give it back with `success` or
 * `release`); refuse: 429 with Retry-After; wait: a new source queues, ask
 * again after `waitMs`.
 */
export type LoginAdmission =
  | { kind: 'ok'; budgetSpent: boolean }
  | { kind: 'refuse'; retryAfterSeconds: number; scope: LockoutScope }
  | { kind: 'wait'; waitMs: number };

/** The throttle's rules, whichever store holds its state. */
export interface LoginThrottleRules {
  admission(client: string, now?: number): LoginAdmission | Promise<LoginAdmission>;
  /** Records a wrong password; 'client' when this failure starts the source's delays. */
  failure(client: string, now?: number): LockoutScope | null | Promise<LockoutScope | null>;
  /** The right password: the source's record is cleared and the token given back. */
  success(client: string, now?: number): void | Promise<void>;
  /** The check did not happen (e.g. a malformed body): the token is given back. */
  release(now?: number): void | Promise<void>;
  sweep(): void;
}

interface Entry {
  failures: number;
  last: number;
}

export const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The delay a source with `failures` failures must wait after its last one (0: none). */
export function delayAfter(failures: number, o: ThrottleOptions): number {
  if (failures <= o.freeFailures) return 0;
  return Math.min(o.baseDelayMs * 2 ** (failures - o.freeFailures - 1), o.maxDelayMs);
}

export class LoginThrottle implements LoginThrottleRules {
  private readonly entries = new Map<string, Entry>();
  /** New sources waiting for a token: when each arrived and last asked. */
  private readonly waiting = new Map<string, { at: number; seen: number }>();
  private readonly opts: ThrottleOptions;
  private tokens: number;
  private updated = -Infinity;
  private lastSpent = -Infinity;

  constructor(opts: Partial<ThrottleOptions> = {}) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
    this.tokens = this.opts.budget;
  }

  private refill(now: number): void {
    if (this.updated !== -Infinity)
      this.tokens = Math.min(this.opts.budget, this.tokens + Math.max(0, now - this.updated) / this.opts.refillMs);
    this.updated = now;
  }

  private entry(client: string, now: number): Entry | undefined {
    const e = this.entries.get(client);
    if (e && now - e.last > this.opts.forgetMs) {
      this.entries.delete(client);
      return undefined;
    }
    return e;
  }

  private newestWaiter(): string | undefined {
    let best: [number, string] | undefined;
    for (const [c, { at }] of this.waiting) if (!best || at > best[0] || (at === best[0] && c > best[1])) best = [at, c];
    return best?.[1];
  }

  private take(now: number): LoginAdmission {
    this.tokens -= 1;
    // The budget ran out: reported once per refill of the whole bucket at most.
    const spent = this.tokens < 1 && now - this.lastSpent >= this.opts.budget * this.opts.refillMs;
    if (spent) this.lastSpent = now;
    return { kind: 'ok', budgetSpent: spent };
  }

  admission(client: string, now = Date.now()): LoginAdmission {
    const o = this.opts;
    const e = this.entry(client, now);
    const failures = e?.failures ?? 0;
    const until = e ? e.last + delayAfter(failures, o) : 0;
    if (until > now) return { kind: 'refuse', retryAfterSeconds: seconds(until - now), scope: 'client' };
    this.refill(now);
    for (const [c, w] of this.waiting) if (now - w.seen > o.waiterStaleMs) this.waiting.delete(c);
    const untilToken = Math.max(1, Math.ceil((1 - this.tokens) * o.refillMs));
    if (failures > 0) {
      if (this.tokens >= 1 && this.waiting.size === 0) return this.take(now);
      return { kind: 'refuse', retryAfterSeconds: seconds(this.tokens >= 1 ? o.refillMs : untilToken), scope: 'global' };
    }
    const w = this.waiting.get(client);
    if (w) w.seen = now;
    else {
      if (this.waiting.size >= o.maxClients) this.waiting.delete(this.waiting.keys().next().value!);
      this.waiting.set(client, { at: now, seen: now });
    }
    if (this.tokens >= 1 && this.newestWaiter() === client) {
      this.waiting.delete(client);
      return this.take(now);
    }
    return { kind: 'wait', waitMs: this.tokens >= 1 ? Math.min(250, o.refillMs) : untilToken };
  }

  failure(client: string, now = Date.now()): LockoutScope | null {
    let e = this.entry(client, now);
    if (!e) {
      if (this.entries.size >= this.opts.maxClients) this.sweep(now);
      e = { failures: 0, last: now };
      this.entries.set(client, e);
    }
    e.failures++;
    e.last = now;
    return e.failures === this.opts.freeFailures + 1 ? 'client' : null;
  }

  success(client: string, now = Date.now()): void {
    this.entries.delete(client);
    this.waiting.delete(client);
    this.release(now);
  }

  release(now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.min(this.opts.budget, this.tokens + 1);
  }

  sweep(now = Date.now()): void {
    for (const [k, e] of this.entries) if (now - e.last > this.opts.forgetMs) this.entries.delete(k);
    // Still full (an attack from many addresses): drop the oldest half rather than grow.
    if (this.entries.size >= this.opts.maxClients) {
      let drop = Math.ceil(this.entries.size / 2);
      for (const k of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(k);
      }
    }
  }
}
