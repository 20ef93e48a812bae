/**
 * Drain / release reasons and the audit log's query (docs/dashboard.md#audit-log)
 * through a real gateway: the `{reason}` body is recorded in the audit entry
 * and its log line, a request without a body still works (no reason), bad
 * bodies are a 400 naming the field that change nothing; `action=`,
 * `logins=hide` and `format=json|csv` return exactly the filtered entries, and
 * the CSV keeps a formula-looking reason as text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csvDocument, csvField } from '../../src/admin/http/csv.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { AdminClient, findSecrets, type Seen } from './admin-client.js';

const PASSWORD = 'admin-pw-Audit-7731';
const TOKEN = 'tok-audit-test-0123456789abcdef';

describe('drain reasons and the audit query', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  let env: Record<string, string>;
  let admin: AdminClient;
  const seen: Seen[] = [];
  const drained = async () => (await admin.request('GET', '/api/targets')).body.targets[0].circuit.drained as boolean;

  before(async () => {
    upstream = await startFakeOpenAI();
    env = { TEST_ADMIN_PASSWORD: PASSWORD, T: TOKEN, UPSTREAM_KEY: upstream.apiKey };
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "ops-client"
[[targets]]
name = "chat"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "UPSTREAM_KEY"
`,
      env,
    });
    admin = new AdminClient(`${gw.managementUrl}/admin`, seen);
    assert.equal((await admin.login(PASSWORD)).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('drain and release record the reason from the body in the audit entry and its log line', async () => {
    const d = await admin.request('POST', '/api/targets/chat/drain', { json: { reason: '  upstream returns 500s, INC-4711 ' } });
    assert.equal(d.status, 200);
    assert.equal(await drained(), true);
    const r = await admin.request('DELETE', '/api/targets/chat/drain', { json: { reason: 'provider fixed it' } });
    assert.equal(r.status, 200);
    assert.equal(await drained(), false);
    const [release, drain] = (await admin.request('GET', '/api/audit?action=target.drain,target.release')).body.entries;
    assert.equal(drain.action, 'target.drain');
    assert.equal(drain.reason, 'upstream returns 500s, INC-4711', 'trimmed');
    assert.deepEqual([drain.before.drained, drain.after.drained], [false, true]);
    assert.equal(release.action, 'target.release');
    assert.equal(release.reason, 'provider fixed it');
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'admin action target.release');
    assert.equal(line?.audit?.reason, 'provider fixed it');
  });

  it('a drain without a body (first-edition scripts) still works and has no reason; an empty reason is none', async () => {
    assert.equal((await admin.request('POST', '/api/targets/chat/drain')).status, 200);
    assert.equal(await drained(), true);
    assert.equal((await admin.request('DELETE', '/api/targets/chat/drain', { json: { reason: '   ' } })).status, 200);
    assert.equal((await admin.request('POST', '/api/targets/chat/drain', { json: {} })).status, 200);
    assert.equal((await admin.request('DELETE', '/api/targets/chat/drain', { json: {} })).status, 200);
    const entries = (await admin.request('GET', '/api/audit?action=target.drain,target.release')).body.entries.slice(0, 4);
    assert.deepEqual(
      entries.map((e: any) => e.reason),
      [null, null, null, null],
    );
  });

  it('a bad body is a 400 naming the field and changes nothing', async () => {
    const count = async () => (await admin.request('GET', '/api/audit?action=target.drain')).body.entries.length;
    const before = await count();
    const cases: Array<[unknown, RegExp]> = [
      [{ reason: 'x'.repeat(501) }, /^reason: must be at most 500 characters/],
      [{ reason: 42 }, /^reason: /],
      [{ why: 'typo' }, /unknown field\(s\): why/],
      [['reason'], /^body: /],
    ];
    for (const [json, message] of cases) {
      const r = await admin.request('POST', '/api/targets/chat/drain', { json });
      assert.equal(r.status, 400, JSON.stringify(json));
      assert.equal(r.body.error.code, 'invalid_request');
      assert.match(r.body.error.message, message);
    }
    const text = await admin.request('POST', '/api/targets/chat/drain', {
      body: 'reason=abc',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(text.status, 400);
    assert.equal(await drained(), false, 'no bad request drained the target');
    assert.equal(await count(), before, 'no bad request was audited');
  });

  it('filters by action, hides sign-ins with logins=hide, and reports every action present', async () => {
    const all = (await admin.request('GET', '/api/audit')).body;
    assert.ok(
      all.entries.some((e: any) => e.action === 'login'),
      'the API lists sign-ins by default',
    );
    assert.equal(all.kept, all.entries.length);
    assert.deepEqual(all.actions, ['login', 'target.drain', 'target.release']);
    const hidden = (await admin.request('GET', '/api/audit?logins=hide')).body;
    assert.ok(hidden.entries.length > 0);
    assert.ok(hidden.entries.every((e: any) => !['login', 'login_failed', 'logout'].includes(e.action)));
    assert.equal(hidden.entries.length, all.entries.filter((e: any) => e.action !== 'login').length);
    assert.equal(hidden.kept, all.kept);
    const drains = (await admin.request('GET', '/api/audit?action=target.drain')).body.entries;
    assert.ok(drains.length >= 2 && drains.every((e: any) => e.action === 'target.drain'));
    assert.deepEqual((await admin.request('GET', '/api/audit?action=no.such')).body.entries, []);
    for (const bad of ['logins=maybe', 'format=xml', 'action=DROP%20TABLE', `action=${'a,'.repeat(40)}a`]) {
      const r = await admin.request('GET', `/api/audit?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error.message, new RegExp(`^${bad.split('=')[0]}: `));
    }
  });

  it('exports the filtered list as a JSON or CSV download', async () => {
    await admin.request('POST', '/api/targets/chat/drain', { json: { reason: '=HYPERLINK("http://evil","x"), "quoted"' } });
    await admin.request('DELETE', '/api/targets/chat/drain', { json: { reason: 'done' } });
    const json = await admin.request('GET', '/api/audit?action=target.drain&format=json');
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(json.headers.get('content-disposition') ?? '', /^attachment; filename="sipp-audit-[0-9TZ-]+\.json"$/);
    assert.ok(json.body.entries.length >= 3 && json.body.entries.every((e: any) => e.action === 'target.drain'));

    const csv = await admin.request('GET', '/api/audit?action=target.drain&logins=hide&format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="sipp-audit-[0-9TZ-]+\.csv"$/);
    const lines = csv.text.trimEnd().split('\r\n');
    assert.equal(lines[0], 'time,action,reason,before,after,session,client');
    assert.equal(lines.length, json.body.entries.length + 1, 'one row per filtered entry');
    const first = lines[1]!;
    assert.match(first, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,target\.drain,/, 'ISO time, not epoch ms');
    assert.ok(
      first.includes(`"'=HYPERLINK(""http://evil"",""x""), ""quoted"""`),
      `the formula stays text, quotes doubled: ${first}`,
    );
    assert.ok(first.includes('"{""target"":""chat"",""drained"":false'), 'before as JSON');
  });

  it('csvField quotes separators and neutralises formula starts', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField('@cmd'), "'@cmd");
    assert.equal(csvField('+1'), "'+1");
    assert.equal(csvField('-1'), "'-1");
    assert.equal(csvField(-1), '-1', 'numbers are numbers');
    assert.equal(csvField(null), '');
    assert.equal(csvDocument(['a', 'b'], [['1', null]]), 'a,b\r\n1,\r\n');
  });

  it('leaked no secret in any response or log line', () => {
    assert.deepEqual(findSecrets(Object.values(env), seen, [...gw.logs, ...gw.rawLogs]), []);
  });
});
