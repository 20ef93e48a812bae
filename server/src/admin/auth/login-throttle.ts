/**
 * Brute-force protection for the admin login: after `maxFailures` failed
 * attempts from one client within `windowMs`, that client is refused (429)
 * until the window has passed — even with the right password. A successful
 * login clears the client's record. The map is bounded.
 */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxClients: number;
}

interface Entry {
  failures: number;
  firstFailure: number;
  lockedUntil: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 5, windowMs: 5 * 60_000, maxClients: 10_000 };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly opts: ThrottleOptions = DEFAULT_THROTTLE) {}

  /** Seconds the client must still wait, or 0 when it may try. */
  retryAfterSeconds(client: string, now = Date.now()): number {
    const e = this.entries.get(client);
    if (!e || e.lockedUntil <= now) return 0;
    return Math.max(1, Math.ceil((e.lockedUntil - now) / 1000));
  }

  failure(client: string, now = Date.now()): void {
    let e = this.entries.get(client);
    if (!e || now - e.firstFailure > this.opts.windowMs) {
      if (!e && this.entries.size >= this.opts.maxClients) this.sweep(now);
      e = { failures: 0, firstFailure: now, lockedUntil: 0 };
      this.entries.set(client, e);
    }
    e.failures++;
    if (e.failures >= this.opts.maxFailures) e.lockedUntil = now + this.opts.windowMs;
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
