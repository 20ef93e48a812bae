/**
 * Everything the dashboard shows about traffic, built from the RequestRecords
 * the gateway reports after each public response. Every update is O(1) and
 * memory is bounded, so the observer never slows the public hot path.
 */
import type { RequestRecord, TargetTraffic, TrafficTotals } from '@sipp/shared';
import { ClientStats } from './client-stats.js';
import { LatencyHistogram } from './latency-histogram.js';
import { RecentRequests } from './recent-requests.js';
import { Timeseries } from './timeseries.js';

class TargetAggregate {
  requests = 0;
  errors = 0;
  inputTokens = 0;
  outputTokens = 0;
  lastRequestAt: number | null = null;
  readonly latency = new LatencyHistogram();

  view(): TargetTraffic {
    return {
      requests: this.requests,
      errors: this.errors,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      latencyMs: this.latency.summary(),
      lastRequestAt: this.lastRequestAt,
    };
  }
}

export class TrafficStats {
  private requests = 0;
  private errors = 0;
  private rateLimitHits = 0;
  private blocklistHits = 0;
  private admissionRejections = 0;
  private inputTokens = 0;
  private outputTokens = 0;
  readonly latency = new LatencyHistogram();
  readonly timeseries = new Timeseries();
  readonly clients: ClientStats;
  readonly recent: RecentRequests;
  /** Only configured targets get an aggregate (request-supplied names are unbounded). */
  private readonly targets = new Map<string, TargetAggregate>();

  constructor(targetNames: readonly string[], options: { maxClients?: number; recent?: number } = {}) {
    for (const name of targetNames) this.targets.set(name, new TargetAggregate());
    this.clients = new ClientStats(options.maxClients);
    this.recent = new RecentRequests(options.recent);
  }

  record(r: RequestRecord, now = Date.now()): void {
    const isError = r.status >= 400;
    const duration = Number.isFinite(r.durationMs) && r.durationMs > 0 ? r.durationMs : 0;
    const input = r.inputTokens > 0 ? r.inputTokens : 0;
    const output = r.outputTokens > 0 ? r.outputTokens : 0;
    this.requests++;
    if (isError) this.errors++;
    if (r.code === 'rate_limited') this.rateLimitHits++;
    else if (r.code === 'blocked') this.blocklistHits++;
    else if (r.code === 'admission') this.admissionRejections++;
    this.inputTokens += input;
    this.outputTokens += output;
    this.latency.observe(duration);
    this.timeseries.record(r.time, isError, duration, input, output, now);
    this.clients.record(r);
    this.recent.record(r);
    const t = r.target === null ? undefined : this.targets.get(r.target);
    if (t) {
      t.requests++;
      if (isError) t.errors++;
      t.inputTokens += input;
      t.outputTokens += output;
      t.lastRequestAt = r.time;
      t.latency.observe(duration);
    }
  }

  totals(): TrafficTotals {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests === 0 ? 0 : this.errors / this.requests,
      rateLimitHits: this.rateLimitHits,
      blocklistHits: this.blocklistHits,
      admissionRejections: this.admissionRejections,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
    };
  }

  target(name: string): TargetTraffic {
    return (this.targets.get(name) ?? new TargetAggregate()).view();
  }
}
