/**
 * Per-client token buckets. `requestsPerMinute` is the refill rate, `burst`
 * the capacity. Settings can be changed at run time (admin control); buckets of
 * idle clients are swept so memory stays bounded.
 */
export interface RateLimitSettings {
  enabled: boolean;
  requestsPerMinute: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

const ALLOW: RateDecision = { ok: true };
const MAX_BUCKETS = 100_000;

export class RateLimiter {
  private current: RateLimitSettings;
  private readonly buckets = new Map<string, Bucket>();

  constructor(settings: RateLimitSettings) {
    this.current = { ...settings };
  }

  settings(): RateLimitSettings {
    return { ...this.current };
  }

  /** Applies new settings; existing buckets are reset so the change takes effect at once. */
  configure(settings: RateLimitSettings): void {
    this.current = { ...settings };
    this.buckets.clear();
  }

  take(client: string, now = Date.now()): RateDecision {
    const s = this.current;
    if (!s.enabled) return ALLOW;
    const perMs = s.requestsPerMinute / 60_000;
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      b = { tokens: s.burst, updated: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(s.burst, b.tokens + (now - b.updated) * perMs);
      b.updated = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return ALLOW;
    }
    const waitMs = (1 - b.tokens) / perMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Drops buckets that have refilled completely (they behave like new ones). */
  sweep(now = Date.now()): void {
    const s = this.current;
    const fullAfterMs = (s.burst / s.requestsPerMinute) * 60_000;
    for (const [k, b] of this.buckets) if (now - b.updated >= fullAfterMs) this.buckets.delete(k);
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}
