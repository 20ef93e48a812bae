/**
 * `GET <admin>/api/spend` and `GET <admin>/api/usage` (docs/usage.md#spend)
 * through a real gateway on a real PostgreSQL: spend sums from the rollups
 * agree with the raw rows over ranges that cut days and hours (daily rollups
 * for whole days, hourly ones at the ends), each group_by; validation names
 * the field; the export streams every row once, in batches, as CSV with a
 * header or JSON, filtered; no [database] and an unreachable database are
 * clear errors; no secret in any answer.
 */
import type { RequestRecord } from '@sipp/shared';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { USAGE_EXPORT_COLUMNS, type SpendResponse } from '@sipp/shared';
import { csvField, parseTime } from '../../src/admin/spend.js';
import { openDatabase, type UsageDatabase } from '../../src/usage/database.js';
import { usageRow } from '../../src/usage/index.js';
import { migrate } from '../../src/usage/migrations.js';
import { insertBatch, newRowId, type UsageRow } from '../../src/usage/rows.js';
import { exportUsage, hourRange, rollupPlan } from '../../src/usage/spend.js';
import { AdminClient, findSecrets } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { POSTGRES_MISSING, postgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';

const TOKEN = 'spend-test-token-4f1a9c0e7b';
const ADMIN = 'spend-test-admin-password-31bd';
const UPSTREAM_KEY = 'sk-fake-openai-key-spend-8812';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY };

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

function row(time: number, over: Partial<UsageRow> = {}): UsageRow {
  return {
    rowId: newRowId(),
    time,
    requestId: `req-${newRowId()}`,
    keyId: 'key-a',
    caller: 'team-x',
    api: 'openai',
    operation: 'chat',
    model: 'gpt',
    target: 'oa',
    status: 200,
    code: null,
    inputTokens: 10,
    outputTokens: 5,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0.25,
    latencyMs: 12.5,
    ttftMs: null,
    stream: false,
    ...over,
  };
}

describe('spend ranges (no database)', () => {
  test('whole UTC days come from daily rollups, the partial days at both ends from hourly ones', () => {
    const from = at('2026-11-03T05:00:00Z');
    const to = at('2026-11-07T13:00:00Z');
    assert.deepEqual(rollupPlan(from, to), {
      days: [at('2026-11-04T00:00:00Z'), at('2026-11-07T00:00:00Z')],
      hours: [
        [from, at('2026-11-04T00:00:00Z')],
        [at('2026-11-07T00:00:00Z'), to],
      ],
    });
    assert.deepEqual(rollupPlan(at('2026-11-01T00:00:00Z'), at('2026-12-01T00:00:00Z')), {
      days: [at('2026-11-01T00:00:00Z'), at('2026-12-01T00:00:00Z')],
      hours: [],
    });
    assert.deepEqual(rollupPlan(from, from + 3 * HOUR), { days: null, hours: [[from, from + 3 * HOUR]] });
    assert.deepEqual(rollupPlan(from, to, true), { days: null, hours: [[from, to]] }, 'an hourly series never reads daily sums');
    assert.deepEqual(hourRange(from + 1, to - 1), { from, to }, 'rounded out to whole hours');
  });

  test('times are ISO 8601 or epoch ms; anything else names the field', () => {
    assert.equal(parseTime('from', '2026-11-03T05:00:00Z'), at('2026-11-03T05:00:00Z'));
    assert.equal(parseTime('from', '2026-11-03'), at('2026-11-03T00:00:00Z'));
    assert.equal(parseTime('to', '1700000000000'), 1_700_000_000_000);
    assert.throws(() => parseTime('to', 'yesterday'), /^AdminError: to: must be an ISO 8601 time/);
    assert.throws(() => parseTime('from', '-5'), /from:/);
  });

  test('row ids are UUIDv7: unique, and in time order (they append to the unique index)', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => newRowId(1_700_000_000_000 + i));
    assert.ok(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids, 'later ids sort after earlier ones');
    assert.equal(parseInt(newRowId(1_700_000_000_000).replace(/-/g, '').slice(0, 12), 16), 1_700_000_000_000);
    // Many ids in one millisecond (a busy gateway), across refills of the random pool: all distinct.
    // Bug caught: an id that does not move past the random bits it used repeats within the millisecond.
    const same = Array.from({ length: 5000 }, () => newRowId(1_700_000_000_000));
    assert.equal(new Set(same).size, same.length);
    assert.ok(same.every((id) => /^018bcfe5-6800-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)));
  });

  test("a request's key, cache tokens and cost reach its usage row (what spend sums)", () => {
    const base = {
      requestId: 'r1',
      time: 1,
      api: 'openai',
      operation: 'chat',
      model: 'm',
      target: 't',
      group: null,
      attempts: [],
      reason: null,
      upstreamStatus: null,
      caller: 'team',
      client: '127.0.0.1',
      status: 200,
      code: null,
      durationMs: 3,
      ttftMs: null,
      inputTokens: 10,
      outputTokens: 4,
      stream: false,
    } satisfies RequestRecord;
    const r = usageRow({ ...base, keyId: 'key-9', cacheReadTokens: 6, cacheWriteTokens: 2, costUsd: 0.0125 });
    assert.deepEqual(
      [r.keyId, r.caller, r.cacheReadTokens, r.cacheWriteTokens, r.costUsd, r.inputTokens, r.outputTokens],
      ['key-9', 'team', 6, 2, 0.0125, 10, 4],
    );
    const config = usageRow(base);
    assert.deepEqual([config.keyId, config.costUsd, config.cacheReadTokens], [null, 0, 0], 'config tokens and unpriced targets');
  });

  test('CSV fields are quoted and text a spreadsheet would run is made inert', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    assert.equal(csvField('+1'), "'+1");
    assert.equal(csvField(-3), '-3', 'numbers are numbers');
    assert.equal(csvField(null), '');
  });
});

describe('spend and usage without [database]', () => {
  let fake: FakeOpenAI;
  let gw: TestGateway;
  before(async () => {
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
    gw = await startTestGateway({ toml: chatGatewayToml(fake.url), env });
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  test('need a session, then answer 404 naming [database]', async () => {
    const admin = new AdminClient(`${gw.managementUrl}/admin`);
    assert.equal((await admin.request('GET', '/api/spend?group_by=caller')).status, 401);
    assert.equal((await admin.request('GET', '/api/usage')).status, 401);
    assert.equal((await admin.login(ADMIN)).status, 200);
    for (const path of ['/api/spend?group_by=caller', '/api/usage?format=csv']) {
      const r = await admin.request('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.error.code, 'not_found');
      assert.match(r.body.error.message, /no \[database\] table/);
    }
    // Validation still comes first and names the field.
    const bad = await admin.request('GET', '/api/spend?group_by=team');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^group_by: must be one of key, caller, target, model, day/);
  });
});

describe('spend and usage on PostgreSQL', { skip: postgresBin() ? false : POSTGRES_MISSING }, () => {
  let pg: TestPostgres;
  let fake: FakeOpenAI;
  let gw: TestGateway;
  let db: UsageDatabase;
  let dir: string;
  let admin: AdminClient;
  const rows: UsageRow[] = [];
  // A range that cuts an hour at each end and holds whole days in between.
  const FROM = '2026-11-03T05:20:00Z';
  const TO = '2026-11-07T12:10:00Z';
  const inRange = (r: UsageRow) => r.time >= at('2026-11-03T05:00:00Z') && r.time < at('2026-11-07T13:00:00Z');

  before(async () => {
    [pg, fake] = await Promise.all([startPostgres(), startFakeOpenAI({ apiKey: UPSTREAM_KEY })]);
    dir = mkdtempSync(join(tmpdir(), 'sipp-spend-'));
    db = await openDatabase({ backend: 'postgres', url: pg.url });
    await migrate(db);
    const times = [
      '2026-11-03T04:59:59Z', // the hour before: outside
      '2026-11-03T05:00:00Z', // the first hour (whole hours): inside
      '2026-11-03T23:30:00Z',
      '2026-11-04T00:00:00Z',
      '2026-11-05T12:00:00Z',
      '2026-11-06T23:59:59Z',
      '2026-11-07T00:00:00Z',
      '2026-11-07T12:59:59Z', // the last hour: inside
      '2026-11-07T13:00:00Z', // outside
      '2026-11-08T02:00:00Z', // outside
    ];
    const keys = ['key-a', 'key-b', null];
    const callers = ['team-x', 'team-y'];
    const targets = ['oa', 'anth', null];
    let i = 0;
    for (const t of times) {
      for (let k = 0; k < 6; k++, i++) {
        rows.push(
          row(at(t), {
            keyId: keys[i % 3]!,
            caller: callers[i % 2]!,
            target: targets[(i >> 1) % 3]!,
            model: i % 5 === 0 ? 'claude' : 'gpt',
            inputTokens: 10 + i,
            outputTokens: i,
            costUsd: 0.125 * (i % 4),
          }),
        );
      }
    }
    await db.transaction((tx) => insertBatch(tx, rows));
    gw = await startTestGateway({
      toml: `${chatGatewayToml(fake.url)}\n[database]\nbackend = "postgres"\nurl_env = "USAGE_DB_URL"\ndata_dir = "${dir}"\nflush_interval_ms = 50\n`,
      env: { ...env, USAGE_DB_URL: pg.url },
    });
    admin = new AdminClient(`${gw.managementUrl}/admin`);
    assert.equal((await admin.login(ADMIN)).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await db?.close();
    await fake?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expected = (group: (r: UsageRow) => string) => {
    const sums = new Map<string, { requests: number; input_tokens: number; output_tokens: number; cost_usd: number }>();
    for (const r of rows.filter(inRange)) {
      const g = group(r);
      const s = sums.get(g) ?? { requests: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
      s.requests++;
      s.input_tokens += r.inputTokens;
      s.output_tokens += r.outputTokens;
      s.cost_usd += r.costUsd;
      sums.set(g, s);
    }
    return sums;
  };

  test('spend by key, caller, target, model and day equals the raw rows of the range', async () => {
    const groups = {
      key: (r: UsageRow) => r.keyId ?? '',
      caller: (r: UsageRow) => r.caller ?? '',
      target: (r: UsageRow) => r.target ?? '',
      model: (r: UsageRow) => r.model ?? '',
      day: (r: UsageRow) => new Date(r.time).toISOString().slice(0, 10),
    };
    for (const [by, fn] of Object.entries(groups)) {
      const r = await admin.request<SpendResponse>('GET', `/api/spend?group_by=${by}&from=${FROM}&to=${TO}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.equal(r.body.from, at('2026-11-03T05:00:00Z'));
      assert.equal(r.body.to, at('2026-11-07T13:00:00Z'));
      const want = expected(fn);
      assert.deepEqual(new Map(r.body.rows.map(({ group, ...s }) => [group, s])), want, `group_by=${by}`);
      if (by === 'day')
        assert.deepEqual(
          r.body.rows.map((x) => x.group),
          [...want.keys()].sort(),
          'days in order',
        );
      else
        for (let i = 1; i < r.body.rows.length; i++)
          assert.ok(r.body.rows[i - 1]!.cost_usd >= r.body.rows[i]!.cost_usd, 'largest cost first');
    }
  });

  test('filters and a daily series per group', async () => {
    const r = await admin.request<SpendResponse>(
      'GET',
      `/api/spend?group_by=caller&interval=day&caller=team-y&from=${FROM}&to=${TO}`,
    );
    assert.equal(r.status, 200, r.text);
    const want = new Map<number, number>();
    for (const x of rows.filter((x) => inRange(x) && x.caller === 'team-y')) {
      const d = Math.floor(x.time / (24 * HOUR)) * 24 * HOUR;
      want.set(d, (want.get(d) ?? 0) + x.costUsd);
    }
    assert.ok(r.body.rows.every((x) => x.group === 'team-y'));
    assert.deepEqual(new Map(r.body.rows.map((x) => [x.time!, x.cost_usd])), want);
    const hourly = await admin.request<SpendResponse>(
      'GET',
      `/api/spend?group_by=key&interval=hour&key=key-b&from=${FROM}&to=${TO}`,
    );
    assert.equal(
      hourly.body.rows.reduce((n, x) => n + x.requests, 0),
      rows.filter((x) => inRange(x) && x.keyId === 'key-b').length,
    );
    assert.ok(hourly.body.rows.every((x) => x.time! % HOUR === 0));
  });

  test('bad parameters are a 400 naming the field', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/api/spend', /^group_by: is required/],
      ['/api/spend?group_by=team', /^group_by: must be one of/],
      ['/api/spend?group_by=key&interval=week', /^interval: must be one of hour, day/],
      ['/api/spend?group_by=key&from=last-week', /^from: must be an ISO 8601 time/],
      ['/api/spend?group_by=key&from=2026-11-05T00:00:00Z&to=2026-11-04T00:00:00Z', /^to: must not be before from/],
      [`/api/spend?group_by=key&caller=${'x'.repeat(300)}`, /^caller: too long/],
      ['/api/usage?format=xml', /^format: must be one of csv, json/],
      ['/api/usage?to=soon', /^to: must be an ISO 8601 time/],
    ];
    for (const [path, message] of cases) {
      const r = await admin.request('GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.match(r.body.error.message, message, path);
    }
  });

  test('the export is a CSV with a header, every row of the range once, filtered', async () => {
    const r = await admin.request('GET', `/api/usage?format=csv&from=${FROM}&to=${TO}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(r.headers.get('content-disposition')!, /^attachment; filename="sipp-usage-[\w-]+\.csv"$/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const lines = r.text.trimEnd().split('\r\n');
    assert.equal(lines[0], USAGE_EXPORT_COLUMNS.join(','));
    // The CSV range is exact (not whole hours): rows from 05:20 up to 12:10.
    const want = rows.filter((x) => x.time >= at(FROM) && x.time < at(TO));
    assert.deepEqual(
      lines
        .slice(1)
        .map((l) => l.split(',')[1])
        .sort(),
      want.map((x) => x.requestId).sort(),
    );
    const first = lines[1]!.split(',');
    const w = want.find((x) => x.requestId === first[1])!;
    assert.equal(first[0], new Date(w.time).toISOString());
    assert.equal(Number(first[USAGE_EXPORT_COLUMNS.indexOf('cost_usd')]), w.costUsd);

    const f = await admin.request('GET', `/api/usage?format=json&from=${FROM}&to=${TO}&key=key-b&caller=team-y&target=oa`);
    assert.equal(f.status, 200, f.text);
    assert.equal(f.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.match(f.headers.get('content-disposition')!, /\.json"$/);
    const wantF = want.filter((x) => x.keyId === 'key-b' && x.caller === 'team-y' && x.target === 'oa');
    assert.ok(wantF.length > 0);
    assert.deepEqual(
      (f.body as Array<{ request_id: string }>).map((x) => x.request_id).sort(),
      wantF.map((x) => x.requestId).sort(),
    );
    assert.deepEqual(Object.keys(f.body[0]), [...USAGE_EXPORT_COLUMNS]);
  });

  test('the export pages in batches by (time, id): rows sharing one instant across batches come once each', async () => {
    const t = at('2026-10-10T10:10:10.123Z');
    const same = Array.from({ length: 250 }, (_, i) => row(t, { caller: 'paging', requestId: `same-${i}`, model: '=cmd|x' }));
    await db.transaction((tx) => insertBatch(tx, same));
    const batches: number[] = [];
    const ids: string[] = [];
    for await (const b of exportUsage(db, { from: t, to: t + 1, caller: 'paging' }, 100)) {
      batches.push(b.length);
      ids.push(...b.map((x) => x.request_id));
    }
    assert.deepEqual(batches, [100, 100, 50], 'a batch at a time');
    assert.equal(new Set(ids).size, 250);
    const csv = await admin.request('GET', `/api/usage?caller=paging&from=2026-10-10&to=2026-10-11`);
    const lines = csv.text.trimEnd().split('\r\n');
    assert.equal(lines.length, 251);
    assert.ok(
      lines.slice(1).every((l) => l.includes(",'=cmd|x,")),
      'a formula in a model name is made inert',
    );
  });

  test('live traffic lands in spend; no secret in any answer or row; an unreachable database is a 503', async () => {
    const before = await admin.request<SpendResponse>('GET', '/api/spend?group_by=caller');
    const base = before.body.rows.find((x) => x.group === 'c')?.requests ?? 0;
    const chat = (token: string) =>
      postJson(`${gw.publicUrl}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { token });
    assert.equal((await chat(TOKEN)).status, 200);
    assert.equal((await chat('wrong-token-wrong-token')).status, 401);
    await gw.gateway.usage!.writer.flush();
    const now = await admin.request<SpendResponse>('GET', '/api/spend?group_by=caller');
    assert.equal(now.body.rows.find((x) => x.group === 'c')?.requests, base + 1);
    assert.ok(
      now.body.rows.some((x) => x.group === ''),
      'the refused request counts under no caller',
    );
    assert.equal((await admin.request('GET', '/api/usage?format=json')).status, 200);

    await pg.stop();
    try {
      for (const path of ['/api/spend?group_by=key', '/api/usage']) {
        const r = await admin.request('GET', path);
        assert.equal(r.status, 503, path);
        assert.equal(r.body.error.code, 'unavailable');
      }
    } finally {
      await pg.start();
    }
    assert.deepEqual(findSecrets([TOKEN, ADMIN, UPSTREAM_KEY, pg.password, pg.url], admin.seen, gw.rawLogs), []);
    const dump = await pg.psql('SELECT * FROM usage_rows; SELECT * FROM usage_rollups;');
    for (const s of [TOKEN, ADMIN, UPSTREAM_KEY, pg.password]) assert.ok(!dump.includes(s), 'no secret in the database');
  });
});
