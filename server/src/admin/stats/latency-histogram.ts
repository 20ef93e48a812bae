/**
 * Fixed log-scale latency histogram: O(1) per observation, bounded memory,
 * percentiles within ~4 % (bucket growth factor 1.08). Buckets span 0.05 ms
 * to about an hour; anything slower lands in the last bucket.
 */
const MIN_MS = 0.05;
const FACTOR = 1.08;
const LOG_FACTOR = Math.log(FACTOR);
export const LATENCY_BUCKETS = 240;

/** Bucket index of a latency; bucket i holds values in (MIN·F^(i-1), MIN·F^i]. */
export function latencyBucket(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const i = Math.ceil(Math.log(ms / MIN_MS) / LOG_FACTOR);
  return i >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : i;
}

/** Upper bound (ms) of a bucket, the value reported for a percentile landing in it. */
export function bucketUpperMs(i: number): number {
  return MIN_MS * FACTOR ** i;
}

/**
 * Percentile from bucket counts stored at `counts[offset .. offset+LATENCY_BUCKETS)`.
 * `maxMs` caps the estimate at the slowest value actually seen.
 */
export function percentileOf(counts: ArrayLike<number>, offset: number, total: number, q: number, maxMs: number): number | null {
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    seen += counts[offset + i]!;
    if (seen >= rank) return round(Math.min(bucketUpperMs(i), maxMs));
  }
  return round(maxMs);
}

function round(ms: number): number {
  return ms >= 100 ? Math.round(ms) : Math.round(ms * 100) / 100;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(LATENCY_BUCKETS);
  private total = 0;
  private max = 0;

  observe(ms: number): void {
    this.observeBucket(latencyBucket(ms), ms);
  }

  /** `observe` with the bucket already computed (one Math.log per request for every histogram). */
  observeBucket(bucket: number, ms: number): void {
    this.counts[bucket]!++;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  get count(): number {
    return this.total;
  }

  percentile(q: number): number | null {
    return percentileOf(this.counts, 0, this.total, q, this.max);
  }

  summary(): { p50: number | null; p90: number | null; p99: number | null } {
    return { p50: this.percentile(0.5), p90: this.percentile(0.9), p99: this.percentile(0.99) };
  }
}
