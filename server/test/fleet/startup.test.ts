/**
 * Issue #12, start-up and durability: Redis unreachable at start (serve still
 * starts, then reconnects without a restart), the memory backend's state file
 * (survives a restart; corrupt or unwritable is a clear start-up error) and
 * `check`'s validation of [state] (it reads no secret).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient, findSecrets } from '../admin/admin-client.js';
import { parseConfigText } from '../../src/config/load.js';
import { runCli, waitForStatus } from '../support/cli.js';
import { chatGatewayToml, startTestGateway } from '../support/gateway.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { until } from '../support/wait.js';
import { metricValue, startReplica } from './replicas.js';

/** Bound for a change to arrive after Redis returns: generous for a loaded machine, yet well under resync_seconds = 60. */
const RECONNECT_BOUND_MS = 20_000;

const ADMIN_PASSWORD = 'startup-admin-password-93ab';
const UPSTREAM = 'http://127.0.0.1:9/v1';
const env = { TEST_ADMIN_PASSWORD: ADMIN_PASSWORD, T: 'startup-token-1-0123456789', UPSTREAM_KEY: 'startup-upstream-key-77' };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipp-state-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const blockedRequest = async (publicUrl: string) => {
  const res = await fetch(`${publicUrl}/v1/chat`, { method: 'POST', body: '{}' });
  await res.arrayBuffer();
  return res.status;
};

describe('redis backend: unreachable at start', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  test('serve starts ready with a warning and state errors; sign-in works locally, the limit holds locally; all recovers when Redis comes up', async () => {
    const toml = chatGatewayToml(UPSTREAM, {
      security: '[security.rate_limit]\nenabled = true\nrequests_per_minute = 0.001\nburst = 2',
      extra:
        '[state]\nbackend = "redis"\nurl_env = "FLEET_REDIS"\nheartbeat_seconds = 0.2\nreplica_timeout_seconds = 1\nresync_seconds = 60',
    });
    const replicaEnv = { ...env, FLEET_REDIS: redis.url };
    // A first replica stores a block in Redis, then Redis goes away.
    const first = await startReplica(dir, toml, replicaEnv);
    const admin1 = new AdminClient(first.adminUrl);
    await admin1.login(ADMIN_PASSWORD);
    assert.equal((await admin1.request('POST', '/api/security/blocklist/127.0.0.1')).status, 200);
    await first.stop();
    await redis.kill();

    const r = await startReplica(dir, toml, replicaEnv);
    try {
      await waitForStatus(`${r.managementUrl}/readyz`, 200);
      // Log lines reach stdout in batches up to 10 ms after they are logged (docs/operations.md#logs): wait for them.
      await until(() => /state store \(redis\) unreachable; retrying in the background/.test(r.output()), 'the unreachable line');
      assert.ok((await metricValue(r.managementUrl, 'sipp_gateway_state_errors_total')) > 0);
      const a = new AdminClient(r.adminUrl, admin1.seen);
      // Sign-in works with a session kept on this replica (docs/dashboard.md).
      assert.equal((await a.login(ADMIN_PASSWORD)).status, 200);
      assert.equal((await a.request('GET', '/api/session')).status, 200);
      await until(() => /admin session kept on this replica only/.test(r.output()), 'the replica-only session line');
      // TOML defaults (no block yet) and on_error = "allow": the limit holds locally (401 = past the rate-limit step).
      const local: number[] = [];
      for (let i = 0; i < 4; i++) local.push(await blockedRequest(r.publicUrl));
      assert.deepEqual(local, [401, 401, 429, 429]);

      await redis.restart();
      // Back without a restart: the stored block applies (resync on reconnect, not the 60 s timer).
      await until(
        async () => (await blockedRequest(r.publicUrl)) === 403,
        'the stored block once Redis is back',
        RECONNECT_BOUND_MS,
      );
      await until(async () => (await a.login(ADMIN_PASSWORD)).status === 200, 'sign-in once Redis is back', RECONNECT_BOUND_MS);
      assert.equal((await a.request('DELETE', '/api/security/blocklist/127.0.0.1')).status, 200);
      // Fresh settings, fresh shared bucket (polling above may have taken a token from the old one).
      assert.equal(
        (await a.request('PUT', '/api/security/rate-limit', { json: { enabled: true, requestsPerMinute: 0.001, burst: 3 } }))
          .status,
        200,
      );
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push(await blockedRequest(r.publicUrl));
      assert.deepEqual(statuses, [401, 401, 401, 429], 'the shared limit applies again');
      assert.equal((await a.request('GET', '/api/fleet')).body.storeReachable, true);
      await r.stop();
      assert.deepEqual(findSecrets([redis.password, redis.url], a.seen, [first.output(), r.output()]), []);
    } finally {
      await r.kill();
    }
  });

  test('a missing or malformed Redis URL is a start-up error that does not echo the value', async () => {
    const toml = chatGatewayToml(UPSTREAM, { extra: '[state]\nbackend = "redis"\nurl_env = "FLEET_REDIS"' });
    const path = join(dir, 'bad-url.toml');
    writeFileSync(path, toml);
    const missing = await runCli(['serve', '--config', path], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /needs the Redis URL in env var FLEET_REDIS, which is not set/);
    const secretish = 'http://user:hunter2-secret@example.com';
    const wrong = await runCli(['serve', '--config', path], { ...env, FLEET_REDIS: secretish });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /env var FLEET_REDIS must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.ok(!wrong.stderr.includes('hunter2') && !wrong.stdout.includes('hunter2'));
  });
});

describe('memory backend with a state file', () => {
  const toml = (file: string) =>
    chatGatewayToml(UPSTREAM, {
      security: '[security.rate_limit]\nenabled = false\nrequests_per_minute = 60\nburst = 60',
      extra: `[state]\nfile = "${file}"`,
    });

  test('controls and the blocklist survive a restart of the process; removing the file resets to the TOML', async () => {
    const file = join(dir, 'controls', 'state.json');
    let gw = await startTestGateway({ toml: toml(file), env, logLevel: 'info' });
    const a = new AdminClient(`${gw.managementUrl}/admin`);
    await a.login(ADMIN_PASSWORD);
    assert.equal((await a.request('POST', '/api/security/blocklist/192.0.2.7')).status, 200);
    assert.equal(
      (await a.request('PUT', '/api/security/rate-limit', { json: { enabled: true, requestsPerMinute: 30, burst: 4 } })).status,
      200,
    );
    assert.equal((await a.request('PUT', '/api/controls/concurrency', { json: { limit: 3 } })).status, 200);
    assert.equal((await a.request('POST', '/api/targets/chat/drain')).status, 200);
    const range = { entry: '198.51.100.9/24', expires_in_seconds: 3600, note: 'abuse report 17' };
    assert.equal((await a.request('POST', '/api/security/blocklist', { json: range })).status, 200);
    const rangeEntry = gw.gateway.controls.blocklist.get('198.51.100.0/24');
    assert.equal(rangeEntry?.note, 'abuse report 17');
    // Last, a block that expires before the restart: the file still holds it, the load must drop it.
    assert.equal(
      (await a.request('POST', '/api/security/blocklist', { json: { entry: '127.0.0.0/8', expires_in_seconds: 1 } })).status,
      200,
    );
    assert.equal(await blockedRequest(gw.publicUrl), 403);
    await until(async () => (await blockedRequest(gw.publicUrl)) !== 403, 'the short block to expire');
    await gw.stop();
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(stored.rateLimit, { enabled: true, requestsPerMinute: 30, burst: 4 });
    assert.ok(
      stored.blocklist.some((e: { ip: string }) => e.ip === '127.0.0.0/8'),
      'the expired block is still in the file',
    );

    gw = await startTestGateway({ toml: toml(file), env, logLevel: 'info' });
    try {
      const b = new AdminClient(`${gw.managementUrl}/admin`);
      await b.login(ADMIN_PASSWORD);
      const fleet = (await b.request('GET', '/api/fleet')).body;
      assert.equal(fleet.backend, 'memory');
      assert.deepEqual(
        fleet.replicas.map((r: { self: boolean; up: boolean }) => [r.self, r.up]),
        [[true, true]],
      );
      assert.equal(fleet.totals.up, 1);
      const c = gw.gateway.controls;
      assert.deepEqual(c.rateLimiter.settings(), { enabled: true, requestsPerMinute: 30, burst: 4 });
      assert.equal(c.admission.limit, 3);
      assert.deepEqual(
        c.blocklist.list().sort((x, y) => x.entry.localeCompare(y.entry)),
        [{ entry: '192.0.2.7', addedAt: c.blocklist.get('192.0.2.7')!.addedAt, expiresAt: null, note: null }, rangeEntry],
        'the range keeps its expiry and note; the expired block stays gone',
      );
      assert.equal(c.blocklist.has('198.51.100.200'), true);
      assert.notEqual(await blockedRequest(gw.publicUrl), 403);
      assert.equal(gw.gateway.router.breaker('chat')!.snapshot().drained, true);
    } finally {
      await gw.stop();
    }
    rmSync(file);
    gw = await startTestGateway({ toml: toml(file), env, logLevel: 'info' });
    try {
      assert.equal(gw.gateway.controls.rateLimiter.settings().enabled, false, 'back to the TOML');
      assert.equal(gw.gateway.controls.blocklist.size, 0);
    } finally {
      await gw.stop();
    }
  });

  test('a state file that becomes unwritable: the change answers 503 and counts a state error', async () => {
    const folder = join(dir, 'vanishing');
    const file = join(folder, 'state.json');
    const gw = await startTestGateway({ toml: toml(file), env, logLevel: 'info' });
    try {
      const a = new AdminClient(`${gw.managementUrl}/admin`);
      await a.login(ADMIN_PASSWORD);
      rmSync(folder, { recursive: true });
      writeFileSync(folder, 'not a folder');
      const res = await a.request('PUT', '/api/controls/concurrency', { json: { limit: 5 } });
      assert.equal(res.status, 503);
      assert.deepEqual(res.body.error, {
        code: 'unavailable',
        message: 'the change applies to this replica only: the state store could not save it; retry when it is reachable',
      });
      assert.ok((await metricValue(gw.managementUrl, 'sipp_gateway_state_errors_total')) >= 1);
      assert.ok(gw.logs.some((l) => l.includes('runtime control change could not be stored')));
    } finally {
      await gw.stop();
    }
  });

  test('a corrupt state file is a clear start-up error, and the file is left as it was', async () => {
    const file = join(dir, 'corrupt.json');
    writeFileSync(file, '{"blocklist": [');
    const path = join(dir, 'corrupt.toml');
    writeFileSync(path, toml(file));
    const res = await runCli(['serve', '--config', path], env);
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      new RegExp(`\\[state\\] file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is corrupt \\(.+\\); fix it, or move it away`),
    );
    assert.equal(readFileSync(file, 'utf8'), '{"blocklist": [', 'never overwritten');

    writeFileSync(file, '{"blocklist": [{"ip": 7}]}');
    const shape = await runCli(['serve', '--config', path], env);
    assert.equal(shape.code, 1);
    assert.match(shape.stderr, /is corrupt \(blocklist\[0\]\.ip: must be a string/);
  });

  test('a state file with an out-of-range or invalid entry is a start-up error naming it, and the file is never rewritten', async () => {
    const path = join(dir, 'strict.toml');
    const file = join(dir, 'strict.json');
    writeFileSync(path, toml(file));
    const cases: Array<[string, RegExp]> = [
      [
        '{"blocklist": [], "rateLimit": {"enabled": true, "requestsPerMinute": 60, "burst": 1e300}}',
        /rateLimit\.burst: must be (<= 1000000|a whole number)/,
      ],
      [
        '{"blocklist": [], "rateLimit": {"enabled": true, "requestsPerMinute": 1e9, "burst": 5}}',
        /rateLimit\.requestsPerMinute: must be <= 1000000/,
      ],
      ['{"blocklist": [], "concurrencyLimit": 1e12}', /concurrencyLimit: must be <= 100000/],
      [
        '{"blocklist": [{"ip": "10.0.0.1", "addedAt": 1}, {"ip": "10.0.0.300", "addedAt": 1}]}',
        /blocklist\[1\]\.ip: not a valid IP address or CIDR \("10\.0\.0\.300"\)/,
      ],
      [`{"blocklist": [], "padding": "${'x'.repeat(1_000_000)}"}`, /unknown field "padding"/],
      ['{"blocklist": [{"ip": "10.0.0.1", "addedAt": 1, "colour": "red"}]}', /blocklist\[0\]: unknown field "colour"/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(file, text);
      const res = await runCli(['serve', '--config', path], env);
      assert.equal(res.code, 1, text.slice(0, 80));
      assert.match(res.stderr, message);
      assert.ok(res.stderr.length < 4_000, 'the error does not echo a huge value');
      assert.equal(readFileSync(file, 'utf8'), text, 'never rewritten');
    }
  });

  test('an unwritable state file is a clear start-up error', async () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const path = join(dir, 'unwritable.toml');
    writeFileSync(path, toml(join(notADir, 'state.json')));
    const res = await runCli(['serve', '--config', path], env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /\[state\] file .*plain-file\/state\.json cannot be (written|read) \(ENOTDIR\)/);
  });
});

describe('check validates [state] without reading secrets', () => {
  const check = async (state: string, extraEnv: Record<string, string> = {}) => {
    const path = join(dir, `check-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(path, chatGatewayToml(UPSTREAM, { extra: state }));
    return runCli(['check', '--config', path], extraEnv);
  };

  test('a redis backend is valid without its URL in the environment', async () => {
    const res = await check('[state]\nbackend = "redis"\nkey_prefix = "prod:"\non_error = "deny"');
    assert.equal(res.code, 0, res.stderr);
  });

  test('rejections name the field', () => {
    const cases: Array<[string, RegExp]> = [
      ['[state]\nbackend = "redis"\nfile = "x.json"', /state\.file: only applies to backend = "memory"/],
      ['[state]\nbackend = "etcd"', /state\.backend/],
      ['[state]\non_error = "maybe"', /state\.on_error/],
      ['[state]\nkey_prefix = "a b"', /state\.key_prefix: must use only letters, digits/],
      ['[state]\nurl_env = "NOT-A-NAME"', /state\.url_env: must be an environment variable name/],
      [
        '[state]\nheartbeat_seconds = 2\nreplica_timeout_seconds = 1',
        /state\.replica_timeout_seconds: must be greater than heartbeat_seconds/,
      ],
      ['[state]\nredis_url = "redis://x"', /state/],
    ];
    for (const [state, message] of cases) {
      assert.throws(() => parseConfigText(chatGatewayToml(UPSTREAM, { extra: state })), message, state);
    }
  });
});
