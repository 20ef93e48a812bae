/**
 * Reservations in Redis are leases (docs/budgets.md#leases): a replica that
 * dies mid-request leaves its reservation only until the lease runs out, not
 * until the budget's period ends; a live replica renews the leases of the
 * requests it still runs, so a long request keeps its reservation.
 *
 * The ledger tests drive the lease clock by hand (two RedisLedger instances on
 * a real redis-server, as two replicas); the process test SIGKILLs a real
 * `sipp-gateway serve` replica holding a reservation and waits (bounded,
 * event-driven) for another replica to admit what the dead one had reserved.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisLedger } from '../../src/budgets/redis-ledger.js';
import type { ScopeCheck } from '../../src/budgets/ledger.js';
import { RedisBreaker } from '../../src/state/redis-breaker.js';
import { startReplica, type Replica } from '../fleet/replicas.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML } from '../support/gateway.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { until } from '../support/wait.js';
import { PRICED_TARGET } from './rig.js';

const LEASE_MS = 60_000;

describe('reservation leases in the Redis ledger (injected lease clock)', () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  let clock = 1_000_000;
  let n = 0;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  const replica = () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    clients.push(client);
    const breaker = new RedisBreaker({ budgetMs: 5_000, failures: 5, openMs: 1_000, log: pino({ level: 'silent' }) });
    return new RedisLedger({
      redis: client,
      keyPrefix: 'lease:',
      breaker,
      onError: 'deny',
      countError: () => {},
      leaseMs: LEASE_MS,
      now: () => clock,
    });
  };
  /** A fresh `total` budget of 10 tokens. */
  const budget = (): ScopeCheck => ({
    key: `key:k${++n}:total`,
    limitNano: -1,
    limitTokens: 10,
    seedNano: 0,
    seedTokens: 0,
    ttlMs: 0,
  });
  const tokens = (t: number) => ({ nano: 0, tokens: t });

  it("a dead replica's reservation is freed once its lease runs out, not before", async () => {
    const a = replica();
    const b = replica();
    const s = budget();
    assert.deepEqual((await a.admit(null, [s], tokens(8))).ok, true);
    // Replica a dies: no renewal, no settlement.
    a.close();
    assert.equal((await b.admit(null, [s], tokens(5))).ok, false);
    clock += LEASE_MS - 1;
    assert.equal((await b.admit(null, [s], tokens(5))).ok, false, 'freed before the lease ran out');
    // Bug caught: an admission that never sweeps expired leases keeps the budget spent for ever (a `total` budget).
    clock += 2;
    assert.equal((await b.admit(null, [s], tokens(5))).ok, true);
    assert.equal((await b.read(s.key)).reservedTokens, 5);
    b.close();
  });

  it('the reserved figures leave out leases that ran out before any admission swept them', async () => {
    const a = replica();
    const b = replica();
    const s = budget();
    assert.ok((await a.admit(null, [s], { nano: 700, tokens: 6 })).ok);
    assert.ok((await b.admit(null, [s], { nano: 200, tokens: 3 })).ok);
    // a dies; b keeps renewing its own lease; nobody admits on this budget, so nothing sweeps a's.
    a.close();
    clock += LEASE_MS - 1;
    await b.renew();
    assert.deepEqual(await b.read(s.key), { nano: 0, tokens: 0, reservedNano: 900, reservedTokens: 9 }, 'both still live');
    clock += 2;
    // Bug caught: a read of the counter's raw `ru`/`rt` reports a's expired lease as still reserved.
    assert.deepEqual(await b.read(s.key), { nano: 0, tokens: 0, reservedNano: 200, reservedTokens: 3 });
    // Reading changes nothing: the next admission still sweeps a's lease (and only then) and sees b's 3 tokens.
    assert.equal((await b.admit(null, [s], tokens(8))).ok, false);
    assert.equal((await b.admit(null, [s], tokens(7))).ok, true);
    assert.deepEqual(await b.read(s.key), { nano: 0, tokens: 0, reservedNano: 200, reservedTokens: 10 });
    b.close();
  });

  it("a live replica's long request keeps its reservation past the lease (renewed)", async () => {
    const a = replica();
    const b = replica();
    const s = budget();
    const held = await a.admit(null, [s], tokens(8));
    assert.ok(held.ok && held.lease);
    // Three lease lengths pass, the replica renewing as its timer would (every third of the lease).
    for (let i = 0; i < 9; i++) {
      clock += LEASE_MS / 3;
      await a.renew();
    }
    // Bug caught: a renewal that does not push the deadline (or is never called) lets the live request's reservation go.
    assert.equal((await b.admit(null, [s], tokens(5))).ok, false);
    await a.settle({
      rate: null,
      scopes: [{ key: s.key, thresholdNano: -1, thresholdTokens: -1, ttlMs: 0, held: true, seedNano: 0, seedTokens: 0 }],
      reserved: tokens(8),
      actual: tokens(3),
      lease: held.lease,
    });
    assert.deepEqual(await a.read(s.key), { nano: 0, tokens: 3, reservedNano: 0, reservedTokens: 0 });
    assert.equal((await b.admit(null, [s], tokens(5))).ok, true);
    a.close();
    b.close();
  });

  it('a settlement after its lease was swept does not release it twice', async () => {
    const a = replica();
    const b = replica();
    const s = budget();
    const held = await a.admit(null, [s], tokens(6));
    assert.ok(held.ok && held.lease);
    a.close();
    clock += LEASE_MS + 1;
    // b's admission sweeps a's lease and reserves its own 4.
    assert.equal((await b.admit(null, [s], tokens(4))).ok, true);
    // a was only slow (its renewals did not reach Redis): its late settlement counts the spend but releases nothing.
    // Bug caught: releasing unconditionally takes b's reservation away, and the budget over-admits.
    await a.settle({
      rate: null,
      scopes: [{ key: s.key, thresholdNano: -1, thresholdTokens: -1, ttlMs: 0, held: true, seedNano: 0, seedTokens: 0 }],
      reserved: tokens(6),
      actual: tokens(2),
      lease: held.lease,
    });
    assert.deepEqual(await b.read(s.key), { nano: 0, tokens: 2, reservedNano: 0, reservedTokens: 4 });
    assert.equal((await b.admit(null, [s], tokens(5))).ok, false);
    assert.equal((await b.admit(null, [s], tokens(4))).ok, true);
    b.close();
  });
});

describe('a replica SIGKILLed mid-request: its reservation frees after the lease', () => {
  let redis: TestRedis;
  let openai: FakeOpenAI;
  let dir: string;
  const replicas: Replica[] = [];
  const TOKEN = 'tok-lease-0123456789abcdef';

  before(async () => {
    redis = await startRedis();
    openai = await startFakeOpenAI();
    openai.setReply({ promptTokens: 8, completionTokens: 10 });
    dir = mkdtempSync(join(tmpdir(), 'sipp-leases-'));
    // 300 tokens: one request (about 90 bytes of body + max_tokens 100) reserves about 190, so a second waits.
    const toml = `${BASE_TOML}
[[tokens]]
env = "T"
caller = "lease"
budget = { tokens = 300, period = "total" }
[budgets]
reservation_lease_seconds = 2
[state]
backend = "redis"
key_prefix = "leases:"
heartbeat_seconds = 0.5
replica_timeout_seconds = 5
command_budget_ms = 1000
${PRICED_TARGET(openai.url)}`;
    const env = {
      TEST_ADMIN_PASSWORD: 'admin-pw-leases-0123456789',
      OPENAI_KEY: openai.apiKey,
      T: TOKEN,
      SIPP_GATEWAY_REDIS_URL: redis.url,
    };
    for (let i = 0; i < 2; i++) replicas.push(await startReplica(dir, toml, env));
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    await openai?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const chat = async (r: Replica) => {
    const res = await fetch(`${r.publicUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ model: 'gpt', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('the other replica admits once the dead one’s lease ran out', async () => {
    const [a, b] = replicas as [Replica, Replica];
    openai.queueBehaviors({ kind: 'stall-headers' });
    const first = openai.requests.length;
    const held = chat(a).catch(() => 0);
    await until(() => openai.requests.length > first, 'the held request to reach the provider');
    // The reservation is in Redis: the other replica refuses (renewed meanwhile, it does not go while a lives).
    assert.equal(await chat(b), 429);
    await a.kill();
    await held;
    // Bug caught: without leases the `total` budget stays spent for ever. Bounded, far above the 2 s lease.
    await until(async () => (await chat(b)) === 200, "b to admit after a's lease ran out", 30_000);
  });
});
