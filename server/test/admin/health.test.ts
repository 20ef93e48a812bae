/**
 * The Overview's health verdict (docs/dashboard.md#health-verdict): each
 * threshold on both sides, the minimum sample, circuits and saturation, and the
 * circuits strip from real circuit breakers on an injected clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CircuitStripEntry, RequestRecord } from '@sipp/shared';
import pino from 'pino';
import { healthVerdict, openCircuits } from '../../src/admin/health.js';
import { TrafficStats } from '../../src/admin/stats/traffic-stats.js';
import { Router } from '../../src/routing/router.js';
import type { Target } from '../../src/targets/target.js';

const NOW = 1_800_000_000_000;
let seq = 0;
const rec = (status: number): RequestRecord => ({
  requestId: `h${seq++}`,
  time: NOW - 1000,
  api: 'sipp',
  operation: 'chat',
  model: 't',
  target: 't',
  group: null,
  attempts: [],
  upstreamStatus: null,
  reason: null,
  caller: null,
  client: '10.0.0.1',
  status,
  code: status >= 400 ? 'upstream' : null,
  durationMs: 5,
  ttftMs: null,
  inputTokens: 0,
  outputTokens: 0,
  stream: false,
});

function statsOf(statuses: number[]): TrafficStats {
  const s = new TrafficStats(['t']);
  for (const st of statuses) s.record(rec(st), NOW);
  return s;
}
const mix = (ok: number, bad: number, code = 503) => [...Array(ok).fill(200), ...Array(bad).fill(code)];
const verdict = (
  stats: TrafficStats,
  o: { circuits?: CircuitStripEntry[]; targets?: number; ready?: boolean; inFlight?: number; limit?: number | null } = {},
) =>
  healthVerdict({
    stats,
    circuits: o.circuits ?? [],
    targets: o.targets ?? 2,
    ready: o.ready ?? true,
    inFlight: o.inFlight ?? 0,
    limit: o.limit ?? null,
    now: NOW,
  });

describe('health verdict', () => {
  it('5xx: below 5 % healthy, from 5 % degraded, from 50 % down', () => {
    assert.equal(verdict(statsOf(mix(96, 4))).status, 'healthy');
    const five = verdict(statsOf(mix(95, 5)));
    assert.equal(five.status, 'degraded');
    assert.deepEqual(five.reasons, ['5xx 5.0 % of 100 requests in the last 5 min']);
    assert.equal(verdict(statsOf(mix(51, 49))).status, 'degraded');
    assert.equal(verdict(statsOf(mix(50, 50))).status, 'down');
  });

  it('429: from 10 % degraded; client errors alone never', () => {
    assert.equal(verdict(statsOf(mix(91, 9, 429))).status, 'healthy');
    const r = verdict(statsOf(mix(90, 10, 429)));
    assert.deepEqual(r, { status: 'degraded', reasons: ['429 10.0 % of 100 requests in the last 5 min'] });
    assert.equal(verdict(statsOf(mix(10, 90, 400))).status, 'healthy');
  });

  it('shares count only from 10 requests in the last 5 minutes', () => {
    assert.equal(verdict(statsOf(mix(0, 9))).status, 'healthy');
    assert.equal(verdict(statsOf(mix(0, 10))).status, 'down');
    const old = new TrafficStats(['t']);
    for (let i = 0; i < 20; i++) old.record({ ...rec(503), time: NOW - 400_000 }, NOW - 400_000);
    assert.equal(verdict(old).status, 'healthy', 'older than 5 minutes');
  });

  it('circuits: one not closed degrades, every one refusing is down; half-open alone degrades', () => {
    const open: CircuitStripEntry = { target: 'a', state: 'open', retryInSeconds: 3 };
    const drained: CircuitStripEntry = { target: 'b', state: 'drained', retryInSeconds: null };
    const half: CircuitStripEntry = { target: 'b', state: 'half_open', retryInSeconds: 0 };
    assert.deepEqual(verdict(statsOf([]), { circuits: [open] }), {
      status: 'degraded',
      reasons: ['circuits not closed: a (open)'],
    });
    assert.deepEqual(verdict(statsOf([]), { circuits: [open, drained] }), {
      status: 'down',
      reasons: ['every circuit refusing: a (open), b (drained)'],
    });
    assert.equal(verdict(statsOf([]), { circuits: [open, half] }).status, 'degraded');
  });

  it('saturation from 90 % of max_concurrent_requests; not ready is down', () => {
    assert.equal(verdict(statsOf([]), { inFlight: 8, limit: 10 }).status, 'healthy');
    assert.deepEqual(verdict(statsOf([]), { inFlight: 9, limit: 10 }), {
      status: 'degraded',
      reasons: ['saturated: 9 of 10 concurrent requests in flight'],
    });
    assert.equal(verdict(statsOf([]), { inFlight: 50, limit: null }).status, 'healthy', 'unbounded');
    assert.equal(verdict(statsOf([]), { ready: false }).status, 'down');
    assert.equal(verdict(statsOf(mix(100, 0))).status, 'healthy');
  });
});

describe('circuits strip', () => {
  it('lists open (with the seconds left), half-open and drained circuits; closed ones never', () => {
    const clock = { t: NOW };
    const target = (name: string) => ({ name, operations: new Set(['chat']) }) as unknown as Target;
    const router = new Router({
      targets: new Map(['a', 'b', 'c'].map((n) => [n, target(n)])),
      groups: [],
      circuits: new Map([['a', { failureThreshold: 1, openMs: 30_000 }]]),
      log: pino({ level: 'silent' }),
      now: () => clock.t,
    });
    assert.deepEqual(openCircuits(router), []);
    router.breaker('a')!.admit()!.failure('5xx');
    router.breaker('c')!.drain();
    clock.t += 10_500;
    assert.deepEqual(openCircuits(router), [
      { target: 'a', state: 'open', retryInSeconds: 20 },
      { target: 'c', state: 'drained', retryInSeconds: null },
    ]);
    clock.t += 20_000;
    assert.deepEqual(openCircuits(router)[0], { target: 'a', state: 'half_open', retryInSeconds: 0 });
  });
});
