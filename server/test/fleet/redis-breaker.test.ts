/**
 * The fail-fast state store (docs/operations.md "When Redis fails"): the
 * breaker's rules on an injected clock, the per-command budget, and the
 * rate-limit buckets' local share while Redis is skipped, charged to the
 * shared bucket when Redis answers again (a real redis-server).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BudgetExceededError, RedisBreaker, RedisSkippedError, withBudget } from '../../src/state/redis-breaker.js';
import { createSharedBuckets } from '../../src/state/shared-buckets.js';
import { startRedis, type TestRedis } from '../support/redis.js';

function capture() {
  const lines: Array<{ msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, warns: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

const fail = () => Promise.reject(Object.assign(new Error('boom'), { code: 'ECONNRESET' }));
const ok = () => Promise.resolve('ok');

describe('RedisBreaker (injected clock)', () => {
  it('trips after N consecutive failures, skips Redis for the period without calling it, then one probe closes it', async () => {
    let now = 0;
    const { log, warns } = capture();
    const events: string[] = [];
    const b = new RedisBreaker({
      budgetMs: 1000,
      failures: 3,
      openMs: 2_000,
      log,
      now: () => now,
      onTrip: () => events.push('trip'),
      onSkipping: (s) => events.push(`skipping=${s}`),
      onRecover: () => events.push('recover'),
    });
    await assert.rejects(b.run(fail));
    await assert.rejects(b.run(fail));
    assert.equal(b.skipping(), false, 'two failures are not enough');
    await assert.rejects(b.run(fail), /boom/);
    assert.equal(b.skipping(), true);
    assert.deepEqual(events, ['trip', 'skipping=true']);
    assert.equal(warns().filter((m) => /state store \(redis\) failing/.test(m)).length, 1, 'one warn line at the trip');

    let called = 0;
    now = 1_999;
    await assert.rejects(
      b.run(async () => void called++),
      RedisSkippedError,
    );
    assert.equal(called, 0, 'Redis is not called while skipped');

    now = 2_000;
    assert.equal(await b.run(ok), 'ok', 'the probe after the period goes through');
    assert.equal(b.skipping(), false);
    assert.deepEqual(events, ['trip', 'skipping=true', 'skipping=false', 'recover']);
    assert.equal(warns().filter((m) => /answering again/.test(m)).length, 1, 'one warn line at recovery');
  });

  it('a failed probe skips for another period, quietly; a success between failures resets the count', async () => {
    let now = 0;
    const { log, warns } = capture();
    const b = new RedisBreaker({ budgetMs: 1000, failures: 2, openMs: 1_000, log, now: () => now });
    await assert.rejects(b.run(fail));
    await b.run(ok);
    await assert.rejects(b.run(fail));
    assert.equal(b.skipping(), false, 'the success reset the consecutive count');
    await assert.rejects(b.run(fail));
    assert.equal(b.skipping(), true);
    now = 1_000;
    await assert.rejects(b.run(fail), /boom/, 'the probe fails');
    now = 1_999;
    assert.equal(b.skipping(), true, 'skipped for another full period from the failed probe');
    now = 2_000;
    assert.equal(b.skipping(), false);
    assert.equal(warns().filter((m) => /failing/.test(m)).length, 1, 'the failed probe logs no second trip line');
  });

  it('while a probe is in flight every other call is skipped', async () => {
    let now = 0;
    const b = new RedisBreaker({ budgetMs: 1000, failures: 1, openMs: 10, log: capture().log, now: () => now });
    await assert.rejects(b.run(fail));
    now = 10;
    let release!: (v: string) => void;
    const probe = b.run(() => new Promise<string>((r) => (release = r)));
    await assert.rejects(b.run(ok), RedisSkippedError);
    release('ok');
    assert.equal(await probe, 'ok');
    assert.equal(b.skipping(), false);
  });

  it('budget overruns are counted and logged (a command timeout is never silent)', async () => {
    const { log, warns } = capture();
    let timeouts = 0;
    const b = new RedisBreaker({ budgetMs: 20, failures: 5, openMs: 1000, log, onTimeout: () => timeouts++ });
    await assert.rejects(
      b.run(() => new Promise(() => {})),
      BudgetExceededError,
    );
    assert.equal(timeouts, 1);
    assert.deepEqual(warns(), ['state store (redis) command timed out']);
  });

  it('withBudget: a promise that never settles is rejected; one that settles in time is not', async () => {
    await assert.rejects(withBudget(new Promise(() => {}), 10), BudgetExceededError);
    assert.equal(await withBudget(Promise.resolve(7), 10_000), 7);
  });
});

describe('shared buckets while Redis is skipped (real Redis)', () => {
  let redis: TestRedis | undefined;
  let client: Redis | undefined;
  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('each replica enforces its share (limit ÷ live replicas) locally, and what it admitted is charged to the shared bucket on recovery', async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    let now = 0;
    const breaker = new RedisBreaker({ budgetMs: 1000, failures: 1, openMs: 1_000, log: capture().log, now: () => now });
    let local = 0;
    const buckets = createSharedBuckets({
      redis: client,
      keyPrefix: 'charge:',
      onError: 'allow',
      countError: () => {},
      breaker,
      liveReplicas: () => 2,
      onLocalDecision: () => local++,
      now: () => now,
    });
    const s = { enabled: true, requestsPerMinute: 0.001, burst: 10 };
    // Redis is skipped: the breaker tripped.
    breaker.failure(new Error('down'));
    const during = [];
    for (let i = 0; i < 8; i++) during.push((await buckets.take('10.0.0.1', s)).ok);
    assert.deepEqual(during, [true, true, true, true, true, false, false, false], 'burst 10 ÷ 2 replicas = 5 here');
    assert.equal(local, 8, 'every decision was local');

    // Redis answers again: the probe closes the breaker, the 5 admitted are charged.
    now = 1_000;
    await breaker.run(() => client!.ping());
    await buckets.flushCharges();
    const afterwards = [];
    for (let i = 0; i < 8; i++) afterwards.push((await buckets.take('10.0.0.1', s)).ok);
    assert.deepEqual(
      afterwards,
      [true, true, true, true, true, false, false, false],
      'the shared burst of 10 less the 5 admitted meanwhile',
    );
    assert.equal(local, 8, 'no further local decision');
  });
});
