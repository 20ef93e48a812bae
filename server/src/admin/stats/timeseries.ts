/**
 * Ring of 10 s buckets covering the last 30 minutes. Each slot remembers which
 * 10 s window it holds, so stale slots are reset lazily when reused or read:
 * O(1) per request, no timers.
 */
import { TIMESERIES_BUCKETS, TIMESERIES_BUCKET_MS, type TimeseriesPoint, type TimeseriesResponse } from '@sipp/shared';
import { LATENCY_BUCKETS, latencyBucket, percentileOf } from './latency-histogram.js';

export class Timeseries {
  private readonly window = new Float64Array(TIMESERIES_BUCKETS).fill(-1);
  private readonly requests = new Uint32Array(TIMESERIES_BUCKETS);
  private readonly errors = new Uint32Array(TIMESERIES_BUCKETS);
  private readonly inputTokens = new Float64Array(TIMESERIES_BUCKETS);
  private readonly outputTokens = new Float64Array(TIMESERIES_BUCKETS);
  private readonly maxLatency = new Float64Array(TIMESERIES_BUCKETS);
  private readonly latency = new Uint32Array(TIMESERIES_BUCKETS * LATENCY_BUCKETS);

  record(time: number, isError: boolean, durationMs: number, inputTokens: number, outputTokens: number, now = Date.now()): void {
    const w = Math.floor(time / TIMESERIES_BUCKET_MS);
    const current = Math.floor(now / TIMESERIES_BUCKET_MS);
    // Ignore records outside the window (clock skew, very late reports).
    if (w <= current - TIMESERIES_BUCKETS || w > current + 1) return;
    const slot = w % TIMESERIES_BUCKETS;
    if (this.window[slot] !== w) this.reset(slot, w);
    this.requests[slot]!++;
    if (isError) this.errors[slot]!++;
    this.inputTokens[slot]! += inputTokens;
    this.outputTokens[slot]! += outputTokens;
    if (durationMs > this.maxLatency[slot]!) this.maxLatency[slot] = durationMs;
    this.latency[slot * LATENCY_BUCKETS + latencyBucket(durationMs)]!++;
  }

  private reset(slot: number, w: number): void {
    this.window[slot] = w;
    this.requests[slot] = 0;
    this.errors[slot] = 0;
    this.inputTokens[slot] = 0;
    this.outputTokens[slot] = 0;
    this.maxLatency[slot] = 0;
    this.latency.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
  }

  /** Every bucket of the last 30 minutes, oldest first (empty buckets included). */
  snapshot(now = Date.now()): TimeseriesResponse {
    const current = Math.floor(now / TIMESERIES_BUCKET_MS);
    const points: TimeseriesPoint[] = [];
    for (let w = current - TIMESERIES_BUCKETS + 1; w <= current; w++) {
      const slot = w % TIMESERIES_BUCKETS;
      const start = w * TIMESERIES_BUCKET_MS;
      if (this.window[slot] !== w) {
        points.push({ start, requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, latencyP50: null, latencyP99: null });
        continue;
      }
      const n = this.requests[slot]!;
      const offset = slot * LATENCY_BUCKETS;
      const max = this.maxLatency[slot]!;
      points.push({
        start,
        requests: n,
        errors: this.errors[slot]!,
        inputTokens: this.inputTokens[slot]!,
        outputTokens: this.outputTokens[slot]!,
        latencyP50: percentileOf(this.latency, offset, n, 0.5, max),
        latencyP99: percentileOf(this.latency, offset, n, 0.99, max),
      });
    }
    return { bucketMs: TIMESERIES_BUCKET_MS, points };
  }
}
