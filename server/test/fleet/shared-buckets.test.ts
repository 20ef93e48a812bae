/**
 * The shared rate-limit buckets' batching (state/shared-buckets.ts,
 * docs/operations.md "Shared state"): the takes of one event-loop turn go to
 * Redis as one script call, and each gets the decision that many single takes
 * in arrival order would get. A real redis-server; the command count is read
 * from Redis' own statistics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { GatewayError } from '../../src/errors.js';
import { RedisBreaker } from '../../src/state/redis-breaker.js';
import { createSharedBuckets, MAX_BATCH } from '../../src/state/shared-buckets.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const silent = pino({ level: 'silent' });

/** Script calls Redis has run so far (EVALSHA and its EVAL fallback). */
async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

describe('shared buckets: one script call per event-loop turn (real Redis)', () => {
  let redis: TestRedis;
  let client: Redis;
  let stats: Redis;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    stats = new Redis(redis.url);
  });
  after(async () => {
    client.disconnect();
    stats.disconnect();
    await redis.stop();
  });

  function buckets(prefix: string, onError: 'allow' | 'deny' = 'allow', redisClient: Redis = client) {
    let errors = 0;
    let local = 0;
    const breaker = new RedisBreaker({ budgetMs: 2_000, failures: 100, openMs: 1_000, log: silent });
    const b = createSharedBuckets({
      redis: redisClient,
      keyPrefix: prefix,
      onError,
      countError: () => errors++,
      breaker,
      liveReplicas: () => 1,
      onLocalDecision: () => local++,
    });
    return { b, errors: () => errors, local: () => local };
  }

  it('12 takes in one turn on a burst of 10: one script call, the first 10 admitted in arrival order, the last 2 told when to retry', async () => {
    const { b } = buckets('batch1:');
    // A slow refill (1 per minute): nothing comes back while the test runs.
    const s = { enabled: true, requestsPerMinute: 1, burst: 10 };
    await b.take('warm-up', s); // loads the script, so the count below is one EVALSHA
    const calls = await scriptCalls(stats);
    const decisions = await Promise.all(Array.from({ length: 12 }, () => b.take('10.0.0.7', s)));
    assert.equal((await scriptCalls(stats)) - calls, 1, 'one script call for the whole turn');
    assert.deepEqual(
      decisions.map((d) => d.ok),
      [true, true, true, true, true, true, true, true, true, true, false, false],
    );
    for (const d of decisions.slice(10)) assert.deepEqual(d, { ok: false, retryAfterSeconds: 60 }, 'one token per minute: 60 s');
    // The bucket was written back: the next turn finds it empty too.
    assert.deepEqual(await b.take('10.0.0.7', s), { ok: false, retryAfterSeconds: 60 });
  });

  it('one call, several buckets: each client and each setting keeps its own, as single takes would', async () => {
    const { b } = buckets('batch2:');
    const two = { enabled: true, requestsPerMinute: 1, burst: 2 };
    const three = { enabled: true, requestsPerMinute: 1, burst: 3 };
    await b.take('warm-up', two);
    const calls = await scriptCalls(stats);
    const order = ['a', 'b', 'a', 'a', 'b', 'c', 'a', 'b', 'b'] as const;
    const decisions = await Promise.all(order.map((c) => b.take(c, c === 'b' ? three : two)));
    assert.equal((await scriptCalls(stats)) - calls, 1);
    assert.deepEqual(
      decisions.map((d, i) => `${order[i]}:${d.ok ? 'ok' : 'no'}`),
      ['a:ok', 'b:ok', 'a:ok', 'a:no', 'b:ok', 'c:ok', 'a:no', 'b:ok', 'b:no'],
    );
    // Buckets of one call are the same as those of single calls: a's, full, is still refused next turn.
    assert.equal((await b.take('a', two)).ok, false);
    assert.equal((await b.take('c', two)).ok, true, "c's second token");
  });

  it('settings that differ only in their rate: each bucket refills at its own rate (the arguments are made once per setting)', async () => {
    const { b } = buckets('batch5:');
    // A token back in 60 s and in 30 s: nothing comes back while the test runs.
    const slow = { enabled: true, requestsPerMinute: 1, burst: 1 };
    const fast = { enabled: true, requestsPerMinute: 2, burst: 1 };
    await b.take('warm-up', slow);
    const check = (d: { ok: boolean; retryAfterSeconds?: number }[]) => {
      assert.deepEqual(
        d.map((x) => x.ok),
        [true, true, false, false],
        'each setting its own bucket',
      );
      assert.ok(d[2]!.retryAfterSeconds! > 30, `slow: ${d[2]!.retryAfterSeconds} s`);
      assert.ok(d[3]!.retryAfterSeconds! <= 30, `fast: ${d[3]!.retryAfterSeconds} s`);
    };
    // In one turn (one script call), then one setting after the other in turns of their own.
    check(await Promise.all([slow, fast, slow, fast].map((s) => b.take('r', s))));
    const again = [];
    for (const s of [slow, fast]) again.push(await b.take('r2', s));
    for (const s of [slow, fast]) again.push(await b.take('r2', s));
    check(again);
  });

  it(`more than ${MAX_BATCH} takes in one turn: calls of at most ${MAX_BATCH}, still in arrival order`, async () => {
    const { b } = buckets('batch4:');
    const s = { enabled: true, requestsPerMinute: 1, burst: MAX_BATCH + 5 };
    await b.take('warm-up', s);
    const calls = await scriptCalls(stats);
    const decisions = await Promise.all(Array.from({ length: 2 * MAX_BATCH + 1 }, () => b.take('z', s)));
    assert.equal((await scriptCalls(stats)) - calls, 3);
    assert.equal(decisions.filter((d) => d.ok).length, MAX_BATCH + 5);
    assert.ok(
      decisions.slice(0, MAX_BATCH + 5).every((d) => d.ok),
      'the first burst-many admitted',
    );
  });

  it('takes of separate turns are separate calls (a lone request waits for no batch)', async () => {
    const { b } = buckets('batch3:');
    const s = { enabled: true, requestsPerMinute: 60_000, burst: 100 };
    await b.take('warm-up', s);
    const calls = await scriptCalls(stats);
    for (let i = 0; i < 3; i++) assert.equal((await b.take('x', s)).ok, true);
    assert.equal((await scriptCalls(stats)) - calls, 3);
  });

  it('Redis failing: every take of the batch follows on_error (allow → local decision and one error each; deny → 503 each)', async () => {
    // A client that cannot reach Redis: commands fail at once (no offline queue).
    const down = new Redis({
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    try {
      const s = { enabled: true, requestsPerMinute: 1, burst: 2 };
      const allow = buckets('down:', 'allow', down);
      const decisions = await Promise.all([1, 2, 3].map(() => allow.b.take('y', s)));
      assert.deepEqual(
        decisions.map((d) => d.ok),
        [true, true, false],
        'burst 2 enforced locally',
      );
      assert.equal(allow.local(), 3);
      assert.equal(allow.errors(), 3, 'one state error per request');

      const deny = buckets('down:', 'deny', down);
      const results = await Promise.allSettled([1, 2].map(() => deny.b.take('y', s)));
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.reason instanceof GatewayError && r.reason.code === 'unavailable', String(r.reason));
      }
      assert.equal(deny.errors(), 2);
    } finally {
      down.disconnect();
    }
  });
});
