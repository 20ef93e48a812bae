/**
 * Spend-only settlements in the Redis ledger (docs/budgets.md#in-a-fleet): summed per counter and sent
 * together, read back by this replica's own reads and sent on shutdown; a settlement that releases a
 * reservation or may cross a threshold still goes to Redis at once (a real redis-server).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import type { SettleInput } from '../../src/budgets/ledger.js';
import { RedisBreaker } from '../../src/state/redis-breaker.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const log = pino({ level: 'silent' });

function input(keys: string[], nano: number, tokens: number, opts: { held?: boolean; thresholdNano?: number } = {}): SettleInput {
  return {
    rate: null,
    scopes: keys.map((key) => ({
      key,
      thresholdNano: opts.thresholdNano ?? -1,
      thresholdTokens: -1,
      ttlMs: 0,
      held: opts.held ?? false,
      seedNano: 0,
      seedTokens: 0,
    })),
    reserved: { nano: 0, tokens: 0 },
    actual: { nano, tokens },
  };
}

describe('Redis ledger: spend-only settlements are batched', () => {
  let redis: TestRedis;
  let client: Redis;
  let raw: Redis;
  let n = 0;
  const ledger = (spendBatchMs: number) => {
    const steps: Array<() => Promise<void>> = [];
    const l = new RedisLedger({
      redis: client,
      keyPrefix: `sb${n++}:`,
      breaker: new RedisBreaker({ budgetMs: 5_000, failures: 3, openMs: 1_000, log }),
      onError: 'allow',
      countError: () => {},
      beforeClose: (step) => void steps.push(step),
      spendBatchMs,
      leaseMs: 60_000,
    });
    return { l, prefix: `sb${n - 1}:`, close: () => Promise.all(steps.map((s) => s())) };
  };
  const stored = async (key: string) => {
    const [su, st] = await raw.hmget(key, 'su', 'st');
    return { nano: Number(su ?? 0), tokens: Number(st ?? 0) };
  };

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    raw = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  });
  after(async () => {
    client?.disconnect();
    raw?.disconnect();
    await redis?.stop();
  });

  it("a replica's own read counts the settlements still waiting in the batch, summed", async () => {
    // Bug caught: read() that does not send the batch first reads 0 (the batch would only leave in a minute).
    const { l } = ledger(60_000);
    await l.settle(input(['caller:a:day1', 'caller:a:month1'], 100, 7));
    await l.settle(input(['caller:a:day1', 'caller:a:month1'], 50, 3));
    await l.settle(input(['caller:b:day1'], 5, 1));
    assert.deepEqual(await l.read('caller:a:day1'), { nano: 150, tokens: 10, reservedNano: 0, reservedTokens: 0 });
    assert.deepEqual(await l.read('caller:a:month1'), { nano: 150, tokens: 10, reservedNano: 0, reservedTokens: 0 });
    assert.deepEqual(await l.read('caller:b:day1'), { nano: 5, tokens: 1, reservedNano: 0, reservedTokens: 0 });
  });

  it('the batch is sent when the state closes (before Redis disconnects)', async () => {
    // Bug caught: no flush on close loses the last 50 ms of spend at every shutdown.
    const { l, prefix, close } = ledger(60_000);
    await l.settle(input(['caller:c:day1'], 40, 4));
    await l.settle(input(['caller:c:day1'], 2, 1));
    await close();
    assert.deepEqual(await stored(`${prefix}budget:caller:c:day1`), { nano: 42, tokens: 5 });
  });

  it('the batch leaves by itself after its interval', async () => {
    const { l, prefix } = ledger(20);
    await l.settle(input(['caller:d:day1'], 9, 2));
    const end = Date.now() + 30_000;
    while ((await stored(`${prefix}budget:caller:d:day1`)).nano !== 9) {
      assert.ok(Date.now() < end, 'the batch was never sent');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await stored(`${prefix}budget:caller:d:day1`), { nano: 9, tokens: 2 });
  });

  it('a settlement that releases a reservation or can cross a threshold is not batched', async () => {
    // Bug caught: batching every settlement would delay threshold warnings and leave reservations held.
    const { l, prefix } = ledger(60_000);
    await l.settle({ ...input(['key:k:day1'], 10, 1, { held: true }), reserved: { nano: 20, tokens: 2 } });
    assert.deepEqual(await stored(`${prefix}budget:key:k:day1`), { nano: 10, tokens: 1 });
    const [r] = await l.settle(input(['key:k2:day1'], 10, 1, { thresholdNano: 5 }));
    assert.deepEqual(r, { spend: { nano: 10, tokens: 1 }, crossed: true });
  });
});
