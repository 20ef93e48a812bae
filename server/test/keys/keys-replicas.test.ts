/**
 * Managed keys across replicas and from the CLI (docs/keys.md#replicas,
 * docs/keys.md#cli): two gateways sharing PostgreSQL see a key created,
 * disabled or revoked on the other (or by `sipp-gateway keys`) within the
 * contract's second; keys keep authenticating from each replica's cache while
 * the database is down; the CLI creates, lists, rotates and revokes on both
 * backends, printing a secret only when it makes one, and stops with a
 * pointer to the admin API while a gateway holds the embedded database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../admin/admin-client.js';
import { runCli } from '../support/cli.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { until } from '../support/wait.js';

const TOKEN = 'keys-replica-config-token-2f9a';
const ADMIN = 'keys-replica-admin-password-5c1d';
const API_TOKEN = 'keys-replica-admin-api-token-8e3b0c';
const UPSTREAM_KEY = 'sk-fake-openai-key-0123456789';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY, ADMIN_API_TOKEN: API_TOKEN };
/** The documented bound: a change made anywhere applies on every replica within a second. */
const CONTRACT_MS = 1000;

const chat = (gw: TestGateway, key: string) =>
  postJson(`${gw.publicUrl}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { token: key });
const bot = (gw: TestGateway) => {
  const admin = new AdminClient(`${gw.managementUrl}/admin`);
  return (method: string, path: string, json?: unknown) =>
    admin.request(method, path, { json, cookie: null, csrf: false, headers: { authorization: `Bearer ${API_TOKEN}` } });
};

/** Milliseconds from now until `gw` answers `status` to `key` (polled; the bound only stops a hang). */
async function msUntilStatus(gw: TestGateway, key: string, status: number, from: number): Promise<number> {
  let seen = 0;
  await until(async () => (seen = (await chat(gw, key)).status) === status, `status ${status} (last ${seen})`, 15_000);
  return performance.now() - from;
}

function secretFrom(stdout: string): string {
  const m = /^(sk-sipp-[0-9A-Za-z]{40})$/m.exec(stdout);
  assert.ok(m, `a secret line in:\n${stdout}`);
  return m[1]!;
}

function idFrom(stdout: string): string {
  const m = /(key_[0-9A-Za-z]{16})/.exec(stdout);
  assert.ok(m, stdout);
  return m[1]!;
}

describe('managed keys across replicas sharing PostgreSQL', { skip: postgresBin() ? false : POSTGRES_MISSING }, () => {
  let pg: TestPostgres;
  let fake: FakeOpenAI;
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;
  let cfg: string;
  before(async () => {
    [pg, fake] = await Promise.all([startPostgres(), startFakeOpenAI()]);
    dir = mkdtempSync(join(tmpdir(), 'sipp-keys-replicas-'));
    const toml = (n: string) =>
      chatGatewayToml(fake.url, {
        extra: `[admin]\napi_token_env = "ADMIN_API_TOKEN"\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${join(dir, n)}"\n`,
      });
    a = await startTestGateway({ toml: toml('a'), env: { ...env, USAGE_DB_URL: pg.url } });
    b = await startTestGateway({ toml: toml('b'), env: { ...env, USAGE_DB_URL: pg.url } });
    await Promise.all([a.gateway.keys!.loaded(), b.gateway.keys!.loaded()]);
    cfg = join(dir, 'gateway.toml');
    writeFileSync(cfg, toml('cli'));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await fake?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('created on one replica, revoked or disabled there: the other follows within a second', async () => {
    const created = await bot(a)('POST', '/api/keys', { name: 'fleet', caller: 'team-f' });
    assert.equal(created.status, 201, created.text);
    const { secret, key } = created.body;
    await msUntilStatus(b, secret, 200, performance.now());

    const disabled = await bot(b)('PATCH', `/api/keys/${key.id}`, { disabled: true });
    assert.equal(disabled.status, 200);
    const disableMs = await msUntilStatus(a, secret, 401, performance.now());
    assert.ok(disableMs <= CONTRACT_MS, `disabled on b, refused on a after ${disableMs} ms`);
    await bot(a)('PATCH', `/api/keys/${key.id}`, { disabled: false });
    await msUntilStatus(b, secret, 200, performance.now());

    const revoked = await bot(a)('DELETE', `/api/keys/${key.id}`);
    const at = performance.now();
    assert.equal(revoked.status, 200);
    assert.equal((await chat(a, secret)).status, 401, 'the replica that revoked refuses at once');
    const revokeMs = await msUntilStatus(b, secret, 401, at);
    assert.ok(revokeMs <= CONTRACT_MS, `revoked on a, refused on b after ${revokeMs} ms`);
    assert.ok(b.rawLogs.some((l) => l.includes('managed key refused: revoked') && l.includes(key.id)));
  });

  test('the CLI works beside running gateways; its revocation reaches them within a second', async () => {
    const pgEnv = { USAGE_DB_URL: pg.url };
    const made = await runCli(
      [
        'keys',
        'create',
        '--config',
        cfg,
        '--name',
        'from cli',
        '--caller',
        'team-c',
        '--targets',
        'chat',
        '--rpm',
        '30',
        '--budget-usd',
        '2.5',
        '--period',
        'week',
      ],
      pgEnv,
    );
    assert.equal(made.code, 0, made.stderr);
    const secret = secretFrom(made.stdout);
    const id = idFrom(made.stdout);
    assert.equal(made.stdout.split(secret).length, 2, 'the secret is printed once');
    await msUntilStatus(a, secret, 200, performance.now());
    const view = (await bot(b)('GET', `/api/keys/${id}`)).body.key;
    assert.deepEqual(
      { caller: view.caller, targets: view.targets, rpm: view.rpm, budget: view.budget },
      { caller: 'team-c', targets: ['chat'], rpm: 30, budget: { usd: 2.5, period: 'week' } },
    );

    const list = await runCli(['keys', 'list', '--config', cfg], pgEnv);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${id}\\tactive\\t${secret.slice(0, 12)}\\tteam-c`));
    assert.ok(!list.stdout.includes(secret));

    const rotated = await runCli(['keys', 'rotate', '--config', cfg, id, '--grace-seconds', '600'], pgEnv);
    assert.equal(rotated.code, 0, rotated.stderr);
    const next = secretFrom(rotated.stdout);
    assert.notEqual(next, secret);
    assert.match(rotated.stdout, /the old secret works until/);
    // Both replicas must have loaded the rotation before the database goes (each polls on its own).
    for (const gw of [a, b]) await msUntilStatus(gw, next, 200, performance.now());
    assert.equal((await chat(b, secret)).status, 200, 'old secret inside the grace');

    // The database goes down: both replicas keep serving the keys they hold; changes wait.
    await pg.stop();
    try {
      for (const gw of [a, b]) {
        assert.equal((await chat(gw, next)).status, 200);
        assert.equal((await chat(gw, TOKEN)).status, 200);
      }
      const refused = await bot(a)('PATCH', `/api/keys/${id}`, { rpm: 1 });
      assert.equal(refused.status, 503);
      assert.match(refused.body.error.message, /usage database is unreachable/);
    } finally {
      await pg.start();
    }

    const revoke = await runCli(['keys', 'revoke', '--config', cfg, id], pgEnv);
    const at = performance.now();
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /^revoked key_/);
    for (const gw of [a, b]) {
      const ms = await msUntilStatus(gw, next, 401, at);
      assert.ok(ms <= CONTRACT_MS, `revoked by the CLI, refused after ${ms} ms`);
    }
    assert.equal((await chat(a, secret)).status, 401);
    for (const out of [made, list, rotated, revoke]) {
      assert.ok(!out.stderr.includes(secret) && !out.stderr.includes(next));
      assert.ok(!`${out.stdout}${out.stderr}`.includes(pg.password));
    }
    for (const line of [...a.rawLogs, ...b.rawLogs]) assert.ok(!line.includes(secret) && !line.includes(next));
    const dump = await pg.psql('SELECT * FROM api_keys');
    assert.ok(dump.includes(id));
    assert.ok(!dump.includes(secret) && !dump.includes(next));
  });
});

describe('the keys CLI on the embedded database', () => {
  let fake: FakeOpenAI;
  let dir: string;
  let cfg: string;
  before(async () => {
    fake = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'sipp-keys-cli-'));
    cfg = join(dir, 'gateway.toml');
    writeFileSync(cfg, `${chatGatewayToml(fake.url, { extra: `[database]\ndata_dir = "${dir}"\n` })}`);
  });
  after(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('usage errors exit 2; bad values name the field', async () => {
    assert.equal((await runCli(['keys'])).code, 2);
    const noConfig = await runCli(['keys', 'create', '--name', 'x', '--caller', 'c']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /needs --config FILE/);
    assert.equal((await runCli(['keys', 'frob', '--config', cfg])).code, 2);
    assert.equal((await runCli(['keys', 'revoke', '--config', cfg])).code, 2);
    // docs/keys.md#cli: --name and --caller are required, a usage error (not a schema message about "undefined").
    const noCaller = await runCli(['keys', 'create', '--config', cfg, '--name', 'x']);
    assert.equal(noCaller.code, 2);
    assert.match(noCaller.stderr, /keys create needs --caller C/);
    const noName = await runCli(['keys', 'create', '--config', cfg, '--caller', 'c']);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /keys create needs --name N/);
    const period = await runCli(['keys', 'create', '--config', cfg, '--name', 'x', '--caller', 'c', '--period', 'day']);
    assert.equal(period.code, 2);
    assert.match(period.stderr, /--period needs --budget-usd/);
    const rpm = await runCli(['keys', 'create', '--config', cfg, '--name', 'x', '--caller', 'c', '--rpm', 'lots']);
    assert.equal(rpm.code, 1);
    assert.match(rpm.stderr, /rpm: /);
    const tpm = await runCli(['keys', 'create', '--config', cfg, '--name', 'x', '--caller', 'c', '--tpm', '1000000000001']);
    assert.equal(tpm.code, 1);
    assert.match(tpm.stderr, /tpm: must be <= 1000000000000\n$/, 'the bound of [[tokens]] tpm too (shared/src/budgets.ts)');
    const target = await runCli(['keys', 'create', '--config', cfg, '--name', 'x', '--caller', 'c', '--targets', 'chat,nope']);
    assert.match(target.stderr, /targets\.1: unknown target "nope"/);
    const noDb = join(dir, 'nodb.toml');
    writeFileSync(noDb, chatGatewayToml(fake.url));
    const r = await runCli(['keys', 'list', '--config', noDb]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no \[database\] table/);
  });

  test('create, list, rotate and revoke; refused with a pointer to the admin API while a gateway holds it', async () => {
    const made = await runCli([
      'keys',
      'create',
      '--config',
      cfg,
      '--name',
      'boot',
      '--caller',
      'team-e',
      '--tpm',
      '500',
      '--json',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const { key, secret } = JSON.parse(made.stdout);
    assert.match(secret, /^sk-sipp-[0-9A-Za-z]{40}$/);
    assert.equal(key.tpm, 500);
    const other = await runCli(['keys', 'create', '--config', cfg, '--name', 'spare', '--caller', 'team-e']);
    const spare = secretFrom(other.stdout);
    const spareId = idFrom(other.stdout);
    assert.equal((await runCli(['keys', 'revoke', '--config', cfg, spareId])).code, 0);
    const listed = JSON.parse((await runCli(['keys', 'list', '--config', cfg, '--json'])).stdout);
    assert.deepEqual(
      listed.keys.map((k: { name: string; status: string }) => `${k.name}:${k.status}`),
      ['boot:active', 'spare:revoked'],
    );

    const gw = await startTestGateway({ toml: readFileSync(cfg, 'utf8').replace(/^/, ''), env });
    try {
      await gw.gateway.keys!.loaded();
      assert.equal((await chat(gw, secret)).status, 200, 'a key made by the CLI before start');
      assert.equal((await chat(gw, spare)).status, 401);
      const busy = await runCli(['keys', 'list', '--config', cfg]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /is in use by another process \(pid \d+\)/);
      assert.match(busy.stderr, /manage keys through its admin API \(\/admin\/api\/keys/);
      assert.match(busy.stderr, /backend = "postgres"/);
      assert.equal((await chat(gw, secret)).status, 200, 'the refused CLI did not disturb the gateway');
    } finally {
      await gw.stop();
    }

    const rotated = await runCli(['keys', 'rotate', '--config', cfg, key.id]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const next = secretFrom(rotated.stdout);
    assert.match(rotated.stdout, /the old secret no longer works/);
    const again = await startTestGateway({ toml: readFileSync(cfg, 'utf8'), env });
    try {
      await again.gateway.keys!.loaded();
      assert.equal((await chat(again, next)).status, 200);
      assert.equal((await chat(again, secret)).status, 401);
    } finally {
      await again.stop();
    }
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .map((f) => join(dir, f))
      .filter((f) => statSync(f).isFile());
    const text = files.map((f) => readFileSync(f).toString('latin1')).join('\n');
    assert.ok(text.includes(key.id), 'the scan reads the database files');
    for (const s of [secret, spare, next]) assert.ok(!text.includes(s), 'no secret in the embedded database files');
  });
});
