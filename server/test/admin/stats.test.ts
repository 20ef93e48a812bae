/** Unit tests for the bounded traffic statistics and the login throttle. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RANGE_GEOMETRY, TIMESERIES_RANGES, type RequestRecord } from '@sipp/shared';
import { LoginThrottle } from '../../src/admin/auth/login-throttle.js';
import { MemorySessionStore } from '../../src/admin/auth/session-store.js';
import { ClientStats } from '../../src/admin/stats/client-stats.js';
import { LatencyHistogram } from '../../src/admin/stats/latency-histogram.js';
import { RecentRequests } from '../../src/admin/stats/recent-requests.js';
import { parseRequestFilter } from '../../src/admin/stats/request-filter.js';
import { Timeseries } from '../../src/admin/stats/timeseries.js';
import { sampleOf } from '../../src/admin/stats/window-ring.js';
import { MAX_KEY_CALLERS, TrafficStats } from '../../src/admin/stats/traffic-stats.js';

let seq = 0;
const rec = (over: Partial<RequestRecord> = {}): RequestRecord => ({
  requestId: `r${seq++}`,
  time: Date.now(),
  api: 'sipp',
  operation: 'chat',
  model: 't',
  target: 't',
  group: null,
  attempts: [{ target: 't', status: 200, upstreamStatus: null, latencyMs: 9, backoffMs: 0, error: null }],
  upstreamStatus: null,
  reason: null,
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
    const within = (got: number | null, want: number) =>
      assert.ok(got !== null && Math.abs(got - want) / want <= 0.08, `${got} vs ${want}`);
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
  const t0 = 1_700_000_000_000;
  const sum = (pts: Array<{ requests: number }>) => pts.reduce((a, p) => a + p.requests, 0);
  it('every range has its fixed number of buckets, oldest first, with per-second rates', () => {
    const ts = new Timeseries();
    ts.record(sampleOf(rec({ time: t0 }), 5, 1, 2), t0);
    ts.record(sampleOf(rec({ time: t0 + 1, status: 503, code: 'upstream' }), 15, 1, 2), t0);
    ts.record(sampleOf(rec({ time: t0 + 2, status: 429, code: 'rate_limited' }), 1, 0, 0), t0);
    ts.record(sampleOf(rec({ time: t0 + 3, status: 401, code: 'authentication' }), 1, 0, 0), t0);
    for (const range of TIMESERIES_RANGES) {
      const snap = ts.snapshot(range, t0);
      assert.equal(snap.points.length, RANGE_GEOMETRY[range].buckets, range);
      assert.equal(snap.bucketMs, RANGE_GEOMETRY[range].bucketMs);
      assert.equal(sum(snap.points), 4, range);
      const last = snap.points.at(-1)!;
      assert.equal(last.serverErrors, 1);
      assert.equal(last.rateLimited, 1);
      assert.equal(last.clientErrors, 1, '4xx excludes 429');
      const rate = (n: number) => Math.round((n / (snap.bucketMs / 1000)) * 1000) / 1000;
      assert.equal(last.requestsPerSecond, rate(4));
      assert.equal(last.outputTokensPerSecond, rate(4));
      assert.ok(last.latencyP99! >= last.latencyP90! && last.latencyP90! >= last.latencyP50!);
      assert.ok(snap.points[0]!.start < last.start);
    }
  });
  it('the 1 h ring forgets after an hour, the 24 h ring keeps the day', () => {
    const ts = new Timeseries();
    ts.record(sampleOf(rec({ time: t0 }), 5, 0, 0), t0);
    const later = t0 + 2 * 3_600_000;
    ts.record(sampleOf(rec({ time: later }), 5, 0, 0), later);
    assert.equal(sum(ts.snapshot('1h', later).points), 1);
    assert.equal(sum(ts.snapshot('6h', later).points), 2);
    assert.equal(sum(ts.snapshot('24h', later + 20 * 3_600_000).points), 2);
    assert.equal(sum(ts.snapshot('24h', t0 + 25 * 3_600_000).points), 1);
    // Records outside every ring are ignored.
    ts.record(sampleOf(rec({ time: later - 30 * 3_600_000 }), 1, 0, 0), later);
    assert.equal(sum(ts.snapshot('24h', later).points), 2);
  });
});

describe('TrafficStats windows', () => {
  const t0 = 1_700_000_000_000;
  it('the window figures cover only the window; rates divide by its length', () => {
    const s = new TrafficStats(['t'], { callers: ['c', 'idle'] });
    s.record(rec({ time: t0 - 30 * 60_000, status: 500, code: 'internal' }), t0 - 30 * 60_000);
    for (let i = 0; i < 6; i++) s.record(rec({ time: t0 - i * 1000, outputTokens: 10 }), t0);
    s.record(rec({ time: t0, status: 429, code: 'rate_limited' }), t0);
    s.record(rec({ time: t0, status: 400, code: 'invalid_request' }), t0);
    s.record(rec({ time: t0, stream: true, ttftMs: 40, durationMs: 100 }), t0);
    const m1 = s.window('1m', t0);
    assert.equal(m1.requests, 9);
    assert.equal(m1.serverErrors, 0, 'the 5xx 30 min ago is outside 1 m');
    assert.equal(m1.rateLimited, 1);
    assert.equal(m1.clientErrors, 1);
    assert.equal(m1.requestsPerSecond, Math.round((9 / 60) * 1000) / 1000);
    assert.equal(m1.outputTokensPerSecond, Math.round((69 / 60) * 1000) / 1000);
    assert.ok(m1.ttftP50Ms !== null && Math.abs(m1.ttftP50Ms - 40) / 40 < 0.1);
    const h1 = s.window('1h', t0);
    assert.equal(h1.requests, 10);
    assert.equal(h1.serverErrors, 1);
    assert.equal(h1.serverErrorRate, 1 / 10);
    const callers = s.callerRows('1m', t0).rows;
    assert.deepEqual(
      callers.map((c) => [c.caller, c.requests]),
      [
        ['c', 9],
        ['idle', 0],
        [null, 0],
      ],
    );
    assert.equal(
      callers[0]!.spark.reduce((a, b) => a + b, 0),
      9,
    );
  });
  it('callers made by managed keys: listed after the configured ones, ringed up to the cap, the rest counted', () => {
    const s = new TrafficStats([], { callers: ['conf'] });
    s.record(rec({ time: t0, caller: 'k-b', outputTokens: 5 }), t0);
    s.record(rec({ time: t0, caller: 'k-a' }), t0);
    const { rows, untracked } = s.callerRows('1m', t0, ['k-a', 'k-idle']);
    assert.deepEqual(
      rows.map((c) => [c.caller, c.requests, c.outputTokens]),
      [
        ['conf', 0, 0],
        ['k-a', 1, 3],
        ['k-b', 1, 5],
        ['k-idle', 0, 0],
        [null, 0, 0],
      ],
    );
    assert.equal(untracked, 0);
    // Past the cap, a new key-made caller gets no ring (bounded memory) and is counted, not listed.
    for (let i = 0; i < MAX_KEY_CALLERS; i++) s.record(rec({ time: t0, caller: `n${i}` }), t0);
    const capped = s.callerRows('1m', t0, ['k-idle', 'later']);
    assert.equal(capped.rows.length, 1 + MAX_KEY_CALLERS + 1);
    assert.ok(!capped.rows.some((r) => r.caller === 'k-idle' || r.caller === 'later'));
    assert.equal(capped.untracked, 2 + 2);
  });
  it('rates are averages over the whole window', () => {
    const s = new TrafficStats([]);
    for (let i = 0; i < 36; i++) s.record(rec({ time: t0 }), t0);
    assert.equal(s.window('1h', t0).requestsPerSecond, 0.01);
    assert.equal(s.window('1m', t0).requestsPerSecond, 0.6);
  });
  it('target health follows the last 5 minutes; unrouted requests keep the model asked for', () => {
    const s = new TrafficStats(['good', 'bad', 'meh', 'idle']);
    const now = Date.now();
    for (let i = 0; i < 20; i++) s.record(rec({ target: 'good', time: now }), now);
    for (let i = 0; i < 4; i++) s.record(rec({ target: 'bad', time: now, status: 502, code: 'upstream' }), now);
    s.record(rec({ target: 'meh', time: now, status: 503, code: 'unavailable' }), now);
    s.record(rec({ target: 'meh', time: now }), now);
    s.record(rec({ target: 'meh', time: now }), now);
    s.record(rec({ target: null, model: 'gpt-nope', status: 404, code: 'resolution', time: now }), now);
    s.record(rec({ target: null, model: null, caller: null, status: 401, code: 'authentication', time: now }), now);
    assert.equal(s.targetRow('good', '5m', now).health, 'ready');
    const bad = s.targetRow('bad', '5m', now);
    assert.equal(bad.health, 'failing');
    assert.deepEqual(bad.topCodes, [{ code: 'upstream', count: 4 }]);
    assert.equal(bad.lastErrorCode, 'upstream');
    assert.equal(s.targetRow('meh', '5m', now).health, 'degraded');
    assert.equal(s.targetRow('idle', '5m', now).health, 'idle');
    const un = s.unroutedRow('5m', now);
    assert.equal(un.requests, 2);
    assert.equal(un.clientErrors, 2);
    assert.deepEqual(un.models.map((m) => m.model).sort(), ['(none)', 'gpt-nope']);
  });
});

describe('request explorer filter', () => {
  const r = new RecentRequests(1000);
  r.record(rec({ requestId: 'abc-1', status: 200, time: 1000 }));
  r.record(rec({ requestId: 'abc-2', status: 503, code: 'upstream', target: 'x', time: 2000 }));
  r.record(rec({ requestId: 'zzz-3', status: 429, code: 'rate_limited', client: '10.0.0.9', caller: null, time: 3000 }));
  r.record(rec({ requestId: 'zzz-4', status: 401, code: 'authentication', operation: 'embed', target: null, time: 4000 }));
  const ids = (q: Record<string, string>) => {
    const f = parseRequestFilter(q);
    return r.list(f.limit, f.keep).map((x) => x.requestId);
  };
  it('filters by class, code, operation, target, caller, client, id prefix and time', () => {
    assert.deepEqual(ids({}), ['zzz-4', 'zzz-3', 'abc-2', 'abc-1']);
    assert.deepEqual(ids({ status: '4xx' }), ['zzz-4'], '4xx excludes 429');
    assert.deepEqual(ids({ status: '429' }), ['zzz-3']);
    assert.deepEqual(ids({ status: '5xx' }), ['abc-2']);
    assert.deepEqual(ids({ status: '2xx' }), ['abc-1']);
    assert.deepEqual(ids({ code: 'upstream' }), ['abc-2']);
    assert.deepEqual(ids({ operation: 'embed' }), ['zzz-4']);
    assert.deepEqual(ids({ target: 'x' }), ['abc-2']);
    assert.deepEqual(ids({ target: '-' }), ['zzz-4']);
    assert.deepEqual(ids({ caller: '-' }), ['zzz-3']);
    assert.deepEqual(ids({ client: '::ffff:10.0.0.9' }), ['zzz-3']);
    assert.deepEqual(ids({ q: 'abc' }), ['abc-2', 'abc-1']);
    assert.deepEqual(ids({ from: '2000', to: '4000' }), ['zzz-3', 'abc-2']);
    assert.deepEqual(ids({ limit: '1' }), ['zzz-4']);
    assert.deepEqual(ids({ status: '5xx', q: 'zzz' }), []);
  });
  it('rejects unknown classes, operations, limits and times', () => {
    for (const q of [
      { status: '6xx' },
      { operation: 'dance' },
      { limit: '0' },
      { limit: '1001' },
      { limit: 'x' },
      { from: 'yesterday' },
      { q: 'x'.repeat(201) },
    ]) {
      assert.throws(() => parseRequestFilter(q), /invalid|must|too long/, JSON.stringify(q));
    }
  });
  it('the explorer ring keeps the last 1,000 requests', () => {
    const big = new RecentRequests();
    for (let i = 0; i < 1500; i++) big.record(rec({ requestId: `n${i}` }));
    assert.equal(big.size, 1000);
    assert.equal(big.list().at(-1)!.requestId, 'n500');
  });
});

describe('ClientStats', () => {
  it('is bounded and evicts the least recently seen client', () => {
    const cs = new ClientStats(3);
    for (const c of ['a', 'b', 'c']) cs.record(rec({ client: c }));
    cs.record(rec({ client: 'a' }));
    cs.record(rec({ client: 'd' }));
    assert.equal(cs.size, 3);
    assert.deepEqual(
      cs
        .top(10)
        .map((c) => c.client)
        .sort(),
      ['a', 'c', 'd'],
    );
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
    assert.deepEqual(
      r.list().map((x) => x.requestId),
      ['id4', 'id3', 'id2'],
    );
    assert.deepEqual(
      r.list(1).map((x) => x.requestId),
      ['id4'],
    );
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
  it('stays bounded', () => {
    const t = new LoginThrottle({ maxClients: 10 });
    for (let i = 0; i < 100; i++) t.failure(`c${i}`, 0);
    assert.ok((t as unknown as { entries: Map<string, unknown> }).entries.size <= 10);
  });
});

describe('MemorySessionStore', () => {
  it('expires entries and destroys on demand', async () => {
    let now = 1_000;
    const s = new MemorySessionStore(1_000, () => now);
    await s.set('k', { a: 1 }, 20);
    now += 19;
    assert.deepEqual(await s.get('k'), { a: 1 });
    now += 1;
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
