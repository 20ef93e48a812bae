/**
 * The budget guarantee across replicas (docs/budgets.md#in-a-fleet): three
 * gateways sharing a real Redis take one budget together; a burst of 50
 * concurrent requests spread over them against a budget that allows 10 gets
 * exactly 10 served. A caller budget set on one replica holds on the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { AdminClient } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tokenGateway, type TestToken } from '../support/token-gateway.js';
import { until } from '../support/wait.js';
import { gate, PRICED_TARGET, type Gate } from './rig.js';

const ADMIN_PASSWORD = 'admin-pw-fleet-budgets-012345';
const TOKEN = 'tok-fleet-budget-0123456789';
const TEAM = 'tok-fleet-team-0123456789ab';
/** A budgeted caller and an unbudgeted one (its caller budget is set through the admin API). */
const TOKENS: TestToken[] = [
  { env: 'T', value: TOKEN, caller: 'fleet', toml: 'budget = { usd = 0.1, period = "total" }' },
  { env: 'T_TEAM', value: TEAM, caller: 'team' },
];
const fleetGateway = (openai: FakeOpenAI, redis: TestRedis, state: string, tokens: TestToken[] = TOKENS) =>
  tokenGateway({
    adminPassword: ADMIN_PASSWORD,
    tokens,
    tables: `[state]\nbackend = "redis"\n${state}`,
    targets: PRICED_TARGET(openai.url),
    env: { OPENAI_KEY: openai.apiKey, SIPP_GATEWAY_REDIS_URL: redis.url },
  });

/** Redis, a fake provider (8 in, 10 out) and one gateway on them for a block's outage test, stopped after it. */
function outageRig(state: string, tokens: TestToken[] = TOKENS) {
  const rig = {} as { redis: TestRedis; openai: FakeOpenAI; gw: TestGateway };
  before(async () => {
    rig.redis = await startRedis();
    rig.openai = await startFakeOpenAI();
    rig.openai.setReply({ promptTokens: 8, completionTokens: 10 });
    rig.gw = await startTestGateway({ ...fleetGateway(rig.openai, rig.redis, state, tokens), logLevel: 'warn' });
  });
  after(async () => {
    await rig.gw?.stop();
    await rig.openai?.close();
    await rig.redis?.stop();
  });
  return rig;
}

describe('budgets across three replicas sharing Redis', () => {
  let redis: TestRedis;
  let openai: FakeOpenAI;
  const gws: TestGateway[] = [];
  let g: Gate;
  const ask = { model: 'gpt', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };

  before(async () => {
    redis = await startRedis();
    openai = await startFakeOpenAI();
    openai.setReply({ promptTokens: 8, completionTokens: 10 });
    g = gate();
    const { toml, env } = fleetGateway(
      openai,
      redis,
      'key_prefix = "budgets:"\nheartbeat_seconds = 0.5\nreplica_timeout_seconds = 5\ncommand_budget_ms = 1000',
    );
    for (let i = 0; i < 3; i++) gws.push(await startTestGateway({ toml, env, logLevel: 'warn', modules: [g.module, g.capture] }));
  });
  after(async () => {
    for (const gw of gws) await gw.stop();
    await openai?.close();
    await redis?.stop();
  });

  it('50 concurrent requests over three replicas against a budget that allows 10: exactly 10 served', async () => {
    // Bug caught: a Lua admission that compares the spend but not the reservations admits the whole burst.
    g.arm(50);
    const clients = gws.map((gw) => new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 }));
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => clients[i % 3]!.chat.completions.create(ask)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(refused.length, 40);
    assert.ok(refused.every((r) => r.reason.status === 429 && r.reason.error.code === 'insufficient_quota'));
    await until(() => g.records.filter((r) => r.caller === 'fleet').length === 50, 'every record');
    const spent = g.records.filter((r) => r.caller === 'fleet').reduce((s, r) => s + (r.costUsd ?? 0), 0);
    assert.ok(Math.abs(spent - 0.1) < 1e-12, `spent ${spent}`);
    // Every replica now refuses: the spend is shared.
    for (const c of clients) await assert.rejects(c.chat.completions.create(ask), (e: any) => e.status === 429);
    // The soft threshold (80 %) was crossed once for the fleet, by whichever replica settled past it.
    // Bug caught: a settle script that sets the "warned" flag unconditionally (HSET, not HSETNX) counts every settlement past it.
    let crossings = 0;
    for (const gw of gws) {
      const text = await (await fetch(`${gw.managementUrl}/metrics`)).text();
      crossings += Number(/^sipp_gateway_budget_threshold_crossings_total (\S+)$/m.exec(text)?.[1] ?? 0);
    }
    assert.equal(crossings, 1);
  });

  it('a caller budget set on one replica holds on the others', async () => {
    const admin = new AdminClient(`${gws[0]!.managementUrl}/admin`);
    assert.equal((await admin.login(ADMIN_PASSWORD)).status, 200);
    assert.equal((await admin.request('PUT', '/api/callers/team/budget', { json: { usd: 0.02, period: 'month' } })).status, 200);
    const other = new OpenAI({ baseURL: `${gws[2]!.publicUrl}/v1`, apiKey: TEAM, maxRetries: 0 });
    // Each replica re-reads caller budgets every second: wait (bounded) until replica 3 refuses.
    await other.chat.completions.create(ask);
    await other.chat.completions.create(ask);
    await until(
      async () => (await other.chat.completions.create(ask).catch((e) => e)).status === 429,
      'refusal on replica 3',
      10_000,
    );
    const got = new AdminClient(`${gws[1]!.managementUrl}/admin`);
    assert.equal((await got.login(ADMIN_PASSWORD)).status, 200);
    await until(
      async () => (await got.request('GET', '/api/callers/team/budget')).body.budget?.usd === 0.02,
      'replica 2 view',
      10_000,
    );
  });
});

describe('budgets while Redis is down', () => {
  const rig = outageRig('key_prefix = "down:"\non_error = "deny"\ncommand_budget_ms = 200\nbreaker_seconds = 0.2');

  it('on_error = "deny": a budgeted request is 503 unavailable, an unbudgeted one is served; both resume with Redis', async () => {
    const ask = { model: 'gpt', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };
    const budgeted = new OpenAI({ baseURL: `${rig.gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const free = new OpenAI({ baseURL: `${rig.gw.publicUrl}/v1`, apiKey: TEAM, maxRetries: 0 });
    await budgeted.chat.completions.create(ask);
    await rig.redis.kill();
    const e: any = await budgeted.chat.completions.create(ask).catch((x) => x);
    assert.equal(e.status, 503);
    assert.equal(e.error.code, 'unavailable');
    await free.chat.completions.create(ask);
    await rig.redis.restart();
    await until(
      async () => (await budgeted.chat.completions.create(ask).catch((x) => x)).choices !== undefined,
      'served again',
      20_000,
    );
  });
});

describe('budgets while Redis is down, on_error = "allow" (the default)', () => {
  // Each request: max_tokens 10 at 1000 USD/Mtok = 0.01 USD reserved and spent; the budget allows 3.
  const rig = outageRig('key_prefix = "allow:"\ncommand_budget_ms = 200\nbreaker_seconds = 0.2', [
    { env: 'T', value: TOKEN, caller: 'allow', toml: 'budget = { usd = 0.03, period = "total" }' },
  ]);

  it("serves budgeted requests from the replica's own counters up to the budget, then 429; the outage's spend reaches Redis when it is back", async () => {
    const ask = { model: 'gpt', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };
    const client = new OpenAI({ baseURL: `${rig.gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await client.chat.completions.create(ask);
    const before = new Redis(rig.redis.url, { maxRetriesPerRequest: 1 });
    // Settlement follows the answer: wait for it to land in Redis before Redis goes.
    await until(async () => Number(await before.hget('allow:budget:key:config%3Aallow:total', 'su')) === 0.01e9, 'settled');
    before.disconnect();
    await rig.redis.kill();
    // Bug caught: treating "allow" as "deny" (a flipped branch) makes these 503 unavailable.
    // The replica's own counters start at zero: the whole budget is admitted again, then refused.
    for (let i = 0; i < 3; i++) await client.chat.completions.create(ask);
    const e: any = await client.chat.completions.create(ask).catch((x) => x);
    assert.equal(e.status, 429);
    assert.equal(e.error.code, 'insufficient_quota');
    await rig.redis.restart();
    const r = new Redis(rig.redis.url, { maxRetriesPerRequest: 1 });
    try {
      const spent = async () => Number((await r.hget('allow:budget:key:config%3Aallow:total', 'su')) ?? 0);
      // An admission through Redis replays the outage's settlements; the budget (0.01 spent in Redis) admits one.
      await until(
        async () => {
          await client.chat.completions.create(ask).catch(() => null);
          return (await spent()) >= 0.04e9;
        },
        "the outage's spend replayed into Redis",
        20_000,
      );
      // Bug caught: settlements of locally admitted requests kept only in memory: Redis would still admit.
      const refused: any = await client.chat.completions.create(ask).catch((x) => x);
      assert.equal(refused.status, 429);
    } finally {
      r.disconnect();
    }
  });
});
