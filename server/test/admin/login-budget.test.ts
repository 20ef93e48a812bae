/**
 * The global failed-login budget: changing source address does not buy more
 * guesses. Unit tests drive the throttle's clock, for the in-memory throttle
 * and the fleet's Redis-shared one alike (same rules, same sliding window);
 * the gateway test signs in from many loopback addresses (127.x.y.z) at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  LoginThrottle,
  type LoginAdmission,
  type LoginThrottleRules,
  type ThrottleOptions,
} from '../../src/admin/auth/login-throttle.js';
import { SharedLoginThrottle } from '../../src/admin/auth/shared-login-throttle.js';
import { createRedisKv } from '../../src/state/shared-kv.js';
import { loginFrom } from '../support/login-from.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';

const PASSWORD = 'pw-admin-login-budget-7731';

let redis: TestRedis | undefined;
let redisClient: Redis | undefined;
let prefixes = 0;
after(async () => {
  redisClient?.disconnect();
  await redis?.stop();
});

const implementations: Array<[string, (opts: Partial<ThrottleOptions>) => Promise<LoginThrottleRules>]> = [
  ['LoginThrottle (memory)', async (opts) => new LoginThrottle(opts)],
  [
    'SharedLoginThrottle (real Redis)',
    async (opts) => {
      redis ??= await startRedis();
      redisClient ??= new Redis(redis.url);
      return new SharedLoginThrottle(
        createRedisKv(redisClient, `budget${++prefixes}:`, () => {}),
        opts,
      );
    },
  ],
];

/** One sign-in attempt as the gateway makes it: the admission, then a failure, or a success for the right password. */
async function attempt(t: LoginThrottleRules, client: string, now: number, right = false): Promise<LoginAdmission['kind']> {
  const a = await t.admission(client, now);
  if (a.kind === 'ok') {
    if (right) await t.success(client, now);
    else await t.failure(client, now);
  }
  return a.kind;
}

for (const [name, make] of implementations) {
  describe(`${name}: slow guessing down, never lock the operator out`, () => {
    const opts = {
      freeFailures: 2,
      baseDelayMs: 1_000,
      maxDelayMs: 300_000,
      forgetMs: 900_000,
      budget: 30,
      refillMs: 2_000,
      waiterStaleMs: 3_000,
    };

    it('per source: two free failures, then an exponential delay (1 s, 2 s, 4 s …) refused with Retry-After; others unaffected', async () => {
      const t = await make(opts);
      let now = 1_000_000;
      for (let i = 0; i < 2; i++) assert.equal(await attempt(t, 'a', now), 'ok');
      assert.equal(await t.failure('a', now), 'client', 'the third failure starts the delays');
      // (the third failure above came without an admission: take its token as the gateway would)
      for (const delay of [1_000, 2_000, 4_000, 8_000]) {
        assert.deepEqual(await t.admission('a', now + 1), { kind: 'refuse', retryAfterSeconds: delay / 1000, scope: 'client' });
        assert.equal((await t.admission('a', now + delay - 1)).kind, 'refuse');
        assert.equal((await t.admission('other', now + delay - 1)).kind, 'ok');
        now += delay;
        assert.equal(await attempt(t, 'a', now), 'ok');
      }
      await t.success('a', now);
      assert.equal((await t.admission('a', now)).kind, 'ok', 'a success clears the record');
    });

    it('an attacker at full speed from 100 addresses: the right password from a new address gets in within a few seconds; checks never exceed the budget', async () => {
      const t = await make(opts);
      const t0 = 5_000_000;
      const attackers = Array.from({ length: 100 }, (_, i) => `10.66.${i >> 8}.${i & 255}`);
      let guesses = 0;
      let operatorIn: number | null = null;
      const operatorKinds = new Set<string>();
      const stepMs = 1_000;
      const endMs = 120_000;
      const operatorAt = 60_000;
      for (let ms = 0; ms <= endMs; ms += stepMs) {
        const now = t0 + ms;
        for (const a of attackers) if ((await attempt(t, a, now)) === 'ok') guesses++;
        if (ms >= operatorAt && operatorIn === null) {
          const kind = await attempt(t, 'operator', now, true);
          operatorKinds.add(kind);
          if (kind === 'ok') operatorIn = ms;
        }
      }
      assert.ok(operatorIn !== null, 'the operator signed in');
      assert.ok(operatorIn - operatorAt <= 4_000, `the operator waited ${operatorIn - operatorAt} ms`);
      assert.ok(!operatorKinds.has('refuse'), 'a source that never failed is never refused');
      // The budget: 30 at once, then one check per 2 s (the operator's own check gave its token back).
      const budget = opts.budget + Math.floor(endMs / opts.refillMs);
      assert.ok(guesses <= budget, `${guesses} guesses > budget ${budget}`);
      assert.ok(guesses >= budget - 5, `${guesses} guesses: the budget is spent, not withheld`);
    });

    it('with the budget spent, a source that failed before is refused (Retry-After) while a new one waits for the next token', async () => {
      const t = await make(opts);
      const now = 9_000_000;
      for (let i = 0; i < 30; i++) assert.equal(await attempt(t, `g${i}`, now), 'ok');
      const refused = await t.admission('g0', now);
      assert.equal(refused.kind, 'refuse');
      assert.equal((refused as { scope: string }).scope, 'global');
      const held = await t.admission('newcomer', now);
      assert.equal(held.kind, 'wait');
      assert.ok((held as { waitMs: number }).waitMs <= opts.refillMs);
      assert.equal((await t.admission('g1', now + 2_000)).kind, 'refuse', 'the waiting newcomer is served first');
      assert.equal((await t.admission('newcomer', now + 2_000)).kind, 'ok');
    });
  });
}

describe('global login budget through the gateway', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      toml: chatGatewayToml('http://127.0.0.1:9/v1'),
      env: { TEST_ADMIN_PASSWORD: PASSWORD, T: 'tok-login-budget-0123456789', UPSTREAM_KEY: 'sk-login-budget-0123456789' },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('30 wrong guesses from 30 addresses spend the budget; their next guesses are refused, but the right password from a new address gets in', async () => {
    const began = Date.now();
    const addresses = Array.from({ length: 30 }, (_, i) => `127.${10 + (i >> 4)}.${i & 15}.${1 + i}`);
    const first = await Promise.all(addresses.map((a) => loginFrom(gw.managementUrl, a, `guess-${a}-1`)));
    assert.deepEqual([...new Set(first.map((r) => r.status))], [401]);
    const second = await Promise.all(addresses.map((a) => loginFrom(gw.managementUrl, a, `guess-${a}-2`)));
    // One token comes back every 2 s: only that many of the second round may be checked, whatever the machine's speed.
    const allowed = Math.floor((Date.now() - began) / 2_000) + 1;
    const refused = second.filter((r) => r.status === 429);
    assert.ok(second.length - refused.length <= allowed, `${second.length - refused.length} checked, ${allowed} allowed`);
    for (const r of refused) assert.ok(Number(r.retryAfter) > 0 && Number(r.retryAfter) <= 2, `Retry-After ${r.retryAfter}`);

    const operator = await loginFrom(gw.managementUrl, '127.200.0.1', PASSWORD);
    assert.equal(operator.status, 200, 'the right password from a new address waits for a token, it is not refused');

    const metrics = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    assert.match(metrics, /^sipp_gateway_admin_login_lockouts_total 1$/m);
    const spentLines = gw.logs.filter((l) => l.includes('admin login budget spent'));
    assert.equal(spentLines.length, 1);
    assert.equal(JSON.parse(spentLines[0]!).level, 'warn');
    for (const l of gw.logs) assert.ok(!l.includes(PASSWORD) && !l.includes('guess-'), 'no password or guess in the logs');
  });
});
