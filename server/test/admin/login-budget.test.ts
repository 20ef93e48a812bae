/**
 * The global failed-login budget: changing source address does not buy more
 * guesses. Unit tests drive the throttle's clock, for the in-memory throttle
 * and the fleet's Redis-shared one alike (same rules, same sliding window);
 * the gateway test signs in from many loopback addresses (127.x.y.z) at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { LoginThrottle, type LockoutScope, type ThrottleOptions } from '../../src/admin/auth/login-throttle.js';
import { SharedLoginThrottle } from '../../src/admin/auth/shared-login-throttle.js';
import { createRedisKv } from '../../src/state/shared-kv.js';
import { loginFrom } from '../support/login-from.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';

const PASSWORD = 'pw-admin-login-budget-7731';

/** The throttle's rules, whichever store holds its state (the fleet's Redis version runs the same tests). */
interface Throttle {
  failure(client: string, now: number): LockoutScope | null | Promise<LockoutScope | null>;
  refusal(client: string, now: number): ReturnType<LoginThrottle['refusal']> | Promise<ReturnType<LoginThrottle['refusal']>>;
}

let redis: TestRedis | undefined;
let redisClient: Redis | undefined;
let prefixes = 0;
after(async () => {
  redisClient?.disconnect();
  await redis?.stop();
});

const implementations: Array<[string, (opts: Partial<ThrottleOptions>) => Promise<Throttle>]> = [
  ['LoginThrottle (memory)', async (opts) => new LoginThrottle(opts)],
  [
    'SharedLoginThrottle (real Redis)',
    async (opts) => {
      redis ??= await startRedis();
      redisClient ??= new Redis(redis.url);
      return new SharedLoginThrottle(createRedisKv(redisClient, `budget${++prefixes}:`, () => {}), opts);
    },
  ],
];

for (const [name, make] of implementations) {
  describe(`${name} global budget`, () => {
    const opts = { maxFailures: 5, windowMs: 300_000, globalMaxFailures: 30, globalWindowMs: 60_000, globalCooldownMs: 300_000 };

    it('30 failures from 30 clients within a minute refuse every client for the cool-down', async () => {
      const t = await make(opts);
      const t0 = 1_000_000;
      for (let i = 0; i < 29; i++) assert.equal(await t.failure(`c${i}`, t0 + i), null, `failure ${i + 1}`);
      assert.equal(await t.refusal('someone-else', t0 + 29), null);
      assert.equal(await t.failure('c29', t0 + 29), 'global', 'the 30th failure trips the budget');
      assert.deepEqual(await t.refusal('someone-else', t0 + 30), { retryAfterSeconds: 300, scope: 'global' });
      assert.deepEqual(await t.refusal('c0', t0 + 30 + 120_000), { retryAfterSeconds: 180, scope: 'global' });
      assert.equal(await t.refusal('someone-else', t0 + 29 + 300_000), null, 'the cool-down ends');
    });

    it('a new failure after the cool-down starts a fresh budget; it trips once per cool-down', async () => {
      const t = await make(opts);
      for (let i = 0; i < 30; i++) await t.failure(`a${i}`, 0);
      const after = 300_000;
      for (let i = 0; i < 29; i++) assert.equal(await t.failure(`b${i}`, after + i), null);
      assert.equal(await t.refusal('x', after + 29), null);
      assert.equal(await t.failure('b29', after + 29), 'global');
    });

    it('failures spread wider than the window do not trip it', async () => {
      const t = await make(opts);
      for (let i = 0; i < 100; i++) assert.equal(await t.failure(`c${i}`, i * 2_100), null, `failure ${i + 1}`);
      assert.equal(await t.refusal('x', 100 * 2_100), null);
    });

    it('the window slides: 29 old failures plus one a window after the first do not trip it; one more within the window does', async () => {
      const t = await make(opts);
      // A fixed window started by the first failure would reset at 60 s and never trip here.
      for (let i = 0; i < 15; i++) assert.equal(await t.failure(`early${i}`, 0), null);
      for (let i = 0; i < 14; i++) assert.equal(await t.failure(`late${i}`, 50_000), null);
      assert.equal(await t.failure('at-60s', 60_000), null, 'the 15 failures at 0 s have left the window');
      for (let i = 0; i < 15; i++) assert.equal(await t.failure(`more${i}`, 61_000 + i), i === 14 ? 'global' : null, `failure ${i + 1} after 60 s`);
      assert.equal((await t.refusal('x', 61_100))?.scope, 'global');
    });

    it('per-client lockout still trips first for one client, and reports it once', async () => {
      const t = await make(opts);
      const trips = [];
      for (let i = 0; i < 7; i++) trips.push(await t.failure('one', 0));
      assert.deepEqual(trips, [null, null, null, null, 'client', null, null]);
      assert.deepEqual(await t.refusal('one', 1), { retryAfterSeconds: 300, scope: 'client' });
      assert.equal(await t.refusal('other', 1), null);
      assert.equal(await t.refusal('one', 300_001), null, 'the client lockout ends');
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

  it('100 guesses from 50 loopback addresses get 30 password checks; then everyone gets 429 with Retry-After', async () => {
    const addresses = Array.from({ length: 50 }, (_, i) => `127.${10 + (i >> 4)}.${i & 15}.${1 + i}`);
    const results = await Promise.all(addresses.flatMap((a) => [loginFrom(gw.managementUrl, a, `guess-${a}-1`), loginFrom(gw.managementUrl, a, `guess-${a}-2`)]));
    const checked = results.filter((r) => r.status === 401).length;
    const refused = results.filter((r) => r.status === 429);
    assert.equal(checked, 30, 'exactly the budget got a password check');
    assert.equal(refused.length, 70);
    for (const r of refused) assert.ok(Number(r.retryAfter) > 0 && Number(r.retryAfter) <= 300, `Retry-After ${r.retryAfter}`);

    const operator = await loginFrom(gw.managementUrl, '127.200.0.1', PASSWORD);
    assert.equal(operator.status, 429, 'even the right password from a new address waits for the cool-down');

    const metrics = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    assert.match(metrics, /^sipp_gateway_admin_login_lockouts_total 1$/m);
    const tripLines = gw.logs.filter((l) => l.includes('admin login locked for everyone'));
    assert.equal(tripLines.length, 1);
    assert.equal(JSON.parse(tripLines[0]!).level, 'warn');
    for (const l of gw.logs) assert.ok(!l.includes(PASSWORD) && !l.includes('guess-'), 'no password or guess in the logs');
  });
});
