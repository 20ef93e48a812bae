/**
 * The circuit breaker on a fake clock: opens after failure_threshold
 * consecutive failures, half-opens after open_seconds with exactly one probe,
 * closes on the probe's success and reopens on its failure; drain/release.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, type CircuitTransition } from '../../src/routing/circuit-breaker.js';

function breaker(settings: { failureThreshold: number; openMs: number } | null = { failureThreshold: 3, openMs: 10_000 }) {
  const clock = { t: 1_000_000 };
  const transitions: CircuitTransition[] = [];
  const b = new CircuitBreaker(
    'p',
    settings,
    () => clock.t,
    (t) => transitions.push(t),
  );
  return { b, clock, transitions };
}

const fail = (b: CircuitBreaker, code = '5xx') => b.admit()!.failure(code);

describe('circuit breaker', () => {
  it('opens after failure_threshold consecutive failures, not before', () => {
    const { b, transitions } = breaker();
    fail(b);
    fail(b);
    assert.equal(b.snapshot().state, 'closed');
    assert.equal(b.snapshot().consecutiveFailures, 2);
    fail(b, 'timeout');
    assert.equal(b.snapshot().state, 'open');
    assert.equal(b.admit(), null);
    assert.deepEqual(
      transitions.map((t) => [t.from, t.to]),
      [['closed', 'open']],
    );
    assert.match(transitions[0]!.reason, /3 consecutive failures \(last timeout\)/);
    assert.deepEqual(b.snapshot().lastFailure, { time: 1_000_000, code: 'timeout' });
  });

  it("a permit's first report counts; later reports on it do nothing", () => {
    const { b } = breaker({ failureThreshold: 2, openMs: 10_000 });
    const permit = b.admit()!;
    permit.failure('5xx');
    permit.failure('5xx');
    permit.success();
    assert.equal(b.snapshot().consecutiveFailures, 1);
    assert.equal(b.snapshot().state, 'closed');
  });

  it('a success resets the consecutive count', () => {
    const { b } = breaker();
    fail(b);
    fail(b);
    b.admit()!.success();
    fail(b);
    fail(b);
    assert.equal(b.snapshot().state, 'closed');
  });

  it('half-opens after open_seconds and lets exactly one probe through; success closes', () => {
    const { b, clock, transitions } = breaker();
    for (let i = 0; i < 3; i++) fail(b);
    clock.t += 9_999;
    assert.equal(b.available(), false);
    assert.equal(b.admit(), null);
    assert.equal(b.retryAfterMs(), 1);
    clock.t += 1;
    assert.equal(b.snapshot().state, 'half_open');
    assert.equal(b.available(), true);
    const probe = b.admit();
    assert.ok(probe);
    assert.equal(b.available(), false, 'the probe is in flight');
    assert.equal(b.admit(), null, 'a second request during the probe is refused');
    probe.success();
    assert.equal(b.snapshot().state, 'closed');
    assert.ok(b.admit());
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open', 'half_open', 'closed'],
    );
  });

  it('a failed probe reopens for another open_seconds', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) fail(b);
    clock.t += 10_000;
    b.admit()!.failure('connect');
    assert.equal(b.snapshot().state, 'open');
    assert.equal(b.retryAfterMs(), 10_000);
    assert.equal(b.admit(), null);
  });

  it('an abandoned probe (client gone) lets the next request probe', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) fail(b);
    clock.t += 10_000;
    b.admit()!.abandon();
    assert.ok(b.admit());
  });

  it('without settings it never opens but still counts failures and the success rate', () => {
    const { b } = breaker(null);
    for (let i = 0; i < 50; i++) fail(b);
    b.admit()!.success();
    assert.equal(b.snapshot().state, 'closed');
    assert.equal(b.snapshot().successRate5m, 1 / 51);
  });

  it('the success rate forgets calls older than 5 minutes', () => {
    const { b, clock } = breaker(null);
    fail(b);
    clock.t += 5 * 60_000 + 10_000;
    b.admit()!.success();
    assert.equal(b.snapshot().successRate5m, 1);
    clock.t += 5 * 60_000 + 10_000;
    assert.equal(b.snapshot().successRate5m, null);
  });

  it('drain forces it open until released, whatever the clock says', () => {
    const { b, clock, transitions } = breaker();
    b.drain();
    assert.equal(b.admit(), null);
    clock.t += 1e9;
    assert.equal(b.admit(), null);
    assert.equal(b.snapshot().state, 'open');
    assert.equal(b.snapshot().drained, true);
    assert.equal(b.retryAfterMs(), null);
    b.release();
    assert.ok(b.admit());
    assert.deepEqual(
      transitions.map((t) => [t.to, t.reason]),
      [
        ['open', 'drained by operator'],
        ['closed', 'released by operator'],
      ],
    );
  });
});
