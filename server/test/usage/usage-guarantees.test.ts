/**
 * What usage history promises (docs/usage.md#nothing-is-lost), on a real
 * PostgreSQL server, beyond usage-gateway.test.ts: refusals before the body
 * (401, 403, 429) and the other errors (404, 413) are rows too; SIGTERM to
 * `serve` writes every queued row; PostgreSQL stopped and restarted in the
 * middle of a load fails no public request and loses or doubles no row; the
 * spool goes home once the database answers, with no new traffic; usage and
 * spend survive restarts of both gateway and database; `check` validates
 * `[database]` without connecting.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SpendResponse } from '@sipp/shared';
import { openDatabase, type UsageDatabase } from '../../src/usage/database.js';
import { migrate } from '../../src/usage/migrations.js';
import { AdminClient } from '../admin/admin-client.js';
import { runCli, startServe, waitForStatus } from '../support/cli.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { freePort, until } from '../support/wait.js';

const TOKEN = 'guarantee-token-7a0c55e1d2';
const ADMIN = 'guarantee-admin-password-e4f1';
const UPSTREAM_KEY = 'sk-fake-openai-key-guarantee-19';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY };

const chat = (publicUrl: string, token: string | undefined = TOKEN, headers: Record<string, string> = {}) =>
  postJson(
    `${publicUrl}/v1/chat/completions`,
    { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
    { token, headers },
  );

test('check validates [database] without connecting (no URL in the environment, no server)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-check-db-'));
  try {
    const good = join(dir, 'good.toml');
    writeFileSync(
      good,
      `public_bind = "127.0.0.1:0"\nmanagement_bind = "127.0.0.1:0"\n${chatGatewayToml('http://127.0.0.1:9/v1')}\n[database]\nbackend = "postgres"\nurl_env = "NOWHERE_DB_URL"\n`,
    );
    const ok = await runCli(['check', '--config', good], {}, 60_000);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = join(dir, 'bad.toml');
    writeFileSync(
      bad,
      `public_bind = "127.0.0.1:0"\nmanagement_bind = "127.0.0.1:0"\n${chatGatewayToml('http://127.0.0.1:9/v1')}\n[database]\nbackend = "postgres"\n`,
    );
    const no = await runCli(['check', '--config', bad], {}, 60_000);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /database\.url_env/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the embedded database opens (creating its files) without holding the event loop, and its transactions are whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-embedded-loop-'));
  // PGlite runs for tens of seconds without yielding while it creates its files; in the
  // gateway's thread that held every public request (a 15 s stall was measured).
  let last = performance.now();
  let maxGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 20);
  let db: UsageDatabase | undefined;
  try {
    db = await openDatabase({ backend: 'embedded', dataDir: join(dir, 'usage-db') });
    await migrate(db);
    clearInterval(tick);
    assert.ok(maxGap < 2_000, `the event loop stalled for ${Math.round(maxGap)} ms`);
    console.log(`# longest event-loop gap while PGlite created its files: ${Math.round(maxGap)} ms`);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO usage_rollups (period, bucket) VALUES ('day', now())`);
        throw new Error('planned');
      }),
      /planned/,
    );
    const [during, count] = await Promise.all([
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO usage_rollups (period, bucket, requests) VALUES ('day', now(), 2)`);
        return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_rollups'))[0]!.n;
      }),
      db.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_rollups'),
    ]);
    assert.equal(during, 1, 'the failed transaction left nothing');
    assert.equal(count[0]!.n, 1, 'a query waits for the open transaction to end');
  } finally {
    clearInterval(tick);
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('usage guarantees on PostgreSQL', { skip: postgresBin() ? false : POSTGRES_MISSING }, () => {
  let pg: TestPostgres;
  let fake: FakeOpenAI;
  let dir: string;
  const count = async (where = 'true') => Number((await pg.psql(`SELECT count(*) FROM usage_rows WHERE ${where}`)).trim());
  const dbToml = (extra = '') =>
    `\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\nflush_interval_ms = 50\n${extra}`;

  before(async () => {
    [pg, fake] = await Promise.all([startPostgres(), startFakeOpenAI({ apiKey: UPSTREAM_KEY })]);
  });
  beforeEach(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'sipp-usage-guarantee-'));
    if (!pg.running()) await pg.start();
    // Every table the migrations made (usage, keys, budgets …), so each test starts from an empty schema.
    await pg.psql(
      `DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP ` +
        `EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t.tablename) || ' CASCADE'; END LOOP; END $$`,
    );
  });
  after(async () => {
    await fake?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('refusals before the body is read and the other errors are rows, with their codes', async () => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, {
        top: 'max_request_bytes = 2048',
        security: '[security.rate_limit]\nenabled = true\nrequests_per_minute = 1\nburst = 4',
        extra: dbToml(),
      }),
      env: { ...env, USAGE_DB_URL: pg.url },
    });
    const admin = new AdminClient(`${gw.managementUrl}/admin`);
    let ok = 1;
    try {
      assert.equal((await chat(gw.publicUrl)).status, 200);
      assert.equal((await chat(gw.publicUrl, '')).status, 401);
      const big = await postJson(
        `${gw.publicUrl}/v1/chat/completions`,
        { model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(4096) }] },
        { token: TOKEN },
      );
      assert.equal(big.status, 413);
      assert.equal((await postJson(`${gw.publicUrl}/v1/nowhere`, {}, { token: TOKEN })).status, 404);
      // Whatever the limiter counted so far, the bucket of 4 runs dry within a few more requests.
      let last = 0;
      for (let i = 0; i < 5 && last !== 429; i++) {
        last = (await chat(gw.publicUrl)).status;
        if (last === 200) ok++;
      }
      assert.equal(last, 429);
      assert.equal((await admin.login(ADMIN)).status, 200);
      assert.equal((await admin.request('POST', '/api/security/blocklist', { json: { entry: '127.0.0.1' } })).status, 200);
      assert.equal((await chat(gw.publicUrl)).status, 403);
    } finally {
      await gw.stop();
    }
    const byCode = (await pg.psql(`SELECT status, coalesce(code, '-'), count(*) FROM usage_rows GROUP BY 1, 2`))
      .trim()
      .split('\n');
    assert.deepEqual(byCode.sort(), [
      `200|-|${ok}`,
      '401|authentication|1',
      '403|blocked|1',
      '404|not_found|1',
      '413|payload_too_large|1',
      '429|rate_limited|1',
    ]);
    assert.equal(Number((await pg.psql(`SELECT sum(requests) FROM usage_rollups WHERE period = 'hour'`)).trim()), ok + 5);
  });

  test('SIGTERM to serve writes every queued row before it exits', async () => {
    const [pub, mgmt] = [await freePort(), await freePort()];
    const cfg = join(dir, 'gateway.toml');
    // Nothing is written by the timer or by batch size: only the shutdown can write these rows.
    writeFileSync(
      cfg,
      `public_bind = "127.0.0.1:${pub}"\nmanagement_bind = "127.0.0.1:${mgmt}"\n${chatGatewayToml(fake.url, {
        extra: `\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\nflush_interval_ms = 60000\nbatch_rows = 50000\n`,
      })}`,
    );
    const proc = startServe(cfg, { ...env, USAGE_DB_URL: pg.url, SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5' });
    try {
      await waitForStatus(`http://127.0.0.1:${mgmt}/readyz`, 200);
      const publicUrl = `http://127.0.0.1:${pub}`;
      const statuses = await Promise.all([
        ...Array.from({ length: 7 }, () => chat(publicUrl)),
        chat(publicUrl, 'bad-token-bad-token'),
      ]);
      assert.deepEqual(statuses.map((s) => s.status).sort(), [200, 200, 200, 200, 200, 200, 200, 401]);
      // The migration is done once the database opened: the table exists, and holds none of these rows yet.
      await until(async () => (await pg.psql(`SELECT to_regclass('usage_rows') IS NOT NULL`)).trim() === 't', 'the schema');
      assert.equal(await count(), 0, 'nothing written before the shutdown');
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0, proc.stderr());
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
    assert.equal(await count(), 8);
    assert.ok(!`${proc.stdout()}${proc.stderr()}`.includes(pg.password));
  });

  test('PostgreSQL stopped and restarted mid-load: every public request answered, every row written once', async () => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, { extra: dbToml() }),
      env: { ...env, USAGE_DB_URL: pg.url },
    });
    const ids: string[] = [];
    const statuses: number[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const id = `load-${w}-${i}`;
        ids.push(id);
        statuses.push((await chat(gw.publicUrl, TOKEN, { 'x-request-id': id })).status);
      }
    };
    try {
      const workers = Array.from({ length: 6 }, (_, w) => worker(w));
      await until(() => ids.length >= 60, 'load before the outage', 60_000);
      await pg.stop();
      const atStop = ids.length;
      await until(() => ids.length >= atStop + 60, 'load during the outage', 60_000);
      await pg.start();
      const atStart = ids.length;
      await until(() => ids.length >= atStart + 60, 'load after the outage', 60_000);
      stop = true;
      await Promise.all(workers);
    } finally {
      stop = true;
      await gw.stop();
    }
    assert.deepEqual([...new Set(statuses)], [200], 'no public request failed or waited for the database');
    assert.equal(await count(), ids.length);
    assert.equal(Number((await pg.psql('SELECT count(DISTINCT request_id) FROM usage_rows')).trim()), ids.length);
    assert.equal(Number((await pg.psql(`SELECT sum(requests) FROM usage_rollups WHERE period = 'day'`)).trim()), ids.length);
    assert.equal(Number((await pg.psql(`SELECT sum(requests) FROM usage_rollups WHERE period = 'hour'`)).trim()), ids.length);
  });

  test('spooled rows reach the database once it answers again, with no new request to trigger it', async () => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, { extra: dbToml() }),
      env: { ...env, USAGE_DB_URL: pg.url },
    });
    try {
      await gw.gateway.usage!.database();
      await pg.stop();
      for (let i = 0; i < 10; i++) assert.equal((await chat(gw.publicUrl)).status, 200);
      await gw.gateway.usage!.writer.flush();
      assert.equal(gw.gateway.usage!.writer.queued, 0, 'in the spool, not in memory');
      await sleep(200);
      await pg.start();
      // No request, no shutdown: the writer's timer brings them in.
      await until(async () => (await count()) === 10, 'the spooled rows in the database', 60_000);
    } finally {
      await gw.stop();
    }
    assert.equal(await count(), 10);
  });

  test('usage and spend survive restarts of the gateway and of the database', async () => {
    const toml = chatGatewayToml(fake.url, { extra: dbToml() });
    const spendOf = async (managementUrl: string) => {
      const admin = new AdminClient(`${managementUrl}/admin`);
      assert.equal((await admin.login(ADMIN)).status, 200);
      const r = await admin.request<SpendResponse>('GET', '/api/spend?group_by=caller');
      assert.equal(r.status, 200, r.text);
      return r.body.rows.find((x) => x.group === 'c')?.requests ?? 0;
    };
    const first = await startTestGateway({ toml, env: { ...env, USAGE_DB_URL: pg.url } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await chat(first.publicUrl)).status, 200);
      await first.gateway.usage!.writer.flush();
      assert.equal(await spendOf(first.managementUrl), 3);
    } finally {
      await first.stop();
    }
    await pg.stop();
    await pg.start();
    const second = await startTestGateway({ toml, env: { ...env, USAGE_DB_URL: pg.url } });
    try {
      assert.equal(await spendOf(second.managementUrl), 3, 'after both restarted');
      for (let i = 0; i < 2; i++) assert.equal((await chat(second.publicUrl)).status, 200);
      await second.gateway.usage!.writer.flush();
      assert.equal(await spendOf(second.managementUrl), 5);
    } finally {
      await second.stop();
    }
  });
});
