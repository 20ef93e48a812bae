import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter, takeToken, type RateLimitSettings } from '../../src/security/rate-limit.js';
import { Admission } from '../../src/security/admission.js';

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

/** A limiter on a clock the test moves by hand. */
function clocked(settings: Omit<RateLimitSettings, 'enabled'>) {
  const clock = { t: 1_700_000_000_000 };
  const rl = new RateLimiter({ enabled: true, ...settings }, { now: () => clock.t });
  /** How many takes in a row succeed right now (stops at the first refusal). */
  const drain = (client = 'c', max = 1000) => {
    let n = 0;
    while (n < max && rl.take(client).ok) n++;
    return n;
  };
  return { clock, rl, drain };
}

describe('token bucket on an injected clock', () => {
  it('holds exactly burst tokens at first', () => {
    for (const burst of [1, 2, 5, 40]) {
      const { drain } = clocked({ requestsPerMinute: 60, burst });
      assert.equal(drain(), burst, `burst ${burst}`);
    }
  });

  it('refills exactly requests_per_minute over a measured interval, then empties again', () => {
    const { clock, rl, drain } = clocked({ requestsPerMinute: 120, burst: 10 }); // one token per 500 ms
    assert.equal(drain(), 10);
    clock.t += 1499; // 2.998 tokens
    assert.equal(drain(), 2);
    clock.t += 1; // 0.998 + 0.002 = 1 token
    assert.equal(drain(), 1);
    clock.t += 2500; // 5 tokens
    assert.equal(drain(), 5, 'five tokens after 2.5 s at 120/min');
    assert.equal(drain(), 0, 'the bucket is empty again at the same instant');
    assert.equal(rl.take('c').ok, false);
  });

  it('caps the refill at burst however long the client was idle', () => {
    const { clock, drain } = clocked({ requestsPerMinute: 60, burst: 3 });
    assert.equal(drain(), 3);
    clock.t += 3_600_000;
    assert.equal(drain(), 3, 'an hour idle still gives only burst tokens');
    clock.t += 1000;
    assert.equal(drain(), 1);
  });

  it('gives Retry-After as the whole seconds until the next token', () => {
    const { clock, rl, drain } = clocked({ requestsPerMinute: 6, burst: 2 }); // one token per 10 s
    assert.equal(drain(), 2);
    assert.deepEqual(rl.take('c'), { ok: false, retryAfterSeconds: 10 });
    clock.t += 2500;
    assert.deepEqual(rl.take('c'), { ok: false, retryAfterSeconds: 8 }, '7.5 s left, rounded up');
    clock.t += 7499;
    assert.deepEqual(rl.take('c'), { ok: false, retryAfterSeconds: 1 }, '1 ms left is still one second');
    clock.t += 1;
    assert.deepEqual(rl.take('c'), { ok: true });
    assert.deepEqual(rl.take('c'), { ok: false, retryAfterSeconds: 10 });
  });

  it('keeps a bucket per client', () => {
    const { drain } = clocked({ requestsPerMinute: 60, burst: 2 });
    assert.equal(drain('a'), 2);
    assert.equal(drain('b'), 2);
    assert.equal(drain('a'), 0);
  });
});

describe('takeToken (the pure bucket arithmetic)', () => {
  const limits = { requestsPerMinute: 60, burst: 4 };

  it('starts full and records the time of every take', () => {
    assert.deepEqual(takeToken(undefined, limits, 5000), { bucket: { tokens: 3, updated: 5000 }, decision: { ok: true } });
    assert.deepEqual(takeToken({ tokens: 0.5, updated: 1000 }, limits, 1250), {
      bucket: { tokens: 0.75, updated: 1250 },
      decision: { ok: false, retryAfterSeconds: 1 },
    });
    assert.deepEqual(takeToken({ tokens: 0.5, updated: 1000 }, limits, 1500), {
      bucket: { tokens: 0, updated: 1500 },
      decision: { ok: true },
    });
  });

  it('never refills above burst, and a clock that steps back refills nothing', () => {
    assert.deepEqual(takeToken({ tokens: 2, updated: 0 }, limits, 10_000_000).bucket, { tokens: 3, updated: 10_000_000 });
    assert.deepEqual(takeToken({ tokens: 0, updated: 5000 }, limits, 1000), {
      bucket: { tokens: 0, updated: 1000 },
      decision: { ok: false, retryAfterSeconds: 1 },
    });
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
