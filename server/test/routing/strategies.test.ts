/** Member orders: fallback as listed, round_robin rotation, weighted shares, least_busy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStrategy } from '../../src/routing/strategies.js';
import { backoffMs, failureKind, retryDelayMs } from '../../src/routing/retry-policy.js';
import { GatewayError } from '../../src/errors.js';

const firsts = (s: ReturnType<typeof createStrategy>, n: number) => {
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) counts[s.order(() => 0)[0]!]! += 1;
  return counts;
};

describe('strategies', () => {
  it('fallback keeps the listed order', () => {
    const s = createStrategy('fallback', 3);
    assert.deepEqual(
      s.order(() => 0),
      [0, 1, 2],
    );
    assert.deepEqual(
      s.order(() => 0),
      [0, 1, 2],
    );
  });

  it('round_robin rotates the first pick and falls through the rest in order', () => {
    const s = createStrategy('round_robin', 3);
    assert.deepEqual(
      s.order(() => 0),
      [0, 1, 2],
    );
    assert.deepEqual(
      s.order(() => 0),
      [1, 0, 2],
    );
    assert.deepEqual(
      s.order(() => 0),
      [2, 0, 1],
    );
    assert.deepEqual(firsts(s, 999), [333, 333, 333]);
  });

  it('weighted gives each member its share of first picks, interleaved', () => {
    const s = createStrategy('weighted', 3, [1, 3, 1]);
    assert.deepEqual(firsts(s, 1000), [200, 600, 200]);
    const seq = Array.from({ length: 5 }, () => s.order(() => 0)[0]);
    assert.equal(new Set(seq).size, 3, 'all members appear within one cycle');
  });

  it('least_busy picks the fewest in-flight, ties in listed order', () => {
    const s = createStrategy('least_busy', 3);
    const loads = [4, 1, 1];
    assert.deepEqual(
      s.order((i) => loads[i]!),
      [1, 2, 0],
    );
  });
});

describe('retry policy', () => {
  const settings = { attempts: 3, backoffMs: 100, maxBackoffMs: 1000, on: new Set<never>() };
  const up = (upstream: ConstructorParameters<typeof GatewayError>[3], code: 'upstream' | 'upstream_timeout' = 'upstream') =>
    new GatewayError(code, 'x', undefined, upstream);

  it('classifies upstream failures', () => {
    assert.equal(failureKind(up({ phase: 'connect' })), 'connect');
    assert.equal(failureKind(up({ phase: 'stream' })), 'connect');
    assert.equal(failureKind(up({ phase: 'timeout' }, 'upstream_timeout')), 'timeout');
    assert.equal(failureKind(up({ phase: 'status', upstreamStatus: 429 })), '429');
    assert.equal(failureKind(up({ phase: 'status', upstreamStatus: 503 })), '5xx');
    assert.equal(failureKind(up({ phase: 'busy' })), 'busy');
    assert.equal(failureKind(up({ phase: 'status', upstreamStatus: 400 })), null);
    assert.equal(failureKind(up({ phase: 'status', upstreamStatus: 401 })), null);
    assert.equal(failureKind(new GatewayError('execution', 'x')), null);
    assert.equal(failureKind(new Error('boom')), null);
  });

  it('backs off exponentially with full jitter under the cap', () => {
    assert.equal(
      backoffMs(1, settings, () => 0.5),
      50,
    );
    assert.equal(
      backoffMs(2, settings, () => 0.5),
      100,
    );
    assert.equal(
      backoffMs(3, settings, () => 0.999),
      399,
    );
    assert.equal(
      backoffMs(10, settings, () => 0.999),
      999,
    );
    assert.equal(
      backoffMs(3, settings, () => 0),
      0,
    );
  });

  it("honours a provider's Retry-After that fits max_backoff_ms, else moves on", () => {
    assert.equal(
      retryDelayMs(up({ phase: 'status', upstreamStatus: 429, retryAfterMs: 700 }), 1, settings, () => 0),
      700,
    );
    assert.equal(
      retryDelayMs(up({ phase: 'status', upstreamStatus: 429, retryAfterMs: 5000 }), 1, settings, () => 0),
      null,
    );
    assert.equal(
      retryDelayMs(up({ phase: 'status', upstreamStatus: 503 }), 1, settings, () => 0.5),
      50,
    );
  });
});
