/**
 * Multi-resolution chart data: 10 s buckets for the last hour and 1 min
 * buckets for the last 24 hours (two WindowRings, bounded memory, O(1) per
 * request). A range reads the finest ring that covers it; the 24 h range
 * merges five 1 min buckets per point.
 */
import { RANGE_GEOMETRY, type TimeseriesPoint, type TimeseriesRange, type TimeseriesResponse } from '@sipp/shared';
import { WindowRing, type Aggregate, type Sample } from './window-ring.js';

const round = (v: number) => Math.round(v * 1000) / 1000;

function point(start: number, a: Aggregate, bucketSeconds: number): TimeseriesPoint {
  return {
    start,
    requests: a.requests,
    clientErrors: a.clientErrors,
    rateLimited: a.rateLimited,
    serverErrors: a.serverErrors,
    inputTokens: a.inputTokens,
    outputTokens: a.outputTokens,
    requestsPerSecond: round(a.requests / bucketSeconds),
    clientErrorsPerSecond: round(a.clientErrors / bucketSeconds),
    rateLimitedPerSecond: round(a.rateLimited / bucketSeconds),
    serverErrorsPerSecond: round(a.serverErrors / bucketSeconds),
    inputTokensPerSecond: round(a.inputTokens / bucketSeconds),
    outputTokensPerSecond: round(a.outputTokens / bucketSeconds),
    latencyP50: a.latencyPercentile(0.5),
    latencyP90: a.latencyPercentile(0.9),
    latencyP99: a.latencyPercentile(0.99),
  };
}

export class Timeseries {
  /** 10 s × 360: the last hour (also feeds the Overview windows). */
  readonly fine = new WindowRing(10_000, 360, { ttft: true, codes: true });
  /** 1 min × 1440: the last 24 hours. */
  readonly coarse = new WindowRing(60_000, 1440);

  record(x: Sample, now: number): void {
    this.fine.record(x, now);
    this.coarse.record(x, now);
  }

  /** Every bucket of the range, oldest first (empty buckets included). */
  snapshot(range: TimeseriesRange, now = Date.now()): TimeseriesResponse {
    const { bucketMs, buckets } = RANGE_GEOMETRY[range];
    const ring = bucketMs < this.coarse.bucketMs ? this.fine : this.coarse;
    const per = bucketMs / ring.bucketMs;
    const current = Math.floor(now / bucketMs);
    const points: TimeseriesPoint[] = [];
    for (let b = current - buckets + 1; b <= current; b++) {
      const a = ring.sumBuckets(b * per, b * per + per - 1);
      points.push(point(b * bucketMs, a, bucketMs / 1000));
    }
    return { range, bucketMs, points };
  }
}
