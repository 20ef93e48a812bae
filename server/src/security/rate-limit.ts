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

/** One client's bucket: tokens left at time `updated` (ms). */
export interface BucketState {
  tokens: number;
  updated: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Buckets kept outside this process (the redis state backend), shared by every replica. */
export interface SharedBucketStore {
  take(client: string, settings: RateLimitSettings): Promise<RateDecision>;
}

const ALLOW: RateDecision = { ok: true };
const MAX_BUCKETS = 100_000;

/**
 * One request against a token bucket at time `now` (ms): refills the bucket
 * for the time since it was last updated (never above `burst`), then takes one
 * token or says how long until one is back (whole seconds, at least 1). A
 * missing bucket is a full one. Pure: the caller stores the returned state, so
 * any store (memory, a shared one) can run the same arithmetic.
 */
export function takeToken(
  bucket: BucketState | undefined,
  limits: Pick<RateLimitSettings, 'requestsPerMinute' | 'burst'>,
  now: number,
): { bucket: BucketState; decision: RateDecision } {
  const perMs = limits.requestsPerMinute / 60_000;
  const elapsed = bucket ? Math.max(0, now - bucket.updated) : 0;
  const tokens = bucket ? Math.min(limits.burst, bucket.tokens + elapsed * perMs) : limits.burst;
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updated: now }, decision: ALLOW };
  const waitMs = (1 - tokens) / perMs;
  return { bucket: { tokens, updated: now }, decision: { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) } };
}

export interface RateLimiterOptions {
  /** The clock, in ms (default Date.now); injectable for tests. */
  now?: () => number;
}

export class RateLimiter {
  private current: RateLimitSettings;
  private readonly buckets = new Map<string, BucketState>();
  private readonly now: () => number;

  private shared: SharedBucketStore | null = null;

  constructor(settings: RateLimitSettings, options: RateLimiterOptions = {}) {
    this.current = { ...settings };
    this.now = options.now ?? Date.now;
  }

  /** From now on buckets live in `store` (the redis backend), shared by every replica. */
  shareBuckets(store: SharedBucketStore): void {
    this.shared = store;
  }

  settings(): RateLimitSettings {
    return { ...this.current };
  }

  /** Applies new settings; existing buckets are reset so the change takes effect at once. */
  configure(settings: RateLimitSettings): void {
    this.current = { ...settings };
    this.buckets.clear();
  }

  /**
   * The pipeline's step: the shared store's bucket when there is one (one
   * round trip), otherwise this process's bucket, synchronously.
   */
  admit(client: string): RateDecision | Promise<RateDecision> {
    if (this.shared && this.current.enabled) return this.shared.take(client, this.current);
    return this.take(client);
  }

  take(client: string, now = this.now()): RateDecision {
    const s = this.current;
    if (!s.enabled) return ALLOW;
    const previous = this.buckets.get(client);
    if (!previous && this.buckets.size >= MAX_BUCKETS) this.sweep(now);
    const { bucket, decision } = takeToken(previous, s, now);
    this.buckets.set(client, bucket);
    return decision;
  }

  /** Drops buckets that have refilled completely (they behave like new ones). */
  sweep(now = this.now()): void {
    const s = this.current;
    const fullAfterMs = (s.burst / s.requestsPerMinute) * 60_000;
    for (const [k, b] of this.buckets) if (now - b.updated >= fullAfterMs) this.buckets.delete(k);
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}
