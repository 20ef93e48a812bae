/**
 * Issue #12: three real gateway processes sharing one real redis-server behave
 * as one gateway — combined rate limit, blocklist and controls on every
 * replica (by pub/sub, long before a resync) and across restarts, sessions valid everywhere, a
 * fleet view that notices a dead replica, and no failed public request when
 * Redis dies (on_error = "allow"). The Redis password never leaks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { AdminClient, findSecrets, type Seen } from '../admin/admin-client.js';
import { chatGatewayToml } from '../support/gateway.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { loginFrom } from '../support/login-from.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { until } from '../support/wait.js';
import { metricValue, startReplica, type Replica } from './replicas.js';

const ADMIN_PASSWORD = 'fleet-admin-password-71c3';
const TOKEN = 'fleet-bearer-token-5d0e';
const HEARTBEAT_S = 0.2;
/** Long enough that a live replica whose heartbeats a loaded machine delays is never shown down. */
const TIMEOUT_S = 5;
/**
 * How long a change may take to reach the other replicas. Changes travel by pub/sub; the bound is generous for a
 * loaded machine (no test depends on its speed) and still far below resync_seconds = 60, so a change that only a
 * resync would carry fails.
 */
const PROPAGATION_MS = 20_000;
/** Bound for Redis's return to take effect (reconnect with backoff, then a resync): also far below 60 s. */
const RECONNECT_MS = 30_000;

function fleetToml(upstream: string, o: { prefix?: string; onError?: 'allow' | 'deny'; rpm?: number; burst?: number } = {}) {
  return chatGatewayToml(upstream, {
    security: `[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32"]
[security.rate_limit]
enabled = true
requests_per_minute = ${o.rpm ?? 0.001}
burst = ${o.burst ?? 30}`,
    // resync_seconds is long on purpose: changes must travel by pub/sub.
    extra: `[state]
backend = "redis"
key_prefix = "${o.prefix ?? 'fleet:'}"
on_error = "${o.onError ?? 'allow'}"
heartbeat_seconds = ${HEARTBEAT_S}
replica_timeout_seconds = ${TIMEOUT_S}
resync_seconds = 60
command_budget_ms = 500
breaker_seconds = 0.3`,
  });
}

/** One public chat request as client `ip` (X-Forwarded-For from the trusted loopback proxy). */
async function chat(r: Replica, ip: string, token: string | null = TOKEN): Promise<number> {
  const res = await fetch(`${r.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': ip,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Unauthenticated requests: 401 means the rate limit let it through (that step comes first), 429 that it did not. */
const admitted = (status: number) => {
  assert.ok(status === 401 || status === 429, `unexpected status ${status}`);
  return status === 401;
};

describe('fleet: three replicas sharing one Redis', () => {
  let redis: TestRedis;
  let upstream: FakeOpenAI;
  let dir: string;
  let replicas: Replica[] = [];
  const retired: Replica[] = [];
  const seen: Seen[] = [];
  let env: Record<string, string>;
  const toml = () => fleetToml(upstream.url);

  const admin = (r: Replica) => new AdminClient(r.adminUrl, seen);
  /** A client on replica `r` that carries `from`'s session cookie and CSRF token. */
  const sameSession = (from: AdminClient, r: Replica) => {
    const c = admin(r);
    for (const [k, v] of from.cookies) c.cookies.set(k, v);
    c.csrf = from.csrf;
    return c;
  };
  const startAll = async () => {
    replicas = await Promise.all([0, 1, 2].map(() => startReplica(dir, toml(), env)));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipp-fleet-'));
    [redis, upstream] = await Promise.all([startRedis(), startFakeOpenAI({ record: false })]);
    env = { TEST_ADMIN_PASSWORD: ADMIN_PASSWORD, T: TOKEN, UPSTREAM_KEY: upstream.apiKey, SIPP_GATEWAY_REDIS_URL: redis.url };
    await startAll();
  });

  after(async () => {
    await Promise.all([...replicas, ...retired].map((r) => r.kill()));
    await Promise.all([redis?.stop(), upstream?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the combined burst across three replicas (round-robin) is the configured burst', async () => {
    let ok = 0;
    for (let i = 0; i < 90; i++) if (admitted(await chat(replicas[i % 3]!, '10.0.1.1', null))) ok++;
    // burst 30, refill 0.001/min: independent buckets would admit 90.
    assert.equal(ok, 30);
  });

  test('the combined refill across three replicas is the configured rate (within 5%)', async () => {
    const a = admin(replicas[0]!);
    assert.equal((await a.login(ADMIN_PASSWORD)).status, 200);
    const settings = { enabled: true, requestsPerMinute: 300, burst: 20 };
    assert.equal((await a.request('PUT', '/api/security/rate-limit', { json: settings })).status, 200);
    for (const r of replicas.slice(1)) {
      const c = sameSession(a, r);
      await until(
        async () => (await c.request('GET', '/api/security')).body.rateLimit.requestsPerMinute === settings.requestsPerMinute,
        'the new rate on every replica',
        PROPAGATION_MS,
      );
    }
    // Ten workers keep asking (round-robin over the replicas) until the bucket has refused REFUSALS requests,
    // however long that takes on this machine (not for a fixed time: a loaded machine may answer only a
    // few requests a second), so the burst is spent and tokens are taken as they appear. The window is
    // measured from the client's side: the server-side span between the first
    // and the last bucket check lies between (last send - first answer) and
    // (last answer - first send), whatever the machine's speed.
    const perMs = settings.requestsPerMinute / 60_000;
    let ok = 0;
    let refused = 0;
    let i = 0;
    let firstSent = Infinity;
    let firstAnswered = Infinity;
    let lastSent = 0;
    let lastAnswered = 0;
    const REFUSALS = 40;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (refused < REFUSALS || performance.now() - began < 1500) {
          assert.ok(
            performance.now() - began < 120_000,
            `still under ${REFUSALS} refusals after 2 min (admitted ${ok}, refused ${refused})`,
          );
          const sent = performance.now();
          const status = await chat(replicas[i++ % 3]!, '10.0.2.1', null);
          const answered = performance.now();
          firstSent = Math.min(firstSent, sent);
          firstAnswered = Math.min(firstAnswered, answered);
          lastSent = Math.max(lastSent, sent);
          lastAnswered = Math.max(lastAnswered, answered);
          if (admitted(status)) ok++;
          else refused++;
        }
      }),
    );
    assert.ok(refused >= REFUSALS, `the workers outpaced the refill (admitted ${ok}, refused ${refused})`);
    const low = settings.burst + perMs * (lastSent - firstAnswered);
    const high = settings.burst + perMs * (lastAnswered - firstSent);
    assert.ok(
      ok >= Math.floor(low * 0.95) - 1 && ok <= Math.ceil(high * 1.05) + 1,
      `admitted ${ok}, expected ${low.toFixed(1)}..${high.toFixed(1)} ±5%`,
    );
  });

  test('a block through replica 1 refuses the client on replicas 2 and 3 by pub/sub (well before a resync); unblocking likewise', async () => {
    const a = admin(replicas[0]!);
    await a.login(ADMIN_PASSWORD);
    const ip = '10.0.3.1';
    for (const r of replicas) assert.notEqual(await chat(r, ip), 403);
    assert.equal((await a.request('POST', `/api/security/blocklist/${ip}`)).status, 200);
    await Promise.all(
      replicas
        .slice(1)
        .map((r) => until(async () => (await chat(r, ip)) === 403, 'the block on another replica', PROPAGATION_MS)),
    );
    assert.equal((await a.request('DELETE', `/api/security/blocklist/${ip}`)).status, 200);
    await Promise.all(
      replicas
        .slice(1)
        .map((r) => until(async () => (await chat(r, ip)) !== 403, 'the unblock on another replica', PROPAGATION_MS)),
    );
  });

  test('a CIDR block with expiry and note through replica 1: refused on 2 and 3 by pub/sub, listed there, gone everywhere once it expires (a resync does not bring it back)', async () => {
    const a = admin(replicas[0]!);
    await a.login(ADMIN_PASSWORD);
    const inside = '10.0.6.77';
    const outside = '10.0.7.1';
    const note = 'scanner from the 10.0.6 range';
    const added = await a.request('POST', '/api/security/blocklist', {
      json: { entry: '10.0.6.5/24', expires_in_seconds: 20, note },
    });
    assert.equal(added.status, 200, added.text);
    const mine = (await a.request('GET', '/api/security')).body.blocklist.find(
      (e: { entry: string }) => e.entry === '10.0.6.0/24',
    );
    assert.equal(mine.note, note);
    await Promise.all(
      replicas
        .slice(1)
        .map((r) => until(async () => (await chat(r, inside)) === 403, 'the range block on another replica', PROPAGATION_MS)),
    );
    for (const r of replicas.slice(1)) {
      assert.notEqual(await chat(r, outside), 403, 'outside the range');
      const listed = (await sameSession(a, r).request('GET', '/api/security')).body.blocklist;
      assert.deepEqual(
        listed.find((e: { entry: string }) => e.entry === '10.0.6.0/24'),
        mine,
        'same entry, note and expiry on every replica',
      );
    }
    const listedAnywhere = async () => {
      for (const r of replicas)
        if (
          (await sameSession(a, r).request('GET', '/api/security')).body.blocklist.some(
            (e: { entry: string }) => e.entry === '10.0.6.0/24',
          )
        )
          return true;
      return false;
    };
    // The matcher drops it at its expiry, with no notice from the store.
    const bound = mine.expiresAt - Date.now() + PROPAGATION_MS;
    await Promise.all(
      replicas.map((r) => until(async () => (await chat(r, inside)) !== 403, 'the range block to expire', bound)),
    );
    assert.equal(await listedAnywhere(), false);
    // Any change makes every replica reload the stored controls, where the expired entry still lies.
    assert.equal(
      (await a.request('POST', '/api/security/blocklist', { json: { entry: '10.0.6.250', note: 'resync' } })).status,
      200,
    );
    await Promise.all(
      replicas
        .slice(1)
        .map((r) => until(async () => (await chat(r, '10.0.6.250')) === 403, 'the resync on another replica', PROPAGATION_MS)),
    );
    for (const r of replicas) assert.notEqual(await chat(r, inside), 403, 'the expired range stays gone after a resync');
    assert.equal(await listedAnywhere(), false);
    const store = new Redis(redis.url);
    try {
      assert.deepEqual(
        await store.hkeys('fleet:blocklist'),
        ['10.0.6.250'],
        'the next block dropped the expired one from the store',
      );
    } finally {
      store.disconnect();
    }
    assert.equal((await a.request('DELETE', '/api/security/blocklist/10.0.6.250')).status, 200);
    await Promise.all(
      replicas
        .slice(1)
        .map((r) => until(async () => (await chat(r, '10.0.6.250')) !== 403, 'the unblock on another replica', PROPAGATION_MS)),
    );
  });

  test('sign in on replica 1, act on replica 2 with its cookie and CSRF token, sign out on 3: the cookie is dead on 1', async () => {
    const one = admin(replicas[0]!);
    assert.equal((await one.login(ADMIN_PASSWORD)).status, 200);
    const two = sameSession(one, replicas[1]!);
    assert.equal((await two.request('GET', '/api/session')).status, 200);
    const changed = await two.request('PUT', '/api/controls/concurrency', { json: { limit: 7 } });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await two.request('PUT', '/api/controls/concurrency', { json: { limit: 7 }, csrf: 'wrong' })).status, 403);
    const three = sameSession(one, replicas[2]!);
    assert.equal((await three.request('DELETE', '/api/session')).status, 200);
    assert.equal((await one.request('GET', '/api/session')).status, 401);
    assert.equal((await two.request('GET', '/api/session')).status, 401);
  });

  const drained = async (c: AdminClient) =>
    (await c.request('GET', '/api/targets')).body.targets.find((t: { name: string }) => t.name === 'chat').circuit.drained;

  test('controls survive restarting all three replicas (a target drain included, applied fleet-wide by pub/sub)', async () => {
    const a = admin(replicas[0]!);
    await a.login(ADMIN_PASSWORD);
    assert.equal((await a.request('POST', '/api/security/blocklist/10.0.4.4')).status, 200);
    assert.equal((await a.request('POST', '/api/targets/chat/drain')).status, 200);
    await Promise.all(
      replicas
        .slice(1)
        .map((r) =>
          until(async () => (await drained(sameSession(a, r))) === true, 'the drain on another replica', PROPAGATION_MS),
        ),
    );
    assert.equal(await chat(replicas[2]!, '10.0.4.5'), 503);
    await Promise.all(replicas.map((r) => r.stop()));
    retired.push(...replicas);
    await startAll();
    const fresh = admin(replicas[2]!);
    assert.equal((await fresh.login(ADMIN_PASSWORD)).status, 200);
    for (const r of replicas) {
      const sec = (await sameSession(fresh, r).request('GET', '/api/security')).body;
      assert.deepEqual(sec.rateLimit, { enabled: true, requestsPerMinute: 300, burst: 20 }, 'rate limit overrides the TOML');
      assert.equal(sec.concurrency.limit, 7);
      assert.deepEqual(
        sec.blocklist.map((b: { entry: string }) => b.entry),
        ['10.0.4.4'],
        'the expired range block did not come back',
      );
      assert.notEqual(await chat(r, '10.0.6.77'), 403);
      assert.equal(await chat(r, '10.0.4.4'), 403);
      assert.equal(await drained(sameSession(fresh, r)), true, 'the drain survives the restart');
    }
    assert.equal((await fresh.request('DELETE', '/api/targets/chat/drain')).status, 200);
    await Promise.all(
      replicas.map((r) =>
        until(async () => (await drained(sameSession(fresh, r))) === false, 'the release on every replica', PROPAGATION_MS),
      ),
    );
  });

  test('a replica killed mid-load: the others serve without errors and the fleet view shows it down', async () => {
    const a = admin(replicas[1]!);
    await a.login(ADMIN_PASSWORD);
    const victimId = (await sameSession(a, replicas[0]!).request('GET', '/api/fleet')).body.replicas.find(
      (r: { self: boolean }) => r.self,
    ).id;
    const before = (await a.request('GET', '/api/fleet')).body;
    assert.equal(before.totals.up, 3);
    assert.ok(before.replicas.find((r: { id: string }) => r.id === victimId).up);

    let n = 0;
    const statuses: number[] = [];
    let stop = false;
    const load = Promise.all(
      [1, 2, 1, 2].map(async (k) => {
        while (!stop) statuses.push(await chat(replicas[k]!, `10.1.${(n >> 8) & 255}.${n++ & 255}`));
      }),
    );
    await until(() => statuses.length >= 20, 'load to run', 20_000);
    await replicas[0]!.kill();
    const killedAt = performance.now();
    await until(
      async () =>
        (await a.request('GET', '/api/fleet')).body.replicas.find((r: { id: string }) => r.id === victimId)?.up === false,
      'the fleet view to show the killed replica down',
      // A generous bound (a loaded machine), not a speed claim.
      (TIMEOUT_S + 2 * HEARTBEAT_S) * 1000 + PROPAGATION_MS,
    );
    const downAfter = performance.now() - killedAt;
    const at = statuses.length;
    await until(() => statuses.length >= at + 20, 'more load after the kill', 20_000);
    stop = true;
    await load;
    assert.deepEqual([...new Set(statuses)], [200], `statuses seen: ${[...new Set(statuses)]}`);
    const view = (await a.request('GET', '/api/fleet')).body;
    assert.equal(view.totals.up, 2);
    assert.ok(downAfter >= 0);
    retired.push(replicas[0]!);
  });

  test('Redis killed mid-load: allow serves every request within the limit (each replica its share) and counts state errors; deny answers 503; limits return once Redis does', async () => {
    const live = replicas.slice(1);
    const deny = await startReplica(dir, fleetToml(upstream.url, { prefix: 'deny:', onError: 'deny' }), env);
    retired.push(deny);
    const a = admin(live[0]!);
    await a.login(ADMIN_PASSWORD);
    assert.equal(
      (await a.request('PUT', '/api/security/rate-limit', { json: { enabled: true, requestsPerMinute: 0.001, burst: 5 } }))
        .status,
      200,
    );
    await until(
      async () => (await sameSession(a, live[1]!).request('GET', '/api/security')).body.rateLimit.burst === 5,
      'the new limit on replica 3',
      PROPAGATION_MS,
    );
    const errorsBefore = await metricValue(live[0]!.managementUrl, 'sipp_gateway_state_errors_total');
    assert.equal(await chat(deny, '10.2.0.1'), 200);

    let n = 0;
    const statuses: number[] = [];
    let stop = false;
    const load = Promise.all(
      [0, 1, 0, 1].map(async (k) => {
        while (!stop) statuses.push(await chat(live[k]!, `10.3.${(n >> 8) & 255}.${n++ & 255}`));
      }),
    );
    await until(() => statuses.length >= 20, 'load to run', 20_000);
    await redis.kill();
    const at = statuses.length;
    await until(() => statuses.length >= at + 40, 'load while Redis is down', 20_000);
    // While Redis is down the limit still holds (allow = each live replica enforces its share: burst 5 ÷ 2 = 2).
    const over: number[] = [];
    for (let i = 0; i < 7; i++) over.push(await chat(live[0]!, '10.4.0.1'));
    assert.deepEqual(over, [200, 200, 429, 429, 429, 429, 429]);
    assert.equal(await chat(deny, '10.2.0.2'), 503);
    stop = true;
    await load;
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.ok((await metricValue(live[0]!.managementUrl, 'sipp_gateway_state_errors_total')) > errorsBefore);

    await redis.restart();
    let probe = 0;
    await until(
      async () => {
        const ip = `10.5.0.${++probe}`;
        const got: number[] = [];
        for (let i = 0; i < 6; i++) got.push(await chat(live[i % 2]!, ip));
        return got.slice(0, 5).every((s) => s === 200) && got[5] === 429;
      },
      'the shared limit to be enforced again',
      RECONNECT_MS,
    );
    await until(async () => (await chat(deny, '10.2.0.3')) === 200, 'deny replica to serve again', RECONNECT_MS);
  });

  test('failed sign-ins count fleet-wide: the per-source delay applies on every replica', async () => {
    const live = replicas.slice(1);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await admin(live[i % 2]!).login('wrong-password')).status);
    assert.deepEqual(statuses, [401, 401, 401], 'two free failures, the third starts the delays');
    // Each further failure doubles the wait (1 s, 2 s, 4 s): wait them out on alternating replicas.
    for (let i = 0; i < 3;) {
      const r = await admin(live[i % 2]!).login('wrong-password');
      if (r.status === 429) await sleep(Number(r.headers.get('retry-after')) * 1000);
      else {
        assert.equal(r.status, 401);
        i++;
      }
    }
    // Now an 8 s delay: the right password is refused on every replica meanwhile.
    for (const r of live) {
      const locked = await admin(r).login(ADMIN_PASSWORD);
      assert.equal(locked.status, 429, 'the source waits even with the right password');
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
    }
  });

  test('failed sign-ins spread over three replicas spend one fleet-wide budget; a new address with the right password still gets in', async () => {
    // A fresh key prefix: a budget no earlier test has spent (30 checks, one more every 2 s).
    const fleet = await Promise.all([0, 1, 2].map(() => startReplica(dir, fleetToml(upstream.url, { prefix: 'budget:' }), env)));
    retired.push(...fleet);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await loginFrom(fleet[i % 3]!.managementUrl, `127.30.${i}.1`, `guess-${i}`)).status);
    assert.deepEqual(statuses, Array(30).fill(401));
    const again = await loginFrom(fleet[0]!.managementUrl, '127.30.0.1', 'guess-again');
    assert.ok(again.status === 429 || again.status === 401, `status ${again.status}`);
    for (const [i, r] of fleet.entries()) {
      const operator = await loginFrom(r.managementUrl, `127.31.0.${i + 1}`, ADMIN_PASSWORD);
      assert.equal(operator.status, 200, 'a new address waits for the budget, it is never locked out');
    }
    assert.equal(
      fleet
        .map((r) => r.output())
        .join('\n')
        .match(/admin login budget spent/g)?.length,
      1,
      'one replica reports it, once',
    );
  });

  test('the Redis URL and password appear in no log line, metric, error or dashboard response', async () => {
    const metrics = await Promise.all(
      replicas.slice(1).map(async (r) => ({
        url: '/metrics',
        status: 200,
        headers: '',
        text: await (await fetch(`${r.managementUrl}/metrics`)).text(),
      })),
    );
    const outputs = [...replicas, ...retired].map((r) => r.output());
    assert.deepEqual(findSecrets([redis.password, redis.url], [...seen, ...metrics], outputs), []);
    // Nothing even tried to log it (the log redactor would have hidden it).
    assert.ok(!outputs.some((o) => o.includes('[REDACTED]')), 'no redacted value in the logs');
  });
});
