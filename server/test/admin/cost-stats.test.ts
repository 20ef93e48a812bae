/**
 * Cost columns of the Callers and Targets tables (docs/dashboard.md#views):
 * each window row sums RequestRecord.costUsd of the requests in that window,
 * per caller and per target; records without a cost (or a nonsensical one)
 * add nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestRecord } from '@sipp/shared';
import { TrafficStats } from '../../src/admin/stats/traffic-stats.js';

const rec = (over: Partial<RequestRecord>): RequestRecord => ({
  requestId: 'r',
  time: 0,
  api: 'openai',
  operation: 'chat',
  model: 'm',
  target: 'a',
  group: null,
  attempts: [],
  reason: null,
  upstreamStatus: null,
  caller: 'team',
  client: '127.0.0.1',
  status: 200,
  code: null,
  durationMs: 5,
  ttftMs: null,
  inputTokens: 1,
  outputTokens: 1,
  stream: false,
  ...over,
});

test('window rows sum the cost per caller and per target, only inside the window', () => {
  const stats = new TrafficStats(['a', 'b'], { callers: ['team', 'other'] });
  const now = Date.UTC(2026, 11, 3, 12);
  stats.record(rec({ time: now - 30 * 60_000, costUsd: 5 }), now); // 30 min ago: in 1h, not in 5m
  stats.record(rec({ time: now - 1000, costUsd: 0.25 }), now);
  stats.record(rec({ time: now - 1000, costUsd: 0.5, target: 'b' }), now);
  stats.record(rec({ time: now - 1000, costUsd: 0.125, caller: 'other' }), now);
  stats.record(rec({ time: now - 1000 }), now); // no cost (unpriced)
  stats.record(rec({ time: now - 1000, costUsd: Number.NaN }), now);
  stats.record(rec({ time: now - 1000, costUsd: -3 }), now);
  const caller = (w: '5m' | '1h', c: string) => stats.callerRows(w, now).rows.find((r) => r.caller === c)!.costUsd;
  assert.equal(caller('5m', 'team'), 0.75);
  assert.equal(caller('1h', 'team'), 5.75);
  assert.equal(caller('5m', 'other'), 0.125);
  assert.equal(stats.targetRow('a', '5m', now).costUsd, 0.375);
  assert.equal(stats.targetRow('b', '5m', now).costUsd, 0.5);
  assert.equal(stats.targetRow('a', '1h', now).costUsd, 5.375);
  assert.equal(stats.callerRows('5m', now).rows.find((r) => r.caller === null)!.costUsd, 0);
});
