import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../../src/security/rate-limit.js';
import { Admission } from '../../src/security/admission.js';
import { Blocklist } from '../../src/security/blocklist.js';

describe('token bucket', () => {
  it('allows a burst, then refills at requests_per_minute', () => {
    const rl = new RateLimiter({ enabled: true, requestsPerMinute: 60, burst: 3 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) assert.deepEqual(rl.take('a', t0), { ok: true });
    const refused = rl.take('a', t0);
    assert.equal(refused.ok, false);
    if (!refused.ok) assert.equal(refused.retryAfterSeconds, 1);
    assert.equal(rl.take('b', t0).ok, true, 'buckets are per client');
    assert.equal(rl.take('a', t0 + 999).ok, false);
    assert.equal(rl.take('a', t0 + 2000).ok, true, 'one token per second at 60/min');
  });

  it('reports Retry-After from the refill rate', () => {
    const rl = new RateLimiter({ enabled: true, requestsPerMinute: 2, burst: 1 });
    rl.take('a', 0);
    const r = rl.take('a', 0);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.retryAfterSeconds, 30);
  });

  it('does nothing when disabled, and applies new settings at once', () => {
    const rl = new RateLimiter({ enabled: false, requestsPerMinute: 1, burst: 1 });
    for (let i = 0; i < 100; i++) assert.equal(rl.take('a', 0).ok, true);
    rl.configure({ enabled: true, requestsPerMinute: 1, burst: 2 });
    assert.equal(rl.take('a', 0).ok, true);
    assert.equal(rl.take('a', 0).ok, true);
    assert.equal(rl.take('a', 0).ok, false);
    assert.deepEqual(rl.settings(), { enabled: true, requestsPerMinute: 1, burst: 2 });
  });

  it('sweeps refilled buckets', () => {
    const rl = new RateLimiter({ enabled: true, requestsPerMinute: 60, burst: 1 });
    rl.take('a', 0);
    rl.sweep(60_000);
    assert.equal(rl.take('a', 60_000).ok, true);
  });
});

describe('admission', () => {
  it('bounds in-flight work and releases idempotently', () => {
    const a = new Admission(2);
    const r1 = a.tryAcquire()!;
    const r2 = a.tryAcquire()!;
    assert.equal(a.tryAcquire(), null);
    r1();
    r1();
    assert.equal(a.inFlight, 1);
    assert.ok(a.tryAcquire());
    r2();
    a.setLimit(null);
    for (let i = 0; i < 50; i++) assert.ok(a.tryAcquire());
  });
});

describe('blocklist', () => {
  it('normalizes, lists and removes', () => {
    const b = new Blocklist();
    assert.equal(b.add('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(b.add('not an ip'), null);
    assert.ok(b.has('192.0.2.1'));
    assert.deepEqual(b.list().map((e) => e.ip), ['192.0.2.1']);
    assert.equal(b.remove('192.0.2.1'), '192.0.2.1');
    assert.equal(b.remove('192.0.2.1'), null);
    assert.equal(b.size, 0);
  });
});
