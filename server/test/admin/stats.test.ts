/** Unit tests for the bounded traffic statistics and the login throttle. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TIMESERIES_BUCKETS, type RequestRecord } from '@sipp/shared';
import { LoginThrottle } from '../../src/admin/auth/login-throttle.js';
import { MemorySessionStore } from '../../src/admin/auth/session-store.js';
import { ClientStats } from '../../src/admin/stats/client-stats.js';
import { LatencyHistogram } from '../../src/admin/stats/latency-histogram.js';
import { RecentRequests } from '../../src/admin/stats/recent-requests.js';
import { Timeseries } from '../../src/admin/stats/timeseries.js';
import { TrafficStats } from '../../src/admin/stats/traffic-stats.js';

let seq = 0;
const rec = (over: Partial<RequestRecord> = {}): RequestRecord => ({
  requestId: `r${seq++}`,
  time: Date.now(),
  api: 'sipp',
  operation: 'chat',
  model: 't',
  target: 't',
  group: null,
  attempts: 1,
  upstreamStatus: null,
  caller: 'c',
  client: '10.0.0.1',
  status: 200,
  code: null,
  durationMs: 10,
  ttftMs: null,
  inputTokens: 2,
  outputTokens: 3,
  stream: false,
  ...over,
});

describe('LatencyHistogram', () => {
  it('percentiles are within 8 % of the exact values', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.observe(i);
    const within = (got: number | null, want: number) => assert.ok(got !== null && Math.abs(got - want) / want <= 0.08, `${got} vs ${want}`);
    within(h.percentile(0.5), 500);
    within(h.percentile(0.9), 900);
    within(h.percentile(0.99), 990);
    assert.equal(h.percentile(1), 1000, 'capped at the observed maximum');
  });
  it('is null when empty and handles 0 and huge values', () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.summary(), { p50: null, p90: null, p99: null });
    h.observe(0);
    h.observe(1e9);
    assert.equal(h.count, 2);
    assert.ok(h.percentile(0.5)! <= 0.05);
  });
});

describe('Timeseries', () => {
  it('always returns 180 buckets, oldest first, and forgets buckets older than 30 min', () => {
    const ts = new Timeseries();
    const t0 = 1_700_000_000_000;
    ts.record(t0, false, 5, 1, 2, t0);
    ts.record(t0 + 1, true, 15, 1, 2, t0);
    let snap = ts.snapshot(t0);
    assert.equal(snap.points.length, TIMESERIES_BUCKETS);
    const last = snap.points.at(-1)!;
    assert.equal(last.requests, 2);
    assert.equal(last.errors, 1);
    assert.equal(last.inputTokens, 2);
    assert.ok(last.latencyP99! >= last.latencyP50!);
    assert.ok(snap.points[0]!.start < last.start);
    // 30 minutes later the slot is reused for a new window and the old data is gone.
    const later = t0 + TIMESERIES_BUCKETS * 10_000;
    ts.record(later, false, 7, 0, 0, later);
    snap = ts.snapshot(later);
    assert.equal(snap.points.reduce((a, p) => a + p.requests, 0), 1);
    // Records outside the window are ignored.
    ts.record(later - 3_600_000, false, 1, 0, 0, later);
    assert.equal(ts.snapshot(later).points.reduce((a, p) => a + p.requests, 0), 1);
  });
});

describe('ClientStats', () => {
  it('is bounded and evicts the least recently seen client', () => {
    const cs = new ClientStats(3);
    for (const c of ['a', 'b', 'c']) cs.record(rec({ client: c }));
    cs.record(rec({ client: 'a' }));
    cs.record(rec({ client: 'd' }));
    assert.equal(cs.size, 3);
    assert.deepEqual(cs.top(10).map((c) => c.client).sort(), ['a', 'c', 'd']);
    assert.equal(cs.top(1)[0]!.client, 'a');
  });
  it('counts errors, rate-limit and blocklist hits, keeps the last caller label', () => {
    const cs = new ClientStats();
    cs.record(rec({ caller: 'first' }));
    cs.record(rec({ status: 429, code: 'rate_limited', caller: null }));
    cs.record(rec({ status: 403, code: 'blocked', caller: null }));
    const [c] = cs.top(1);
    assert.equal(c!.requests, 3);
    assert.equal(c!.errors, 2);
    assert.equal(c!.rateLimitHits, 1);
    assert.equal(c!.blocklistHits, 1);
    assert.equal(c!.caller, 'first');
  });
});

describe('RecentRequests', () => {
  it('keeps the newest N, newest first', () => {
    const r = new RecentRequests(3);
    for (let i = 0; i < 5; i++) r.record(rec({ requestId: `id${i}` }));
    assert.deepEqual(r.list().map((x) => x.requestId), ['id4', 'id3', 'id2']);
    assert.deepEqual(r.list(1).map((x) => x.requestId), ['id4']);
  });
});

describe('TrafficStats', () => {
  it('only configured targets get per-target aggregates', () => {
    const s = new TrafficStats(['t']);
    s.record(rec());
    s.record(rec({ target: 'unknown-name', status: 404, code: 'resolution' }));
    s.record(rec({ status: 429, code: 'admission' }));
    assert.equal(s.target('t').requests, 2);
    assert.equal(s.target('unknown-name').requests, 0);
    const totals = s.totals();
    assert.equal(totals.requests, 3);
    assert.equal(totals.errors, 2);
    assert.equal(totals.admissionRejections, 1);
    assert.equal(totals.outputTokens, 9);
  });
});

describe('LoginThrottle', () => {
  it('locks after maxFailures within the window, unlocks after it, success resets', () => {
    const t = new LoginThrottle({ maxFailures: 3, windowMs: 1000, maxClients: 100 });
    const now = 1_000_000;
    t.failure('a', now);
    t.failure('a', now + 1);
    assert.equal(t.retryAfterSeconds('a', now + 2), 0);
    t.failure('a', now + 2);
    assert.equal(t.retryAfterSeconds('a', now + 3), 1);
    assert.equal(t.retryAfterSeconds('b', now + 3), 0, 'other clients are unaffected');
    assert.equal(t.retryAfterSeconds('a', now + 2000), 0);
    t.failure('c', now);
    t.failure('c', now);
    t.success('c');
    t.failure('c', now);
    t.failure('c', now);
    assert.equal(t.retryAfterSeconds('c', now), 0);
  });
  it('failures spread wider than the window do not lock', () => {
    const t = new LoginThrottle({ maxFailures: 2, windowMs: 1000, maxClients: 100 });
    t.failure('a', 0);
    t.failure('a', 5000);
    assert.equal(t.retryAfterSeconds('a', 5001), 0);
  });
  it('stays bounded', () => {
    const t = new LoginThrottle({ maxFailures: 2, windowMs: 1000, maxClients: 10 });
    for (let i = 0; i < 100; i++) t.failure(`c${i}`, 0);
    assert.ok((t as unknown as { entries: Map<string, unknown> }).entries.size <= 10);
  });
});

describe('MemorySessionStore', () => {
  it('expires entries and destroys on demand', async () => {
    const s = new MemorySessionStore();
    await s.set('k', { a: 1 }, 20);
    assert.deepEqual(await s.get('k'), { a: 1 });
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(await s.get('k'), undefined);
    await s.set('k2', { b: 2 }, 60_000);
    await s.destroy('k2');
    assert.equal(await s.get('k2'), undefined);
  });
  it('is bounded', async () => {
    const s = new MemorySessionStore(5);
    for (let i = 0; i < 20; i++) await s.set(`k${i}`, {}, 60_000);
    assert.equal(s.size, 5);
  });
});
