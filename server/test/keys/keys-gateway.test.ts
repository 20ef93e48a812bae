/**
 * Managed keys through a real gateway (docs/keys.md), on PostgreSQL and on the
 * embedded database: created, listed, edited, disabled, revoked and rotated
 * over the admin API with a session + CSRF and with the `[admin]
 * api_token_env` bearer (refused on the public listener); a created key
 * authenticates the official `openai` client; the key's caller, limits,
 * targets and id reach the pipeline, the request record and the usage row;
 * refused keys are a plain 401 whose log line says why; and no secret reaches
 * the database, a log line, the metrics or an admin answer other than the one
 * that hands it out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { RequestRecord } from '@sipp/shared';
import type { Caller } from '../../src/security/bearer.js';
import type { PipelineModule } from '../../src/public/stages.js';
import { AdminClient } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, postJson } from '../support/http.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { until } from '../support/wait.js';

const TOKEN = 'keys-test-config-token-4b8e2a';
const ADMIN = 'keys-test-admin-password-91c3';
const API_TOKEN = 'keys-test-admin-api-token-6d0f7e1a';
const UPSTREAM_KEY = 'sk-fake-openai-key-0123456789';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY, ADMIN_API_TOKEN: API_TOKEN };

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

function toml(fake: FakeOpenAI, database: string): string {
  return chatGatewayToml(fake.url, {
    extra: `[admin]\napi_token_env = "ADMIN_API_TOKEN"\n${database}\n[[targets]]\nname = "other"\ntype = "openai_compatible"\nmodel = "m2"\nbase_url = "${fake.url}"\ntoken_env = "UPSTREAM_KEY"\n`,
  });
}

interface Backend {
  toml: string;
  env: Record<string, string>;
  /** Everything the database holds, as text (after the gateway stopped). */
  dump(): Promise<string>;
  /** Reads the usage row of a request id (after a flush). */
  row(gw: TestGateway, requestId: string): Promise<{ key_id: string | null; caller: string | null } | undefined>;
}

/** A pipeline module that keeps the caller each request ran with. */
function callerSpy(seen: Array<Caller | null>): PipelineModule {
  return {
    name: 'test_caller_spy',
    beforeRun(rc) {
      seen.push(rc.caller);
    },
  };
}

async function scenario(backend: Backend, fake: FakeOpenAI): Promise<void> {
  const callers: Array<Caller | null> = [];
  const records: RequestRecord[] = [];
  const gw = await startTestGateway({
    toml: backend.toml,
    env: backend.env,
    modules: [callerSpy(callers), { name: 'test_records', afterFinish: (r) => void records.push(r) }],
  });
  const secrets: string[] = [];
  const admin = new AdminClient(`${gw.managementUrl}/admin`);
  const bot = (method: string, path: string, json?: unknown, token = API_TOKEN) =>
    admin.request(method, path, { json, cookie: null, csrf: false, headers: { authorization: `Bearer ${token}` } });
  const chat = (key: string, model = 'chat') =>
    postJson(`${gw.publicUrl}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'hi' }] }, { token: key });
  const refusedLine = (id: string, reason: string) =>
    gw.rawLogs.some((l) => l.includes(`managed key refused: ${reason}`) && l.includes(id));
  try {
    await gw.gateway.keys!.loaded();
    assert.equal((await admin.login(ADMIN)).status, 200);

    // Create with session + CSRF: 201, the secret once, the prefix its first 12 characters.
    const noCsrf = await admin.request('POST', '/api/keys', { json: { name: 'ci', caller: 'team-a' }, csrf: false });
    assert.equal(noCsrf.status, 403, 'a session without the CSRF token cannot create keys');
    const created = await admin.request('POST', '/api/keys', {
      json: { name: 'ci bot', caller: 'team-a', rpm: 60, budget: { usd: 5, period: 'month' }, metadata: { owner: 'ops' } },
    });
    assert.equal(created.status, 201, created.text);
    const secret: string = created.body.secret;
    secrets.push(secret);
    assert.match(secret, /^sk-sipp-[0-9A-Za-z]{40}$/);
    const key = created.body.key;
    assert.match(key.id, /^key_[0-9A-Za-z]{16}$/);
    assert.equal(key.prefix, secret.slice(0, 12));
    assert.deepEqual(
      {
        name: key.name,
        caller: key.caller,
        rpm: key.rpm,
        tpm: key.tpm,
        budget: key.budget,
        status: key.status,
        metadata: key.metadata,
      },
      {
        name: 'ci bot',
        caller: 'team-a',
        rpm: 60,
        tpm: null,
        budget: { usd: 5, period: 'month' },
        status: 'active',
        metadata: { owner: 'ops' },
      },
    );
    assert.equal(key.targets.length, 0);

    // Validation errors name the field.
    const bad: Array<[unknown, RegExp | string]> = [
      // Bug caught: zod's raw text ("caller: Invalid input: expected string, received undefined").
      [{ name: 'x' }, 'caller: required'],
      [{ caller: 'c' }, 'name: required'],
      [{ name: 7, caller: 'c' }, 'name: must be a string'],
      [{ name: 'x', caller: 'c', rpm: '60' }, 'rpm: must be a number'],
      [{ name: 'x', caller: 'c', rpm: 1.5 }, 'rpm: must be an integer'],
      [{ name: 'x', caller: 'c', targets: 'chat' }, 'targets: must be an array'],
      [{ name: 'x', caller: 'c', metadata: [] }, 'metadata: must be an object'],
      [{ name: 'x', caller: 'c', budget: { usd: 1 } }, 'budget.period: required'],
      // One budget schema with caller budgets and TOML (docs/budgets.md#budgets): $1,000,000 at most.
      [{ name: 'x', caller: 'c', budget: { usd: 1e6 + 0.01, period: 'month' } }, 'budget.usd: must be <= 1000000'],
      [{ name: 'x', caller: 'c', budget: { tokens: 1e12 + 1, period: 'month' } }, 'budget.tokens: must be <= 1000000000000'],
      // One rpm/tpm schema with TOML [[tokens]] (shared/src/budgets.ts, docs/keys.md): both ends of both.
      [{ name: 'x', caller: 'c', rpm: 0 }, 'rpm: must be > 0'],
      [{ name: 'x', caller: 'c', rpm: 1e8 + 1 }, 'rpm: must be <= 100000000'],
      [{ name: 'x', caller: 'c', tpm: 0 }, 'tpm: must be > 0'],
      [{ name: 'x', caller: 'c', tpm: 1e12 + 1 }, 'tpm: must be <= 1000000000000'],
      ['a string', 'body: must be a JSON object'],
      [{ caller: 'x' }, /^name: /],
      [{ name: 'x', caller: 'bad caller!' }, /^caller: /],
      [{ name: 'x', caller: 'c', targets: ['nope'] }, /^targets\.0: unknown target "nope"/],
      [{ name: 'x', caller: 'c', tpm: 1.5 }, /^tpm: /],
      [{ name: 'x', caller: 'c', budget: { period: 'month' } }, /^budget\.usd: must set usd, tokens or both/],
      [{ name: 'x', caller: 'c', budget: { usd: 1, period: 'year' } }, /^budget\.period: /],
      [{ name: 'x', caller: 'c', expires_at: 'tomorrow' }, /^expires_at: must be an ISO 8601/],
      [{ name: 'x', caller: 'c', expires_at: '2001-01-01T00:00:00Z' }, /^expires_at: must be in the future/],
      [{ name: 'x', caller: 'c', secret: 'sk-sipp-chosen' }, /^body: unknown field\(s\): secret/],
    ];
    for (const [body, message] of bad) {
      const r = await admin.request('POST', '/api/keys', { json: body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'invalid_request');
      if (typeof message === 'string') assert.equal(r.body.error.message, message, JSON.stringify(body));
      else assert.match(r.body.error.message, message);
    }

    // The key authenticates the official openai client on the public listener, as its caller, with its limits.
    const client = new OpenAI({ apiKey: secret, baseURL: `${gw.publicUrl}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0]!.message.role, 'assistant');
    const used = callers.at(-1)!;
    assert.equal(used.label, 'team-a');
    assert.equal(used.keyId, key.id);
    assert.deepEqual(used.limits, { rpm: 60, budget: { usd: 5, period: 'month' } });
    assert.equal(used.allowed, null);
    const rec = records.at(-1)!;
    assert.equal(rec.keyId, key.id);
    assert.equal(rec.caller, 'team-a');
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${UPSTREAM_KEY}`, 'the key never goes upstream');

    // Config tokens keep working exactly as before (no key id, no limits).
    assert.equal((await chat(TOKEN)).status, 200);
    assert.equal(callers.at(-1)!.keyId, undefined);
    assert.equal(records.at(-1)!.keyId, undefined);
    await gw.gateway.usage!.writer.flush();
    assert.deepEqual(await backend.row(gw, rec.requestId), { key_id: key.id, caller: 'team-a' });

    // List and get (bearer): spend for the budget period from the rollups.
    const list = await bot('GET', '/api/keys');
    assert.equal(list.status, 200);
    const listed = list.body.keys.find((k: { id: string }) => k.id === key.id);
    assert.equal(listed.spend.period, 'month');
    assert.equal(listed.spend.requests, 1);
    assert.equal(listed.spend.tokens, 11, 'input + output tokens of the fake reply');
    assert.equal(listed.spend.budget_used_pct, 0);
    assert.equal((await bot('GET', `/api/keys/${key.id}`)).body.key.id, key.id);
    assert.equal((await bot('GET', '/api/keys/key_AAAAAAAAAAAAAAAA')).status, 404);
    assert.equal((await bot('GET', '/api/keys/..%2Fsession')).status, 404);

    // The admin bearer: a wrong one is refused, and the right one opens nothing on the public listener.
    assert.equal((await bot('GET', '/api/keys', undefined, 'keys-test-wrong-api-token-000000')).status, 401);
    const publicWithAdminToken = await chat(API_TOKEN);
    assert.equal(publicWithAdminToken.status, 401);
    assert.equal((await getText(`${gw.publicUrl}/v1/models`)).status, 401);

    // Disable (bearer, no session, no CSRF) → 401 like an unknown token; the log line says why.
    const unknown = await chat(`sk-sipp-${'x'.repeat(40)}`);
    const disabled = await bot('PATCH', `/api/keys/${key.id}`, { disabled: true });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.body.key.status, 'disabled');
    const refused = await chat(secret);
    assert.equal(refused.status, 401);
    assert.equal(refused.text, unknown.text, 'the answer never says the key is disabled');
    assert.ok(refusedLine(key.id, 'disabled'));
    assert.equal((await bot('PATCH', `/api/keys/${key.id}`, { disabled: false })).body.key.status, 'active');
    assert.equal((await chat(secret)).status, 200);

    // Edits of limits and budget reach the next request on this replica.
    const edited = await admin.request('PATCH', `/api/keys/${key.id}`, {
      json: { tpm: 1000, rpm: null, budget: { tokens: 50_000, period: 'day' }, targets: ['other'] },
    });
    assert.equal(edited.status, 200, edited.text);
    assert.deepEqual(
      { rpm: edited.body.key.rpm, tpm: edited.body.key.tpm, budget: edited.body.key.budget, targets: edited.body.key.targets },
      { rpm: null, tpm: 1000, budget: { tokens: 50_000, period: 'day' }, targets: ['other'] },
    );
    assert.equal((await chat(secret, 'chat')).status, 403, 'limited to target "other"');
    assert.equal((await chat(secret, 'other')).status, 200);
    assert.deepEqual(callers.at(-1)!.limits, { tpm: 1000, budget: { tokens: 50_000, period: 'day' } });
    assert.deepEqual([...callers.at(-1)!.allowed!], ['other']);
    assert.match((await admin.request('PATCH', `/api/keys/${key.id}`, { json: { rpm: -1 } })).body.error.message, /^rpm: /);
    // The largest rates are accepted as they are (the same bounds as [[tokens]] rpm/tpm), one more is not.
    const atMax = await admin.request('PATCH', `/api/keys/${key.id}`, { json: { rpm: 1e8, tpm: 1e12 } });
    assert.equal(atMax.status, 200, atMax.text);
    assert.deepEqual({ rpm: atMax.body.key.rpm, tpm: atMax.body.key.tpm }, { rpm: 1e8, tpm: 1e12 });
    for (const [json, message] of [
      [{ rpm: 1e8 + 1 }, 'rpm: must be <= 100000000'],
      [{ tpm: 1e12 + 1 }, 'tpm: must be <= 1000000000000'],
      [{ tpm: 0 }, 'tpm: must be > 0'],
    ] as const)
      assert.equal((await admin.request('PATCH', `/api/keys/${key.id}`, { json })).body.error.message, message);
    assert.match(
      (await admin.request('PATCH', `/api/keys/${key.id}`, { json: { owner: 'x' } })).body.error.message,
      /unknown field/,
    );
    await admin.request('PATCH', `/api/keys/${key.id}`, { json: { targets: [] } });

    // Expired: an expiry in the past refuses the key.
    const expired = await bot('PATCH', `/api/keys/${key.id}`, { expires_at: new Date(Date.now() - 1000).toISOString() });
    assert.equal(expired.body.key.status, 'expired');
    assert.equal((await chat(secret)).status, 401);
    assert.ok(refusedLine(key.id, 'expired'));
    await bot('PATCH', `/api/keys/${key.id}`, { expires_at: null });
    assert.equal((await chat(secret)).status, 200);

    // Rotation with a grace period: both secrets work; rotated again without one, only the newest.
    const rotated = await bot('POST', `/api/keys/${key.id}/rotate`, { grace_seconds: 3600 });
    assert.equal(rotated.status, 200, rotated.text);
    const second: string = rotated.body.secret;
    secrets.push(second);
    assert.notEqual(second, secret);
    assert.equal(rotated.body.key.prefix, second.slice(0, 12));
    assert.ok(Date.parse(rotated.body.key.previous_valid_until) > Date.now() + 3500_000);
    assert.equal((await chat(second)).status, 200);
    assert.equal((await chat(secret)).status, 200, 'old secret inside its grace period');
    const third = await admin.request('POST', `/api/keys/${key.id}/rotate`); // no body: grace 0
    assert.equal(third.status, 200, third.text);
    secrets.push(third.body.secret);
    assert.equal(third.body.key.previous_valid_until, null);
    assert.equal((await chat(third.body.secret)).status, 200);
    assert.equal((await chat(second)).status, 401, 'grace 0: the previous secret stops at once');
    assert.equal((await chat(secret)).status, 401);
    assert.match((await bot('POST', `/api/keys/${key.id}/rotate`, { grace_seconds: -1 })).body.error.message, /^grace_seconds: /);

    // Revoke: refused for good, the key is kept (listed as revoked) and can no longer change.
    const revoked = await bot('DELETE', `/api/keys/${key.id}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.key.status, 'revoked');
    assert.equal((await chat(third.body.secret)).status, 401);
    assert.ok(refusedLine(key.id, 'revoked'));
    assert.equal((await bot('DELETE', `/api/keys/${key.id}`)).status, 200, 'revoking twice changes nothing');
    assert.equal((await bot('PATCH', `/api/keys/${key.id}`, { disabled: false })).status, 400);
    assert.equal((await bot('POST', `/api/keys/${key.id}/rotate`)).status, 400);
    assert.equal((await chat(third.body.secret)).status, 401);

    // Every change is in the audit log, with who made it (the bearer is "api-token").
    const audit = await admin.request('GET', '/api/audit');
    const actions = audit.body.entries.map(
      (e: { action: string; session: string | null }) => `${e.action}:${e.session === 'api-token' ? 'bot' : 'session'}`,
    );
    for (const a of [
      'key.create:session',
      'key.update:bot',
      'key.update:session',
      'key.rotate:bot',
      'key.rotate:session',
      'key.revoke:bot',
    ])
      assert.ok(actions.includes(a), `${a} in ${actions.join(' ')}`);
    assert.equal(actions.filter((a: string) => a.startsWith('key.revoke')).length, 1);

    // No secret in any admin answer except the two that hand one out, nor in logs or metrics.
    const metrics = (await getText(`${gw.managementUrl}/metrics`)).text;
    const handing = new Set([created.text, rotated.text, third.text]);
    for (const s of secrets) {
      for (const r of admin.seen)
        if (!handing.has(r.text)) assert.ok(!r.text.includes(s) && !r.headers.includes(s), `secret in ${r.url}`);
      for (const line of gw.rawLogs) assert.ok(!line.includes(s), 'secret in a log line');
      assert.ok(!metrics.includes(s), 'secret in the metrics');
      assert.ok(!audit.text.includes(s));
    }
    for (const line of gw.rawLogs) assert.ok(!line.includes(API_TOKEN), 'admin API token in a log line');
  } finally {
    await gw.stop();
  }
  const dump = await backend.dump();
  const { hashSecret } = await import('../../src/keys/secret.js');
  assert.ok(dump.includes(hashSecret(secrets.at(-1)!)), 'the dump holds the key (so the scan below can see secrets)');
  for (const s of [...secrets, TOKEN, ADMIN, API_TOKEN, UPSTREAM_KEY]) assert.ok(!dump.includes(s), 'no secret in the database');
}

describe('managed keys on PostgreSQL', { skip: postgresBin() ? false : POSTGRES_MISSING }, () => {
  let pg: TestPostgres;
  let fake: FakeOpenAI;
  let dir: string;
  before(async () => {
    [pg, fake] = await Promise.all([startPostgres(), startFakeOpenAI()]);
    dir = mkdtempSync(join(tmpdir(), 'sipp-keys-pg-'));
  });
  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('create, use, edit, disable, expire, rotate and revoke; no secret anywhere', async () => {
    await scenario(
      {
        toml: toml(
          fake,
          `[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`,
        ),
        env: { ...env, USAGE_DB_URL: pg.url },
        dump: () =>
          pg.psql(
            'SELECT * FROM api_keys; SELECT * FROM usage_rows; SELECT * FROM usage_rollups; SELECT * FROM api_keys_version;',
          ),
        row: async (_gw, id) => {
          const out = (await pg.psql(`SELECT coalesce(key_id, '-'), caller FROM usage_rows WHERE request_id = '${id}'`)).trim();
          if (!out) return undefined;
          const [k, c] = out.split('|');
          return { key_id: k === '-' ? null : k!, caller: c! };
        },
      },
      fake,
    );
  });
});

describe('managed keys in the embedded database', () => {
  let fake: FakeOpenAI;
  let dir: string;
  before(async () => {
    fake = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'sipp-keys-embedded-'));
  });
  after(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('create, use, edit, disable, expire, rotate and revoke; no secret in the database files', async () => {
    await scenario(
      {
        toml: toml(fake, `[database]\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`),
        env,
        dump: async () =>
          filesUnder(dir)
            .map((f) => readFileSync(f).toString('latin1'))
            .join('\n'),
        row: async (gw, id) => {
          const db = await gw.gateway.usage!.database();
          const [r] = await db.query<{ key_id: string | null; caller: string | null }>(
            'SELECT key_id, caller FROM usage_rows WHERE request_id = $1',
            [id],
          );
          return r;
        },
      },
      fake,
    );
  });
});

describe('managed keys without [database]', () => {
  test('the key routes answer a clear error; key-shaped tokens are unknown tokens', async () => {
    const fake = await startFakeOpenAI();
    const gw = await startTestGateway({ toml: toml(fake, ''), env });
    try {
      assert.equal(gw.gateway.keys, null);
      const admin = new AdminClient(`${gw.managementUrl}/admin`);
      await admin.login(ADMIN);
      for (const [method, path] of [
        ['GET', '/api/keys'],
        ['POST', '/api/keys'],
        ['PATCH', '/api/keys/key_AAAAAAAAAAAAAAAA'],
      ] as const) {
        const r = await admin.request(method, path, { json: method === 'GET' ? undefined : { name: 'x', caller: 'c' } });
        assert.equal(r.status, 404);
        assert.match(r.body.error.message, /managed keys need a usage database: add a \[database\] table/);
      }
      const r = await postJson(
        `${gw.publicUrl}/v1/chat/completions`,
        { model: 'chat', messages: [] },
        { token: `sk-sipp-${'a'.repeat(40)}` },
      );
      assert.equal(r.status, 401);
    } finally {
      await gw.stop();
      await fake.close();
    }
  });
});

describe('callers made by managed keys on the dashboard', () => {
  test('GET /api/callers lists them (idle ones too) with their traffic and cost, after the configured callers', async () => {
    const fake = await startFakeOpenAI();
    fake.setReply({ promptTokens: 8, completionTokens: 10 });
    const dir = mkdtempSync(join(tmpdir(), 'sipp-keys-callers-'));
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, {
        extra: `[admin]\napi_token_env = "ADMIN_API_TOKEN"\n[database]\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`,
        target: 'pricing = { input_per_mtok = 0, output_per_mtok = 1000 }',
      }),
      env,
    });
    try {
      await gw.gateway.keys!.loaded();
      const admin = new AdminClient(`${gw.managementUrl}/admin`);
      const bot = (method: string, path: string, json?: unknown) =>
        admin.request(method, path, { json, cookie: null, csrf: false, headers: { authorization: `Bearer ${API_TOKEN}` } });
      const busy = await bot('POST', '/api/keys', { name: 'busy', caller: 'key-team' });
      assert.equal(busy.status, 201, busy.text);
      assert.equal((await bot('POST', '/api/keys', { name: 'idle', caller: 'idle-team' })).status, 201);
      await gw.gateway.keys!.refresh();
      const res = await postJson(
        `${gw.publicUrl}/v1/chat/completions`,
        { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
        { token: busy.body.secret },
      );
      assert.equal(res.status, 200);
      assert.equal((await admin.login(ADMIN)).status, 200);
      const view = await admin.request('GET', '/api/callers?window=5m');
      assert.equal(view.status, 200);
      // Bug caught: the traffic stats keep rings only for configured callers, so key-made ones are never listed.
      assert.deepEqual(
        view.body.callers.map((c: any) => [c.caller, c.requests, c.outputTokens, c.costUsd]),
        [
          ['c', 0, 0, 0],
          ['idle-team', 0, 0, 0],
          ['key-team', 1, 10, 0.01],
          [null, 0, 0, 0],
        ],
      );
      assert.equal(view.body.untracked, undefined);
      // No caller label on any metric: key-made names never reach Prometheus.
      const metrics = await getText(`${gw.managementUrl}/metrics`);
      assert.ok(!metrics.text.includes('key-team'), 'no key-made caller name in the metrics');
    } finally {
      await gw.stop();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("what running requests hold against a key's budget", () => {
  test('GET keys reports reserved as the caller budget API does: held while a request runs, 0 once it settled, null without a budget', async () => {
    const fake = await startFakeOpenAI();
    const dir = mkdtempSync(join(tmpdir(), 'sipp-keys-reserved-'));
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, {
        extra: `[admin]\napi_token_env = "ADMIN_API_TOKEN"\n[database]\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`,
        target: 'pricing = { input_per_mtok = 1000, output_per_mtok = 2000 }',
      }),
      env,
    });
    const abort = new AbortController();
    try {
      await gw.gateway.keys!.loaded();
      const admin = new AdminClient(`${gw.managementUrl}/admin`);
      const bot = (method: string, path: string, json?: unknown) =>
        admin.request(method, path, { json, cookie: null, csrf: false, headers: { authorization: `Bearer ${API_TOKEN}` } });
      const budgeted = await bot('POST', '/api/keys', {
        name: 'budgeted',
        caller: 'held-team',
        budget: { usd: 100, tokens: 1_000_000, period: 'month' },
      });
      assert.equal(budgeted.status, 201, budgeted.text);
      assert.deepEqual(budgeted.body.key.reserved, { usd: 0, tokens: 0 });
      const free = await bot('POST', '/api/keys', { name: 'free', caller: 'held-team' });
      assert.deepEqual(free.body.key.reserved, null, 'no budget: nothing is reserved against the key');
      // The caller budget holds the same reservation as the key's: the two figures must agree.
      assert.equal((await bot('PUT', '/api/callers/held-team/budget', { usd: 100, period: 'month' })).status, 200);
      await gw.gateway.keys!.refresh();

      // A request the fake provider holds (it never answers): its worst case stays reserved until it settles.
      fake.setBehavior({ kind: 'stall-headers' });
      const seen = fake.requests.length;
      const held = fetch(`${gw.publicUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${budgeted.body.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'hold' }] }),
        signal: abort.signal,
      }).catch(() => null);
      await until(() => fake.requests.length > seen, 'the request to reach the provider');

      const keyOf = async (id: string) => (await bot('GET', '/api/keys')).body.keys.find((k: { id: string }) => k.id === id);
      const running = await keyOf(budgeted.body.key.id);
      const callerBudget = (await bot('GET', '/api/callers/held-team/budget')).body;
      assert.ok(running.reserved.tokens > 100, 'max_tokens plus the input bound');
      assert.ok(running.reserved.usd > 0);
      assert.deepEqual(running.reserved, callerBudget.reserved);
      assert.deepEqual((await bot('GET', `/api/keys/${budgeted.body.key.id}`)).body.key.reserved, running.reserved);
      assert.equal((await keyOf(free.body.key.id)).reserved, null);
      // The audit log keeps settings, not the moving figures.
      const audit = (await bot('GET', '/api/audit')).body.entries.filter((e: any) => e.action === 'key.create');
      assert.ok(audit.length >= 2 && audit.every((e: any) => !('reserved' in e.after) && !('spend' in e.after)));

      // The client leaves: the request settles and nothing stays reserved.
      abort.abort();
      await held;
      let after: { usd: number; tokens: number } = running.reserved;
      await until(async () => {
        after = (await keyOf(budgeted.body.key.id)).reserved;
        return after.tokens === 0;
      }, 'the reservation to be released');
      assert.deepEqual(after, { usd: 0, tokens: 0 });
    } finally {
      abort.abort();
      await gw.stop();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
