/**
 * Usage history through a real gateway (docs/usage.md): every public request —
 * answered, refused or failed — becomes a row; the database going down
 * mid-load fails no request and loses no row; shutdown flushes; the embedded
 * database works with no server; no secret reaches the database; and
 * `sipp-gateway db migrate` applies the schema once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../src/usage/database.js';
import { MIGRATIONS } from '../../src/usage/migrations.js';
import { runCli } from '../support/cli.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';

const TOKEN = 'usage-test-token-5e1c0d2b9a';
const ADMIN = 'usage-test-admin-password-77aa';
const UPSTREAM_KEY = 'sk-fake-openai-key-0123456789';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY };

const chat = (publicUrl: string, token = TOKEN) =>
  postJson(`${publicUrl}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { token });

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('usage rows on PostgreSQL', { skip: postgresBin() ? false : POSTGRES_MISSING }, () => {
  let pg: TestPostgres;
  let fake: FakeOpenAI;
  let dir: string;
  before(async () => {
    [pg, fake] = await Promise.all([startPostgres(), startFakeOpenAI()]);
    dir = mkdtempSync(join(tmpdir(), 'sipp-usage-gw-'));
  });
  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('db migrate applies the schema once and names no secret', async () => {
    const cfg = join(dir, 'gateway.toml');
    writeFileSync(
      cfg,
      `${chatGatewayToml(fake.url)}\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\n`,
    );
    const first = await runCli(['db', 'migrate', '--config', cfg], { USAGE_DB_URL: pg.url }, 60_000);
    assert.equal(first.code, 0, first.stderr);
    const versions = MIGRATIONS.map((m) => m.version);
    const last = versions.at(-1)!;
    assert.match(
      first.stdout,
      new RegExp(`usage database \\(postgres\\) migrated: applied ${versions.join(', ')}; schema version ${last}`),
    );
    const again = await runCli(['db', 'migrate', '--config', cfg], { USAGE_DB_URL: pg.url }, 60_000);
    assert.match(again.stdout, new RegExp(`is up to date: schema version ${last}`));
    const missing = await runCli(['db', 'migrate', '--config', cfg], {}, 60_000);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /environment variable USAGE_DB_URL is not set/);
    for (const out of [first, again, missing]) assert.ok(!`${out.stdout}${out.stderr}`.includes(pg.password));
  });

  test('every request is a row; the database stopping mid-load fails no request and loses no row', async () => {
    const gw = await startTestGateway({
      toml: `${chatGatewayToml(fake.url)}\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`,
      env: { ...env, USAGE_DB_URL: pg.url },
    });
    let sent = 0;
    try {
      assert.equal((await chat(gw.publicUrl)).status, 200);
      assert.equal((await chat(gw.publicUrl, 'not-a-valid-token-at-all')).status, 401);
      assert.equal((await postJson(`${gw.publicUrl}/v1/chat/completions`, { model: 'chat' }, { token: TOKEN })).status, 400);
      sent += 3;
      await gw.gateway.usage!.writer.flush();

      await pg.stop();
      const during = await Promise.all(Array.from({ length: 30 }, () => chat(gw.publicUrl)));
      sent += 30;
      assert.deepEqual([...new Set(during.map((r) => r.status))], [200], 'no public request waits on or fails with the database');
      await gw.gateway.usage!.writer.flush();
      await pg.start();
      assert.equal((await chat(gw.publicUrl)).status, 200);
      sent += 1;
    } finally {
      await gw.stop(); // SIGTERM's path: flushes the queue and replays the spool
    }
    assert.equal(Number((await pg.psql('SELECT count(*) FROM usage_rows')).trim()), sent);
    const byStatus = (await pg.psql('SELECT status, count(*) FROM usage_rows GROUP BY status ORDER BY status')).trim();
    assert.equal(byStatus, `200|${sent - 2}\n400|1\n401|1`);
    const ok = (
      await pg.psql(
        `SELECT caller, api, operation, model, target, input_tokens > 0, stream FROM usage_rows WHERE status = 200 LIMIT 1`,
      )
    ).trim();
    assert.equal(ok, 'c|openai|chat|chat|chat|t|f');
    assert.equal((await pg.psql(`SELECT caller IS NULL, code FROM usage_rows WHERE status = 401`)).trim(), 't|authentication');
    assert.equal(Number((await pg.psql(`SELECT sum(requests) FROM usage_rollups WHERE period = 'day'`)).trim()), sent);
    const dump = await pg.psql('SELECT * FROM usage_rows; SELECT * FROM usage_rollups;');
    for (const secret of [TOKEN, ADMIN, UPSTREAM_KEY, pg.password])
      assert.ok(!dump.includes(secret), 'no secret in the database');
  });
});

describe('usage rows in the embedded database', () => {
  let fake: FakeOpenAI;
  let dir: string;
  before(async () => {
    fake = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'sipp-usage-embedded-'));
  });
  after(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('rows survive a restart of the gateway and hold no secret', async () => {
    const toml = `${chatGatewayToml(fake.url)}\n[database]\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`;
    for (let round = 0; round < 2; round++) {
      const gw = await startTestGateway({ toml, env });
      try {
        assert.equal((await chat(gw.publicUrl)).status, 200);
        assert.equal((await chat(gw.publicUrl, 'wrong-token-wrong-token')).status, 401);
      } finally {
        await gw.stop();
      }
    }
    const db = await openDatabase({ backend: 'embedded', dataDir: join(dir, 'usage-db') });
    try {
      const rows = await db.query<{ status: number; n: number }>(
        'SELECT status, count(*)::int AS n FROM usage_rows GROUP BY status ORDER BY status',
      );
      assert.deepEqual(rows, [
        { status: 200, n: 2 },
        { status: 401, n: 2 },
      ]);
    } finally {
      await db.close();
    }
    for (const f of filesUnder(dir)) {
      const bytes = readFileSync(f);
      for (const secret of [TOKEN, ADMIN, UPSTREAM_KEY]) assert.equal(bytes.indexOf(secret), -1, `${f} holds no secret`);
    }
  });
});
