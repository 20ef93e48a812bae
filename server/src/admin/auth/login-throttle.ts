/**
 * Brute-force protection for the admin login, at two levels:
 *  - per client: after `maxFailures` failed attempts from one client within
 *    `windowMs`, that client is refused (429) until the window has passed —
 *    even with the right password. A successful login clears the client's
 *    record. The map is bounded.
 *  - global: after `globalMaxFailures` failed attempts from all clients
 *    together within `globalWindowMs`, every login attempt is refused for
 *    `globalCooldownMs`. This caps the guessing rate of an attacker who
 *    changes source address; the price is that such an attacker can keep the
 *    operator from signing in for the cool-down (existing sessions go on).
 * Times are passed in (`now`), so tests drive the clock.
 */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxClients: number;
  globalMaxFailures: number;
  globalWindowMs: number;
  globalCooldownMs: number;
}

interface Entry {
  failures: number;
  firstFailure: number;
  lockedUntil: number;
}

export type LockoutScope = 'client' | 'global';

export const DEFAULT_THROTTLE: ThrottleOptions = {
  maxFailures: 5,
  windowMs: 5 * 60_000,
  maxClients: 10_000,
  globalMaxFailures: 30,
  globalWindowMs: 60_000,
  globalCooldownMs: 5 * 60_000,
};

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: ThrottleOptions;
  /** Times of the recent failures from all clients (at most globalMaxFailures). */
  private recent: number[] = [];
  private globalLockedUntil = 0;

  constructor(opts: Partial<ThrottleOptions> = {}) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
  }

  /** Whether and for how long (seconds) a login attempt from `client` is refused. */
  refusal(client: string, now = Date.now()): { retryAfterSeconds: number; scope: LockoutScope } | null {
    if (this.globalLockedUntil > now) return { retryAfterSeconds: seconds(this.globalLockedUntil - now), scope: 'global' };
    const e = this.entries.get(client);
    if (e && e.lockedUntil > now) return { retryAfterSeconds: seconds(e.lockedUntil - now), scope: 'client' };
    return null;
  }

  /** Seconds the client must still wait, or 0 when it may try. */
  retryAfterSeconds(client: string, now = Date.now()): number {
    return this.refusal(client, now)?.retryAfterSeconds ?? 0;
  }

  /** Records a failed attempt; returns the lockout it trips, if any. */
  failure(client: string, now = Date.now()): LockoutScope | null {
    let tripped: LockoutScope | null = null;
    let e = this.entries.get(client);
    if (!e || now - e.firstFailure > this.opts.windowMs) {
      if (!e && this.entries.size >= this.opts.maxClients) this.sweep(now);
      e = { failures: 0, firstFailure: now, lockedUntil: 0 };
      this.entries.set(client, e);
    }
    e.failures++;
    if (e.failures >= this.opts.maxFailures) {
      if (e.lockedUntil <= now) tripped = 'client';
      e.lockedUntil = now + this.opts.windowMs;
    }

    this.recent = this.recent.filter((t) => now - t < this.opts.globalWindowMs);
    this.recent.push(now);
    if (this.recent.length >= this.opts.globalMaxFailures && this.globalLockedUntil <= now) {
      this.globalLockedUntil = now + this.opts.globalCooldownMs;
      this.recent = [];
      tripped = 'global';
    }
    return tripped;
  }

  success(client: string): void {
    this.entries.delete(client);
  }

  sweep(now = Date.now()): void {
    for (const [k, e] of this.entries) {
      if (e.lockedUntil <= now && now - e.firstFailure > this.opts.windowMs) this.entries.delete(k);
    }
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

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
