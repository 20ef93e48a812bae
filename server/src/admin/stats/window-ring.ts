/**
 * A ring of fixed-width time buckets (e.g. 360 × 10 s = the last hour). Each
 * slot remembers which bucket it holds, so stale slots are reset lazily when
 * reused or skipped when read: O(1) per request (the reset of a reused slot is
 * a bounded fill), no timers, memory fixed at construction.
 *
 * Per bucket: request counts by status class, tokens, a log-scale latency
 * histogram and optionally a TTFT histogram and per-error-code counts.
 */
import { ERROR_CODES, type RequestRecord } from '@sipp/shared';
import { LATENCY_BUCKETS, latencyBucket, percentileOf } from './latency-histogram.js';

/** Error codes counted per bucket; anything else lands in "other". */
export const CODE_NAMES: readonly string[] = [...ERROR_CODES, 'other'];
const CODE_INDEX = new Map(CODE_NAMES.map((c, i) => [c, i]));
const OTHER_CODE = CODE_NAMES.length - 1;

/** Refusal reasons counted per bucket (RequestRecord.reason); anything else lands in "other". */
export const REASON_NAMES: readonly string[] = [
  'circuit_open',
  'drained',
  'no_member',
  'rate_limited',
  'blocked',
  'admission',
  'budget_exceeded',
  'other',
];
const REASON_INDEX = new Map(REASON_NAMES.map((c, i) => [c, i]));
const OTHER_REASON = REASON_NAMES.length - 1;
const REASONS = REASON_NAMES.length;

// Counter fields of a slot.
const REQUESTS = 0;
const CLIENT_ERRORS = 1;
const RATE_LIMITED = 2;
const SERVER_ERRORS = 3;
const INPUT_TOKENS = 4;
const OUTPUT_TOKENS = 5;
const MAX_LATENCY = 6;
const TTFT_COUNT = 7;
const MAX_TTFT = 8;
const COST_USD = 9;
const FIELDS = 10;

/** Which class a status counts in: 4xx excludes 429, which is counted apart. */
export function statusClassOf(status: number): 'ok' | 'client' | 'rate_limited' | 'server' {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server';
  if (status >= 400) return 'client';
  return 'ok';
}

/** What the rings need from one request, derived once per request (not once per ring). */
export interface Sample {
  time: number;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  /** What the request cost (USD; 0 when unpriced). */
  costUsd: number;
  /** 0 ok, 1 client error, 2 rate limited, 3 server error. */
  cls: number;
  latencyIdx: number;
  /** TTFT of a stream (ms) and its histogram bucket; -1 when none. */
  ttftMs: number;
  ttftIdx: number;
  /** Index in CODE_NAMES; -1 without an error code. */
  codeIdx: number;
  /** Index in REASON_NAMES; -1 without a refusal reason. */
  reasonIdx: number;
}

const CLASS_INDEX = { ok: 0, client: 1, rate_limited: 2, server: 3 } as const;

/** Derives the Sample of a finished request (durations and tokens already sanitized). */
export function sampleOf(r: RequestRecord, durationMs: number, inputTokens: number, outputTokens: number): Sample {
  const hasTtft = r.stream && r.ttftMs !== null && r.ttftMs >= 0;
  return {
    time: r.time,
    durationMs,
    inputTokens,
    outputTokens,
    costUsd: r.costUsd !== undefined && Number.isFinite(r.costUsd) && r.costUsd > 0 ? r.costUsd : 0,
    cls: CLASS_INDEX[statusClassOf(r.status)],
    latencyIdx: latencyBucket(durationMs),
    ttftMs: hasTtft ? r.ttftMs! : -1,
    ttftIdx: hasTtft ? latencyBucket(r.ttftMs!) : -1,
    codeIdx: r.code === null ? -1 : (CODE_INDEX.get(r.code) ?? OTHER_CODE),
    reasonIdx: r.reason == null ? -1 : (REASON_INDEX.get(r.reason) ?? OTHER_REASON),
  };
}

/** Sums over a run of buckets. */
export class Aggregate {
  requests = 0;
  clientErrors = 0;
  rateLimited = 0;
  serverErrors = 0;
  inputTokens = 0;
  outputTokens = 0;
  costUsd = 0;
  maxLatency = 0;
  ttftCount = 0;
  maxTtft = 0;
  readonly latency = new Uint32Array(LATENCY_BUCKETS);
  readonly ttft: Uint32Array | null;
  readonly codes: Uint32Array | null;
  readonly reasons: Uint32Array | null;

  constructor(withTtft: boolean, withCodes: boolean) {
    this.ttft = withTtft ? new Uint32Array(LATENCY_BUCKETS) : null;
    this.codes = withCodes ? new Uint32Array(CODE_NAMES.length) : null;
    this.reasons = withCodes ? new Uint32Array(REASONS) : null;
  }

  /** Refusal reasons by count, most frequent first. */
  topReasons(): Array<{ reason: string; count: number }> {
    const out: Array<{ reason: string; count: number }> = [];
    this.reasons?.forEach((count, i) => {
      if (count > 0) out.push({ reason: REASON_NAMES[i]!, count });
    });
    return out.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  }

  latencyPercentile(q: number): number | null {
    return percentileOf(this.latency, 0, this.requests, q, this.maxLatency);
  }

  ttftPercentile(q: number): number | null {
    return this.ttft ? percentileOf(this.ttft, 0, this.ttftCount, q, this.maxTtft) : null;
  }

  /** Error codes by count, most frequent first. */
  topCodes(n: number): Array<{ code: string; count: number }> {
    if (!this.codes) return [];
    const out: Array<{ code: string; count: number }> = [];
    this.codes.forEach((count, i) => {
      if (count > 0) out.push({ code: CODE_NAMES[i]!, count });
    });
    return out.sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, n);
  }
}

export class WindowRing {
  private readonly bucketOf: Float64Array;
  private readonly counters: Float64Array;
  private readonly latency: Uint32Array;
  private readonly ttft: Uint32Array | null;
  private readonly codes: Uint32Array | null;
  private readonly reasons: Uint32Array | null;

  constructor(
    readonly bucketMs: number,
    readonly slots: number,
    private readonly options: { ttft?: boolean; codes?: boolean } = {},
  ) {
    this.bucketOf = new Float64Array(slots).fill(-1);
    this.counters = new Float64Array(slots * FIELDS);
    this.latency = new Uint32Array(slots * LATENCY_BUCKETS);
    this.ttft = options.ttft ? new Uint32Array(slots * LATENCY_BUCKETS) : null;
    this.codes = options.codes ? new Uint32Array(slots * CODE_NAMES.length) : null;
    this.reasons = options.codes ? new Uint32Array(slots * REASONS) : null;
  }

  /** Adds one finished request. */
  record(x: Sample, now: number): void {
    const b = Math.floor(x.time / this.bucketMs);
    const current = Math.floor(now / this.bucketMs);
    // Ignore records outside the ring (clock skew, very late reports).
    if (b <= current - this.slots || b > current + 1) return;
    const slot = b % this.slots;
    if (this.bucketOf[slot] !== b) this.reset(slot, b);
    const c = slot * FIELDS;
    const k = this.counters;
    k[c + REQUESTS]!++;
    if (x.cls !== 0) k[c + x.cls]!++;
    k[c + INPUT_TOKENS]! += x.inputTokens;
    k[c + OUTPUT_TOKENS]! += x.outputTokens;
    k[c + COST_USD]! += x.costUsd;
    if (x.durationMs > k[c + MAX_LATENCY]!) k[c + MAX_LATENCY] = x.durationMs;
    this.latency[slot * LATENCY_BUCKETS + x.latencyIdx]!++;
    if (this.ttft && x.ttftIdx >= 0) {
      k[c + TTFT_COUNT]!++;
      if (x.ttftMs > k[c + MAX_TTFT]!) k[c + MAX_TTFT] = x.ttftMs;
      this.ttft[slot * LATENCY_BUCKETS + x.ttftIdx]!++;
    }
    if (this.codes && x.codeIdx >= 0) this.codes[slot * CODE_NAMES.length + x.codeIdx]!++;
    if (this.reasons && x.reasonIdx >= 0) this.reasons[slot * REASONS + x.reasonIdx]!++;
  }

  private reset(slot: number, b: number): void {
    this.bucketOf[slot] = b;
    this.counters.fill(0, slot * FIELDS, (slot + 1) * FIELDS);
    this.latency.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
    this.ttft?.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
    this.codes?.fill(0, slot * CODE_NAMES.length, (slot + 1) * CODE_NAMES.length);
    this.reasons?.fill(0, slot * REASONS, (slot + 1) * REASONS);
  }

  /** Sums buckets [first, last] (bucket numbers, inclusive) into a fresh Aggregate. */
  sumBuckets(first: number, last: number, into?: Aggregate): Aggregate {
    const a = into ?? new Aggregate(this.ttft !== null, this.codes !== null);
    for (let b = Math.max(first, last - this.slots + 1); b <= last; b++) {
      const slot = ((b % this.slots) + this.slots) % this.slots;
      if (this.bucketOf[slot] !== b) continue;
      const c = slot * FIELDS;
      const k = this.counters;
      a.requests += k[c + REQUESTS]!;
      a.clientErrors += k[c + CLIENT_ERRORS]!;
      a.rateLimited += k[c + RATE_LIMITED]!;
      a.serverErrors += k[c + SERVER_ERRORS]!;
      a.inputTokens += k[c + INPUT_TOKENS]!;
      a.outputTokens += k[c + OUTPUT_TOKENS]!;
      a.costUsd += k[c + COST_USD]!;
      a.ttftCount += k[c + TTFT_COUNT]!;
      if (k[c + MAX_LATENCY]! > a.maxLatency) a.maxLatency = k[c + MAX_LATENCY]!;
      if (k[c + MAX_TTFT]! > a.maxTtft) a.maxTtft = k[c + MAX_TTFT]!;
      addRange(a.latency, this.latency, slot * LATENCY_BUCKETS, LATENCY_BUCKETS);
      if (a.ttft && this.ttft) addRange(a.ttft, this.ttft, slot * LATENCY_BUCKETS, LATENCY_BUCKETS);
      if (a.codes && this.codes) addRange(a.codes, this.codes, slot * CODE_NAMES.length, CODE_NAMES.length);
      if (a.reasons && this.reasons) addRange(a.reasons, this.reasons, slot * REASONS, REASONS);
    }
    return a;
  }

  /** Sums the buckets covering the last `seconds` up to `now` (the current, partial bucket included). */
  sumLast(seconds: number, now: number): Aggregate {
    const current = Math.floor(now / this.bucketMs);
    const n = Math.max(1, Math.round((seconds * 1000) / this.bucketMs));
    return this.sumBuckets(current - n + 1, current);
  }

  /** Requests per group of buckets over the last `seconds`, oldest first, `points` values. */
  requestCounts(seconds: number, points: number, now: number): number[] {
    const current = Math.floor(now / this.bucketMs);
    const n = Math.max(1, Math.round((seconds * 1000) / this.bucketMs));
    const out = new Array<number>(points).fill(0);
    for (let i = 0; i < n; i++) {
      const b = current - n + 1 + i;
      const slot = ((b % this.slots) + this.slots) % this.slots;
      if (this.bucketOf[slot] !== b) continue;
      out[Math.min(points - 1, Math.floor((i * points) / n))]! += this.counters[slot * FIELDS + REQUESTS]!;
    }
    return out;
  }
}

function addRange(into: Uint32Array, from: Uint32Array, offset: number, length: number): void {
  for (let i = 0; i < length; i++) into[i]! += from[offset + i]!;
}
