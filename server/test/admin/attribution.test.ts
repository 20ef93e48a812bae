/**
 * Honest attribution and the request's story (docs/dashboard.md#reasons),
 * through a real gateway in front of fake OpenAI providers, driven by the
 * official `openai` SDK from several client addresses (X-Forwarded-For from a
 * trusted loopback proxy):
 *  - refusals by an open circuit, a drain or a group with no member available
 *    count under the asked target or group, with the reason, in the targets
 *    view, the explorer filters and the request record; `unrouted` keeps only
 *    unknown names;
 *  - rate-limited and blocked requests carrying a valid token are recorded
 *    under their caller, with the check order and the answer unchanged;
 *  - a fallback's record lists every attempt in time order, the served one
 *    last, with the served attempt's upstream status;
 *  - a stream the client leaves keeps the tokens already sent;
 *  - the overview's health verdict and circuits strip.
 * The router's clock is a fake: an open circuit stays open, its countdown fixed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { DEFAULT_OPENAI_REPLY, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { until } from '../support/wait.js';
import { AdminClient, findSecrets, type Seen } from './admin-client.js';

const TOKEN_A = 'tok-attrib-team-a-0123456789';
const TOKEN_B = 'tok-attrib-team-b-9876543210';
const PASSWORD = 'admin-pw-attrib-Wombat-42';
const KEY = 'sk-attrib-upstream-secret-1';

function target(name: string, url: string, extra = ''): string {
  return `[[targets]]
name = "${name}"
type = "openai"
model = "m-${name}"
api_key_env = "OPENAI_KEY"
base_url = "${url}"
timeout_seconds = 5
${extra}
`;
}

describe('attribution and the request story', () => {
  let alpha: FakeOpenAI;
  let beta: FakeOpenAI;
  let gamma: FakeOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  const seen: Seen[] = [];
  const clock = { t: 1_800_000_000_000 };
  let env: Record<string, string>;

  const sdk = (token: string, ip: string) =>
    new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: token, maxRetries: 0, defaultHeaders: { 'x-forwarded-for': ip } });
  const chat = (client: OpenAI, model: string, id: string) =>
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': id } });
  /** Status (and error code) of a call that may fail, through the SDK's errors. */
  const outcome = async (p: Promise<unknown>): Promise<{ status: number; code?: string; headers?: Headers }> => {
    try {
      await p;
      return { status: 200 };
    } catch (err) {
      if (!(err instanceof OpenAI.APIError)) throw err;
      return { status: err.status!, code: (err.error as any)?.code ?? (err.error as any)?.type, headers: err.headers as Headers };
    }
  };
  const record = async (id: string) => {
    let r: any;
    await until(async () => {
      r = (await admin.request('GET', `/api/requests?q=${encodeURIComponent(id)}`)).body.requests[0];
      return r !== undefined;
    }, `the record of ${id}`);
    return r;
  };

  before(async () => {
    [alpha, beta, gamma] = await Promise.all([
      startFakeOpenAI({ apiKey: KEY }),
      startFakeOpenAI({ apiKey: KEY }),
      startFakeOpenAI({ apiKey: KEY }),
    ]);
    env = { TEST_ADMIN_PASSWORD: PASSWORD, A: TOKEN_A, B: TOKEN_B, OPENAI_KEY: KEY };
    gw = await startTestGateway({
      toml: `admin_password_env = "TEST_ADMIN_PASSWORD"
[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32", "::1/128"]
[[tokens]]
env = "A"
caller = "team-a"
[[tokens]]
env = "B"
caller = "team-b"
${target('alpha', alpha.url)}
${target('beta', beta.url, '[targets.circuit]\nfailure_threshold = 2\nopen_seconds = 30')}
${target('gamma', gamma.url)}
[[groups]]
name = "chain"
strategy = "fallback"
targets = ["alpha", "gamma"]
[groups.retry]
on = ["5xx"]
[[groups]]
name = "lonely"
strategy = "fallback"
targets = ["beta"]
`,
      env,
      routing: { now: () => clock.t, random: () => 0.5, sleep: () => Promise.resolve() },
    });
    admin = new AdminClient(`${gw.managementUrl}/admin`, seen);
    assert.equal((await admin.login(PASSWORD)).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([alpha, beta, gamma].map((f) => f?.close()));
    assert.deepEqual(findSecrets(Object.values(env), seen, gw.logs), []);
  });

  it('an open circuit, a drain and a group without members count under the asked name, with the reason', async () => {
    const a = sdk(TOKEN_A, '10.1.0.1');
    beta.setBehavior({ kind: 'status', status: 503 });
    // Pass-through (OpenAI surface → openai target): the provider's status reaches the client.
    assert.equal((await outcome(chat(a, 'beta', 'fail-1'))).status, 503);
    assert.equal((await outcome(chat(a, 'beta', 'fail-2'))).status, 503);
    // The circuit is open now (2 consecutive failures): refused without a call.
    const calls = beta.requests.length;
    for (let i = 1; i <= 3; i++) {
      const r = await outcome(chat(a, 'beta', `open-${i}`));
      assert.deepEqual([r.status, r.code], [503, 'unavailable']);
    }
    assert.equal(beta.requests.length, calls, 'no call reached beta');
    const refused = await record('open-3');
    assert.deepEqual(
      [refused.target, refused.group, refused.reason, refused.attempts, refused.caller, refused.code],
      ['beta', null, 'circuit_open', [], 'team-a', 'unavailable'],
    );
    const failed = await record('fail-2');
    assert.deepEqual([failed.target, failed.reason, failed.upstreamStatus], ['beta', null, 503]);
    assert.deepEqual(
      failed.attempts.map((x: any) => [x.target, x.status, x.upstreamStatus, x.error]),
      [['beta', 503, 503, 'upstream']],
    );

    // A group whose only member is open: no_member, under the group.
    const lonely = await outcome(chat(a, 'lonely', 'lonely-1'));
    assert.equal(lonely.status, 503);
    const g = await record('lonely-1');
    assert.deepEqual([g.target, g.group, g.reason], ['lonely', 'lonely', 'no_member']);

    // A drained target: drained.
    assert.equal((await admin.request('POST', '/api/targets/gamma/drain')).status, 200);
    assert.equal((await outcome(chat(a, 'gamma', 'drained-1'))).status, 503);
    assert.equal((await admin.request('DELETE', '/api/targets/gamma/drain')).status, 200);
    const d = await record('drained-1');
    assert.deepEqual([d.target, d.reason], ['gamma', 'drained']);

    // An unknown name is the only thing left for "no target".
    assert.equal((await outcome(chat(a, 'nope', 'unknown-1'))).status, 404);
    const u = await record('unknown-1');
    assert.deepEqual([u.target, u.model, u.reason], [null, 'nope', null]);

    const targets = (await admin.request('GET', '/api/targets?window=5m')).body;
    const row = (name: string) => targets.targets.find((t: any) => t.name === name);
    assert.equal(row('beta').window.requests, 5);
    assert.equal(row('beta').window.serverErrors, 5);
    assert.equal(row('beta').traffic.requests, 5);
    assert.equal(row('beta').window.health, 'failing');
    assert.deepEqual(row('beta').window.reasons, [{ reason: 'circuit_open', count: 3 }]);
    assert.equal(
      row('beta').window.spark.reduce((s: number, n: number) => s + n, 0),
      5,
    );
    assert.deepEqual(row('gamma').window.reasons, [{ reason: 'drained', count: 1 }]);
    const group = targets.groups.find((x: any) => x.name === 'lonely');
    assert.deepEqual([group.window.requests, group.window.reasons], [1, [{ reason: 'no_member', count: 1 }]]);
    assert.deepEqual(group.members, ['beta']);
    assert.equal(targets.unrouted.requests, 1, 'only the unknown name');
    assert.deepEqual(targets.unrouted.models, [{ model: 'nope', count: 1 }]);

    // The explorer filters find them.
    const byTarget = (await admin.request('GET', '/api/requests?target=beta')).body;
    assert.equal(byTarget.matched, 5);
    const byReason = (await admin.request('GET', '/api/requests?target=beta&reason=circuit_open')).body;
    assert.deepEqual(byReason.requests.map((r: any) => r.requestId).sort(), ['open-1', 'open-2', 'open-3']);
    assert.equal((await admin.request('GET', '/api/requests?target=-')).body.matched, 1);
    const byGroup = (await admin.request('GET', '/api/requests?group=lonely')).body;
    assert.deepEqual(
      byGroup.requests.map((r: any) => [r.requestId, r.reason]),
      [['lonely-1', 'no_member']],
    );
    assert.equal((await admin.request('GET', '/api/requests?reason=-&target=beta')).body.matched, 2, 'the two calls that failed');
    beta.setBehavior({ kind: 'normal' });
  });

  it('the overview: a verdict with its reasons, and the strip of circuits not closed with their countdown', async () => {
    assert.equal((await admin.request('POST', '/api/targets/alpha/drain')).status, 200);
    clock.t += 12_000;
    const o = (await admin.request('GET', '/api/overview')).body;
    assert.equal(o.health.status, 'degraded');
    assert.ok(
      o.health.reasons.some((r: string) => r.includes('beta (open)') && r.includes('alpha (drained)')),
      JSON.stringify(o.health),
    );
    assert.deepEqual(o.circuits, [
      { target: 'alpha', state: 'drained', retryInSeconds: null },
      { target: 'beta', state: 'open', retryInSeconds: 18 },
    ]);
    assert.equal((await admin.request('DELETE', '/api/targets/alpha/drain')).status, 200);
  });

  it('a fallback lists every attempt in time order, the served one last, with the served upstream status', async () => {
    alpha.setBehavior({ kind: 'status', status: 500 });
    const r = await chat(sdk(TOKEN_B, '10.1.0.2'), 'chain', 'fallback-1').withResponse();
    assert.equal(r.response.headers.get('x-sipp-target'), 'gamma');
    alpha.setBehavior({ kind: 'normal' });
    const rec = await record('fallback-1');
    assert.deepEqual(
      [rec.target, rec.group, rec.status, rec.upstreamStatus, rec.reason, rec.caller],
      ['gamma', 'chain', 200, null, null, 'team-b'],
    );
    assert.deepEqual(
      rec.attempts.map((x: any) => [x.target, x.status, x.upstreamStatus, x.error]),
      [
        ['alpha', 500, 500, 'upstream'],
        ['gamma', 200, null, null],
      ],
    );
    for (const x of rec.attempts) assert.ok(x.latencyMs >= 0 && x.backoffMs === 0, JSON.stringify(x));
  });

  it('rate-limited and blocked requests with a valid token are recorded under their caller; order and answer unchanged', async () => {
    const ip = '10.2.0.1';
    const put = await admin.request('PUT', '/api/security/rate-limit', {
      json: { enabled: true, requestsPerMinute: 1, burst: 1 },
    });
    assert.equal(put.status, 200);
    try {
      assert.equal((await outcome(chat(sdk(TOKEN_A, ip), 'gamma', 'rl-ok'))).status, 200);
      const valid = await outcome(chat(sdk(TOKEN_A, ip), 'gamma', 'rl-valid'));
      const bogus = await outcome(chat(sdk('tok-not-configured-000000', ip), 'gamma', 'rl-bogus'));
      // The rate limit still runs before the token: an unknown token gets the same 429, not a 401.
      for (const r of [valid, bogus]) {
        assert.deepEqual([r.status, r.code], [429, 'rate_limited']);
        assert.ok(r.headers?.get('retry-after'));
      }
      const raw = async (token: string) => {
        const res = await fetch(`${gw.publicUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': ip },
          body: JSON.stringify({ model: 'gamma', messages: [{ role: 'user', content: 'hi' }] }),
        });
        const headers = [...res.headers].filter(([k]) => !['date', 'x-request-id', 'retry-after'].includes(k));
        return { status: res.status, body: await res.text(), headers };
      };
      assert.deepEqual(await raw(TOKEN_A), await raw('tok-not-configured-000000'), 'the same answer, byte for byte');
      assert.equal((await record('rl-valid')).caller, 'team-a');
      assert.equal((await record('rl-valid')).reason, 'rate_limited');
      assert.equal((await record('rl-bogus')).caller, null);
      const callers = (await admin.request('GET', '/api/callers')).body.callers;
      assert.ok(callers.find((c: any) => c.caller === 'team-a').rateLimited >= 2);
    } finally {
      await admin.request('PUT', '/api/security/rate-limit', { json: { enabled: false, requestsPerMinute: 60, burst: 60 } });
    }

    assert.equal((await admin.request('POST', '/api/security/blocklist', { json: { entry: '10.3.0.0/24' } })).status, 200);
    try {
      const blocked = await outcome(chat(sdk(TOKEN_B, '10.3.0.9'), 'gamma', 'blocked-valid'));
      const blockedBogus = await outcome(chat(sdk('tok-not-configured-000000', '10.3.0.9'), 'gamma', 'blocked-bogus'));
      assert.deepEqual([blocked.status, blocked.code], [403, 'blocked']);
      assert.deepEqual([blockedBogus.status, blockedBogus.code], [403, 'blocked'], 'blocklist still first');
      const rec = await record('blocked-valid');
      assert.deepEqual([rec.caller, rec.reason, rec.target], ['team-b', 'blocked', null]);
      assert.equal((await record('blocked-bogus')).caller, null);
    } finally {
      await admin.request('DELETE', `/api/security/blocklist/${encodeURIComponent('10.3.0.0/24')}`);
    }
  });

  it('a stream the client leaves keeps the tokens already sent in its record', async () => {
    gamma.setBehavior({ kind: 'slow', gapMs: 100 });
    gamma.setReply({ tokens: ['one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight'], completionTokens: 8 });
    const controller = new AbortController();
    const stream = await sdk(TOKEN_A, '10.4.0.1').chat.completions.create(
      { model: 'gamma', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { headers: { 'x-request-id': 'abort-1' }, signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta?.content) chunks++;
        if (chunks === 3) controller.abort();
      }
    } catch {
      // The SDK may end the loop quietly or throw on the abort.
    }
    gamma.setBehavior({ kind: 'normal' });
    gamma.setReply(DEFAULT_OPENAI_REPLY);
    const rec = await record('abort-1');
    assert.equal(rec.status, 499);
    assert.ok(rec.outputTokens >= 3 && rec.outputTokens < 8, `kept the tokens sent: ${rec.outputTokens}`);
  });

  it('the same on the Sipp surface (the gateway renders the stream itself)', async () => {
    gamma.setBehavior({ kind: 'slow', gapMs: 100 });
    gamma.setReply({ tokens: ['one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight'], completionTokens: 8 });
    const controller = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN_A}`,
        'content-type': 'application/json',
        'x-request-id': 'abort-2',
        'x-forwarded-for': '10.4.0.2',
      },
      body: JSON.stringify({ model: 'gamma', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    try {
      while ((text.match(/event: token/g) ?? []).length < 3) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      controller.abort();
    } catch {
      // aborted
    }
    gamma.setBehavior({ kind: 'normal' });
    gamma.setReply(DEFAULT_OPENAI_REPLY);
    const rec = await record('abort-2');
    assert.equal(rec.status, 499);
    assert.ok(rec.outputTokens >= 3 && rec.outputTokens < 8, `kept the tokens sent: ${rec.outputTokens}`);
  });

  it('explorer: cursor paging covers every match once, sorts by duration and TTFT, exports CSV and JSON', async () => {
    const c = sdk(TOKEN_B, '10.5.0.1');
    for (let i = 0; i < 7; i++) await chat(c, 'alpha', `page-${i}`);
    // A model name made to run as a spreadsheet formula.
    await outcome(chat(c, '=HYPERLINK("http://x")', 'csv-formula'));
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/requests?caller=team-b&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: any = (await admin.request('GET', q)).body;
      ids.push(...page.requests.map((r: any) => r.requestId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 20);
    const all = (await admin.request('GET', '/api/requests?caller=team-b')).body;
    assert.deepEqual(
      ids,
      all.requests.map((r: any) => r.requestId),
      'every match once, newest first',
    );
    assert.equal(ids.length, all.matched);
    assert.equal(pages, Math.ceil(all.matched / 3));

    for (const sort of ['duration', 'ttft'] as const) {
      const key = (r: any) => (sort === 'duration' ? r.durationMs : (r.ttftMs ?? -1));
      const got: any[] = [];
      let cur: string | null = null;
      do {
        const page: any = (
          await admin.request('GET', `/api/requests?sort=${sort}&limit=4${cur ? `&cursor=${encodeURIComponent(cur)}` : ''}`)
        ).body;
        got.push(...page.requests);
        cur = page.nextCursor;
      } while (cur !== null);
      assert.equal(new Set(got.map((r) => r.requestId)).size, got.length, `${sort}: no row twice`);
      assert.equal(got.length, (await admin.request('GET', '/api/requests')).body.matched);
      for (let i = 1; i < got.length; i++) assert.ok(key(got[i - 1]) >= key(got[i]), `${sort} order at ${i}`);
    }
    const first = (await admin.request('GET', '/api/requests?sort=duration&limit=1')).body.nextCursor;
    const wrong = await admin.request('GET', `/api/requests?sort=time&cursor=${encodeURIComponent(first)}`);
    assert.deepEqual([wrong.status, wrong.body.error.code], [400, 'invalid_request']);
    assert.match(wrong.body.error.message, /^cursor:/);
    for (const bad of ['sort=slowest', 'format=xml', 'cursor=%25%25']) {
      assert.equal((await admin.request('GET', `/api/requests?${bad}`)).status, 400, bad);
    }

    const csv = await admin.request('GET', '/api/requests?caller=team-b&format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type')!, /^text\/csv/);
    assert.match(csv.headers.get('content-disposition')!, /^attachment; filename="sipp-requests-.*\.csv"$/);
    const lines = csv.text.trimEnd().split('\r\n');
    assert.equal(lines[0]!.split(',').slice(0, 3).join(','), 'time,requestId,api');
    assert.equal(lines.length - 1, all.matched);
    const formula = lines.find((l) => l.includes('csv-formula'))!;
    assert.ok(formula.includes(`"'=HYPERLINK(""http://x"")"`), formula);
    const fallback = (await admin.request('GET', '/api/requests?q=fallback-1&format=csv')).text;
    assert.match(fallback, /alpha 500 upstream 500 [\d.]+ms upstream; gamma 200 [\d.]+ms/);

    const json = await admin.request('GET', '/api/requests?caller=team-b&format=json&limit=1');
    assert.match(json.headers.get('content-disposition')!, /\.json"$/);
    assert.equal(json.body.requests.length, all.matched, 'the export ignores limit');
  });
});
