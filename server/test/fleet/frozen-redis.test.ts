/**
 * A frozen Redis (SIGSTOP: connections open, nothing answers) behind two real
 * replicas with on_error = "allow" (docs/operations.md "When Redis fails"):
 * requests keep flowing without waiting Redis' 1 s command timeout, an
 * over-limit client is still limited (each replica its share), the operator
 * can sign in (a session local to that replica), the breaker's warn lines
 * appear, and after SIGCONT what was admitted locally is charged to the shared
 * bucket, so recovery hands no client an extra burst.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminClient } from '../admin/admin-client.js';
import { chatGatewayToml } from '../support/gateway.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { until } from '../support/wait.js';
import { metricValue, startReplica, type Replica } from './replicas.js';

const ADMIN_PASSWORD = 'frozen-admin-password-48d1';
const TOKEN = 'frozen-bearer-token-c2a9';
/** ioredis' own command timeout (state/redis-connection.ts): what every request waited before. */
const REDIS_TIMEOUT_MS = 1_000;

const toml = (upstream: string) =>
  chatGatewayToml(upstream, {
    security: `[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32"]
[security.rate_limit]
enabled = true
requests_per_minute = 0.001
burst = 10`,
    extra: `[state]
backend = "redis"
key_prefix = "frozen:"
on_error = "allow"
heartbeat_seconds = 0.2
replica_timeout_seconds = 5
command_budget_ms = 50
breaker_failures = 3
breaker_seconds = 1`,
  });

async function chat(r: Replica, ip: string): Promise<number> {
  const res = await fetch(`${r.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('a frozen Redis (SIGSTOP) with on_error = "allow"', () => {
  let redis: TestRedis;
  let upstream: FakeOpenAI;
  let dir: string;
  let a: Replica;
  let b: Replica;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipp-frozen-'));
    [redis, upstream] = await Promise.all([startRedis(), startFakeOpenAI({ record: false })]);
    const env = {
      TEST_ADMIN_PASSWORD: ADMIN_PASSWORD,
      T: TOKEN,
      UPSTREAM_KEY: upstream.apiKey,
      SIPP_GATEWAY_REDIS_URL: redis.url,
    };
    [a, b] = await Promise.all([startReplica(dir, toml(upstream.url), env), startReplica(dir, toml(upstream.url), env)]);
  });

  after(async () => {
    redis?.thaw();
    await Promise.all([a?.kill(), b?.kill()]);
    await Promise.all([redis?.stop(), upstream?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('requests flow without waiting the timeout, limits hold locally, sign-in works, and recovery charges what was admitted', async () => {
    // Both replicas know the fleet has two live members (each enforces half the limit during the outage).
    const op = new AdminClient(a.adminUrl);
    assert.equal((await op.login(ADMIN_PASSWORD)).status, 200);
    await until(
      async () => (await op.request('GET', '/api/fleet')).body.totals.up === 2,
      'both replicas in the fleet view',
      20_000,
    );
    await sleep(1_500); // several heartbeats (0.2 s) after that: each replica has counted the other

    redis.freeze();
    // 1. Twenty requests from fresh clients, one after another: before, each waited the 1 s timeout (>= 20 s in all).
    const began = performance.now();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await chat(a, `10.8.0.${i + 1}`));
    const elapsed = performance.now() - began;
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.ok(
      elapsed < (20 * REDIS_TIMEOUT_MS) / 2,
      `20 requests took ${Math.round(elapsed)} ms: they waited for the frozen Redis`,
    );
    assert.ok((await metricValue(a.managementUrl, 'sipp_gateway_state_local_rate_decisions_total')) >= 17, 'decided locally');
    assert.equal(await metricValue(a.managementUrl, 'sipp_gateway_state_redis_skipped'), 1);
    assert.equal(await metricValue(a.managementUrl, 'sipp_gateway_state_breaker_trips_total'), 1);
    // Log lines reach stdout in batches up to 10 ms after they are logged (docs/operations.md#logs): wait for them.
    await until(() => /"level":"warn"[^\n]*state store \(redis\) failing: skipped for a while/.test(a.output()), 'the skip line');
    await until(() => /"level":"warn"[^\n]*state store \(redis\) command timed out/.test(a.output()), 'the timeout line');

    // 2. An over-limit client is still limited: burst 10 across 2 live replicas = 5 on this one.
    const over: number[] = [];
    for (let i = 0; i < 12; i++) over.push(await chat(a, '10.9.0.1'));
    assert.deepEqual(over, [...Array(5).fill(200), ...Array(7).fill(429)], `statuses during the outage: ${over}`);

    // 3. The operator can sign in (a session valid on this replica) and use it.
    const fresh = new AdminClient(a.adminUrl);
    const signIn = await fresh.login(ADMIN_PASSWORD);
    assert.equal(signIn.status, 200, `${JSON.stringify(signIn.body)}\n${a.output().slice(-4000)}`);
    assert.equal((await fresh.request('GET', '/api/overview')).status, 200);
    await until(() => /admin session kept on this replica only/.test(a.output()), 'the replica-only session line');

    // Background commands (the 0.2 s heartbeat) wait ioredis' 1 s timeout: that is logged too, not only counted.
    await until(
      () => /"level":"warn"[^\n]*state store \(redis\) background command timed out/.test(a.output()),
      'the background timeout line',
      20_000,
    );

    // 4. Redis back: the breaker closes (warn line) and the 5 admitted meanwhile are charged to the shared bucket.
    redis.thaw();
    let probe = 0;
    await until(
      async () => {
        await chat(a, `10.10.0.${++probe & 255}`);
        return /state store \(redis\) answering again/.test(a.output());
      },
      'replica A to use Redis again',
      30_000,
    );
    assert.equal(await metricValue(a.managementUrl, 'sipp_gateway_state_redis_skipped'), 0);
    const afterwards: number[] = [];
    for (let i = 0; i < 8; i++) afterwards.push(await chat(a, '10.9.0.1'));
    // Shared burst 10 less the 5 admitted meanwhile: at most 5 (without the charge: 10). A probe that timed out
    // while frozen runs when Redis thaws and may take one token more: fewer is fine, more is not.
    const ok = afterwards.filter((st) => st === 200).length;
    assert.ok(ok >= 1 && ok <= 5, `admitted after recovery: ${afterwards}`);
    assert.deepEqual(afterwards, [...Array(ok).fill(200), ...Array(8 - ok).fill(429)]);
    // The local session outlives the outage on its replica.
    assert.equal((await fresh.request('GET', '/api/overview')).status, 200);
  });
});
