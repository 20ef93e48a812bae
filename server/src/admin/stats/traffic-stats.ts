/**
 * Everything the dashboard shows about traffic, built from the RequestRecords
 * the gateway reports after each public response. Every update is O(1) and
 * memory is bounded (fixed rings per configured target and caller, a bounded
 * client map and the explorer's 1,000-request ring), so the observer never
 * slows the public hot path.
 */
import {
  EXPLORER_CAPACITY,
  SPARKLINE_POINTS,
  WINDOW_SECONDS,
  type RequestRecord,
  type StatsWindow,
  type TargetHealth,
  type TargetTraffic,
  type TargetWindowView,
  type TrafficTotals,
  type WindowFigures,
  type WindowRowFigures,
} from '@sipp/shared';
import { ClientStats } from './client-stats.js';
import { LatencyHistogram } from './latency-histogram.js';
import { RecentRequests } from './recent-requests.js';
import { Timeseries } from './timeseries.js';
import { WindowRing, sampleOf, type Aggregate, type Sample } from './window-ring.js';

/**
 * Callers that exist only through managed keys (not in the config) get rings
 * on their first request, up to this many (a ring is about 375 KB); the
 * traffic of any further ones is not broken out (docs/dashboard.md#callers).
 */
export const MAX_KEY_CALLERS = 64;
/** Names of key-made callers past the cap kept for the count (they come from admin-created keys, not requests). */
const MAX_UNTRACKED_NAMES = 10_000;

/** Health looks at the last 5 minutes whatever window the table shows. */
export const HEALTH_SECONDS = 300;

const newRowRing = (ttft: boolean) => new WindowRing(10_000, 360, { ttft, codes: ttft });
const round = (v: number) => Math.round(v * 1000) / 1000;

class TargetAggregate {
  requests = 0;
  errors = 0;
  inputTokens = 0;
  outputTokens = 0;
  lastRequestAt: number | null = null;
  lastErrorAt: number | null = null;
  lastErrorCode: string | null = null;
  readonly latency = new LatencyHistogram();
  private ringStore: WindowRing | null = null;

  /** Allocated on first traffic: idle targets cost nothing. */
  get ring(): WindowRing {
    return (this.ringStore ??= newRowRing(true));
  }
  get hasRing(): boolean {
    return this.ringStore !== null;
  }

  add(r: RequestRecord, sample: Sample, isError: boolean, now: number): void {
    this.requests++;
    if (isError) {
      this.errors++;
      this.lastErrorAt = r.time;
      this.lastErrorCode = r.code ?? String(r.status);
    }
    this.inputTokens += sample.inputTokens;
    this.outputTokens += sample.outputTokens;
    this.lastRequestAt = r.time;
    this.latency.observeBucket(sample.latencyIdx, sample.durationMs);
    this.ring.record(sample, now);
  }

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

class CallerAggregate {
  lastSeen: number | null = null;
  readonly ring = newRowRing(false);
}

/** Success rate (share of non-5xx answers) → health. */
export function healthOf(requests: number, serverErrors: number): TargetHealth {
  if (requests === 0) return 'idle';
  const ok = 1 - serverErrors / requests;
  return ok >= 0.95 ? 'ready' : ok >= 0.5 ? 'degraded' : 'failing';
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
  /** Only configured targets and callers get rings (request-supplied names are unbounded). */
  private readonly targets = new Map<string, TargetAggregate>();
  private readonly unrouted = new TargetAggregate();
  /** Every request routed through a configured group (served by a member or refused). */
  private readonly groups = new Map<string, TargetAggregate>();
  private readonly callers = new Map<string, CallerAggregate>();
  private readonly configuredCallers: number;
  /** Key-made callers past MAX_KEY_CALLERS (no ring). */
  private readonly untracked = new Set<string>();
  private readonly anonymous = new CallerAggregate();

  constructor(
    targetNames: readonly string[],
    options: { callers?: readonly string[]; groups?: readonly string[]; maxClients?: number; recent?: number } = {},
  ) {
    for (const name of targetNames) this.targets.set(name, new TargetAggregate());
    for (const name of options.groups ?? []) this.groups.set(name, new TargetAggregate());
    for (const caller of options.callers ?? []) this.callers.set(caller, new CallerAggregate());
    this.configuredCallers = this.callers.size;
    this.clients = new ClientStats(options.maxClients);
    this.recent = new RecentRequests(options.recent ?? EXPLORER_CAPACITY);
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
    const sample = sampleOf(r, duration, input, output);
    this.latency.observeBucket(sample.latencyIdx, duration);
    this.timeseries.record(sample, now);
    this.clients.record(r);
    this.recent.record(r);

    const caller = r.caller === null ? this.anonymous : (this.callers.get(r.caller) ?? this.keyCaller(r.caller));
    if (caller) {
      caller.ring.record(sample, now);
      if (caller.lastSeen === null || r.time > caller.lastSeen) caller.lastSeen = r.time;
    }

    // A refusal names the asked target or group (docs/dashboard.md#reasons); a group's name is no target's.
    const t = r.target === null ? this.unrouted : this.targets.get(r.target);
    if (t) t.add(r, sample, isError, now);
    const g = this.groups.get(r.group ?? r.target ?? '');
    if (g) g.add(r, sample, isError, now);
  }

  /** A caller known only from a managed key (an authenticated record's label): a ring while under the cap. */
  private keyCaller(name: string): CallerAggregate | undefined {
    if (this.callers.size - this.configuredCallers >= MAX_KEY_CALLERS) {
      if (this.untracked.size < MAX_UNTRACKED_NAMES) this.untracked.add(name);
      return undefined;
    }
    const c = new CallerAggregate();
    this.callers.set(name, c);
    return c;
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

  /**
   * Seconds a rate divides by: the whole window (the average rate over it, as
   * Prometheus' rate() does), even while the gateway is younger than it.
   */
  private span(window: StatsWindow): number {
    return WINDOW_SECONDS[window];
  }

  /** The Overview tiles over one window. */
  window(window: StatsWindow, now = Date.now()): WindowFigures {
    const a = this.timeseries.fine.sumLast(WINDOW_SECONDS[window], now);
    const span = this.span(window);
    return {
      window,
      seconds: WINDOW_SECONDS[window],
      requests: a.requests,
      requestsPerSecond: round(a.requests / span),
      inputTokensPerSecond: round(a.inputTokens / span),
      outputTokensPerSecond: round(a.outputTokens / span),
      inputTokens: a.inputTokens,
      outputTokens: a.outputTokens,
      clientErrors: a.clientErrors,
      clientErrorRate: a.requests === 0 ? 0 : a.clientErrors / a.requests,
      serverErrors: a.serverErrors,
      serverErrorRate: a.requests === 0 ? 0 : a.serverErrors / a.requests,
      rateLimited: a.rateLimited,
      latencyMs: { p50: a.latencyPercentile(0.5), p90: a.latencyPercentile(0.9), p99: a.latencyPercentile(0.99) },
      ttftP50Ms: a.ttftPercentile(0.5),
    };
  }

  private row(ring: WindowRing | null, window: StatsWindow, now: number): { figures: WindowRowFigures; agg: Aggregate | null } {
    const seconds = WINDOW_SECONDS[window];
    const a = ring ? ring.sumLast(seconds, now) : null;
    const span = this.span(window);
    const requests = a?.requests ?? 0;
    return {
      agg: a,
      figures: {
        requests,
        requestsPerSecond: round(requests / span),
        inputTokens: a?.inputTokens ?? 0,
        outputTokens: a?.outputTokens ?? 0,
        outputTokensPerSecond: round((a?.outputTokens ?? 0) / span),
        costUsd: a?.costUsd ?? 0,
        clientErrors: a?.clientErrors ?? 0,
        serverErrors: a?.serverErrors ?? 0,
        rateLimited: a?.rateLimited ?? 0,
        latencyMs: {
          p50: a?.latencyPercentile(0.5) ?? null,
          p90: a?.latencyPercentile(0.9) ?? null,
          p99: a?.latencyPercentile(0.99) ?? null,
        },
        ttftP50Ms: a?.ttftPercentile(0.5) ?? null,
        spark: ring ? ring.requestCounts(seconds, SPARKLINE_POINTS, now) : new Array<number>(SPARKLINE_POINTS).fill(0),
      },
    };
  }

  /**
   * Configured callers (idle ones included), then the callers made by managed
   * keys (`keyCallers`: those of the keys in force, idle ones included, and
   * any seen in traffic), then the unauthenticated requests (caller null).
   * `untracked`: key-made callers past MAX_KEY_CALLERS, not listed.
   */
  callerRows(
    window: StatsWindow,
    now = Date.now(),
    keyCallers: Iterable<string> = [],
  ): { rows: Array<WindowRowFigures & { caller: string | null; lastSeen: number | null }>; untracked: number } {
    const rows = [...this.callers].map(([caller, c]) => ({
      caller: caller as string | null,
      lastSeen: c.lastSeen,
      ...this.row(c.ring, window, now).figures,
    }));
    const configured = rows.slice(0, this.configuredCallers);
    const made = rows.slice(this.configuredCallers);
    const untracked = new Set(this.untracked);
    let idle = 0;
    for (const name of keyCallers) {
      if (this.callers.has(name) || untracked.has(name)) continue;
      // Idle rows cost nothing, but are capped like the rings.
      if (this.callers.size - this.configuredCallers + idle >= MAX_KEY_CALLERS) {
        untracked.add(name);
        continue;
      }
      idle++;
      made.push({ caller: name, lastSeen: null, ...this.row(null, window, now).figures });
    }
    made.sort((a, b) => (a.caller! < b.caller! ? -1 : a.caller! > b.caller! ? 1 : 0));
    const out = [...configured, ...made];
    out.push({ caller: null, lastSeen: this.anonymous.lastSeen, ...this.row(this.anonymous.ring, window, now).figures });
    return { rows: out, untracked: untracked.size };
  }

  private targetWindow(t: TargetAggregate, window: StatsWindow, now: number): TargetWindowView {
    const ring = t.hasRing ? t.ring : null;
    const { figures, agg } = this.row(ring, window, now);
    const recent = ring ? ring.sumLast(HEALTH_SECONDS, now) : null;
    return {
      ...figures,
      topCodes: agg ? agg.topCodes(3) : [],
      reasons: agg ? agg.topReasons() : [],
      health: healthOf(recent?.requests ?? 0, recent?.serverErrors ?? 0),
      lastErrorAt: t.lastErrorAt,
      lastErrorCode: t.lastErrorCode,
    };
  }

  /** Traffic through a configured group since start. */
  group(name: string): TargetTraffic {
    return (this.groups.get(name) ?? new TargetAggregate()).view();
  }

  /** A configured group's figures over the window (idle for unknown names). */
  groupRow(name: string, window: StatsWindow, now = Date.now()): TargetWindowView {
    return this.targetWindow(this.groups.get(name) ?? new TargetAggregate(), window, now);
  }

  /** Every request over the last `seconds` (health verdict). */
  recentAggregate(seconds: number, now = Date.now()): Aggregate {
    return this.timeseries.fine.sumLast(seconds, now);
  }

  /** A configured target's figures over the window (idle for unknown names). */
  targetRow(name: string, window: StatsWindow, now = Date.now()): TargetWindowView {
    return this.targetWindow(this.targets.get(name) ?? new TargetAggregate(), window, now);
  }

  /** Requests rejected before a target was known, with the model names asked for (from the explorer ring). */
  unroutedRow(window: StatsWindow, now = Date.now()): TargetWindowView & { models: Array<{ model: string; count: number }> } {
    const since = now - WINDOW_SECONDS[window] * 1000;
    const models = new Map<string, number>();
    for (const r of this.recent.list()) {
      if (r.time < since) break;
      if (r.target !== null) continue;
      const m = r.model ?? '(none)';
      models.set(m, (models.get(m) ?? 0) + 1);
    }
    return {
      ...this.targetWindow(this.unrouted, window, now),
      models: [...models]
        .map(([model, count]) => ({ model, count }))
        .sort((a, b) => b.count - a.count)
        .slice(0, 10),
    };
  }
}
