/**
 * The admin JSON API through a real gateway: CSRF on every mutation, the read
 * endpoints' shapes after real public traffic, controls validation, and
 * controls taking effect on the very next public request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RANGE_GEOMETRY } from '@sipp/shared';
import { ROUTE_KEYS } from '../../src/routes.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { until } from '../support/wait.js';
import { AdminClient, findSecrets, missingSecurityHeaders, type Seen } from './admin-client.js';

const PASSWORD = 'admin-pw-Wombat-5512';
const TOKEN = 'tok-api-test-0123456789abcdef';
const RESTRICTED = 'tok-api-restricted-987654321';

const MUTATIONS: Array<{ method: string; path: string; json?: unknown }> = [
  { method: 'PUT', path: '/api/security/rate-limit', json: { enabled: true, requestsPerMinute: 1, burst: 1 } },
  { method: 'POST', path: '/api/security/blocklist/127.0.0.1' },
  { method: 'POST', path: '/api/security/blocklist', json: { entry: '127.0.0.0/8' } },
  { method: 'DELETE', path: '/api/security/blocklist/127.0.0.1' },
  { method: 'PUT', path: '/api/controls/concurrency', json: { limit: 1 } },
  { method: 'POST', path: '/api/targets/chat/drain' },
  { method: 'DELETE', path: '/api/targets/chat/drain' },
  { method: 'DELETE', path: '/api/session' },
];

/** What a browser adds to a request from another page (docs/dashboard.md "Sign-in, sessions, CSRF"). */
const FORGED: Array<Record<string, string>> = [
  { origin: 'http://evil.example' },
  { origin: 'null' },
  { 'sec-fetch-site': 'cross-site' },
  { 'sec-fetch-site': 'same-site' },
  { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' },
];

describe('admin API', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  let env: Record<string, string>;
  let admin: AdminClient;
  const seen: Seen[] = [];
  const chat = () => ({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] });
  const call = (token = TOKEN, headers: Record<string, string> = {}) =>
    postJson(`${gw.publicUrl}/v1/chat`, chat(), { token, headers });

  before(async () => {
    upstream = await startFakeOpenAI();
    env = { TEST_ADMIN_PASSWORD: PASSWORD, T: TOKEN, R: RESTRICTED, UPSTREAM_KEY: upstream.apiKey };
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "ops-client"
[[tokens]]
env = "R"
caller = "restricted-client"
targets = ["chat"]
[[targets]]
name = "chat"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "UPSTREAM_KEY"
timeout_seconds = 5
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

  it('every mutating route without the CSRF header (or with a wrong one) is 403 csrf_failed and changes nothing', async () => {
    for (const m of MUTATIONS) {
      for (const csrf of [false, 'wrong-token', `${admin.csrf}x`] as const) {
        const r = await admin.request(m.method, m.path, { json: m.json, csrf });
        assert.equal(r.status, 403, `${m.method} ${m.path} csrf=${csrf}`);
        assert.equal(r.body.error.code, 'csrf_failed');
        assert.equal(r.headers.get('cache-control'), 'no-store');
      }
    }
    assert.deepEqual(gw.gateway.controls.rateLimiter.settings(), { enabled: false, requestsPerMinute: 60, burst: 60 });
    assert.equal(gw.gateway.controls.blocklist.size, 0);
    assert.equal(gw.gateway.controls.admission.limit, null);
    assert.equal(
      (await admin.request('GET', '/api/targets')).body.targets[0].circuit.drained,
      false,
      'the target was not drained',
    );
    assert.equal((await admin.request('GET', '/api/session')).status, 200, 'session survived');
  });

  it('every mutating route with a valid cookie and CSRF token but a foreign Origin or Sec-Fetch-Site is 403 and changes nothing', async () => {
    // A drained target stays drained: a forged release must not undo it either.
    assert.equal((await admin.request('POST', '/api/targets/chat/drain')).status, 200);
    for (const m of MUTATIONS) {
      if (m.method === 'POST' && m.path === '/api/targets/chat/drain') continue;
      for (const headers of FORGED) {
        const r = await admin.request(m.method, m.path, { json: m.json, headers });
        assert.equal(r.status, 403, `${m.method} ${m.path} ${JSON.stringify(headers)}`);
        assert.equal(r.body.error.code, 'csrf_failed');
        assert.doesNotMatch(r.body.error.message, /evil/, 'the refusal does not echo the header');
      }
    }
    const forgedLogin = await new AdminClient(admin.baseUrl, seen).request('POST', '/api/session', {
      json: { password: PASSWORD },
      headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forgedLogin.status, 403, 'a cross-site sign-in (login CSRF) is refused');
    assert.deepEqual(gw.gateway.controls.rateLimiter.settings(), { enabled: false, requestsPerMinute: 60, burst: 60 });
    assert.equal(gw.gateway.controls.blocklist.size, 0);
    assert.equal(gw.gateway.controls.admission.limit, null);
    assert.equal((await admin.request('GET', '/api/targets')).body.targets[0].circuit.drained, true, 'still drained');
    assert.equal((await admin.request('DELETE', '/api/targets/chat/drain')).status, 200);
    assert.equal((await admin.request('GET', '/api/session')).status, 200, 'session survived');
  });

  it("the dashboard's own requests (same Origin, Sec-Fetch-Site: same-origin) and header-less tools are accepted", async () => {
    const browser = new AdminClient(admin.baseUrl, seen);
    const own = { origin: new URL(gw.managementUrl).origin, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' };
    const signIn = await browser.request('POST', '/api/session', { json: { password: PASSWORD }, headers: own });
    assert.equal(signIn.status, 200);
    browser.csrf = signIn.body.csrfToken;
    const settings = { enabled: true, requestsPerMinute: 6000, burst: 6000 };
    assert.equal((await browser.request('PUT', '/api/security/rate-limit', { json: settings, headers: own })).status, 200);
    assert.equal((await browser.request('POST', '/api/targets/chat/drain', { headers: own })).status, 200);
    assert.equal(
      (await browser.request('DELETE', '/api/targets/chat/drain', { headers: { 'sec-fetch-site': 'same-origin' } })).status,
      200,
    );
    // A script without Origin / Fetch-Metadata headers (curl): the CSRF token alone.
    assert.equal(
      (await admin.request('PUT', '/api/security/rate-limit', { json: { enabled: false, requestsPerMinute: 60, burst: 60 } }))
        .status,
      200,
    );
    assert.equal((await browser.request('DELETE', '/api/session', { headers: own })).status, 200);
    assert.deepEqual(gw.gateway.controls.rateLimiter.settings(), { enabled: false, requestsPerMinute: 60, burst: 60 });
  });

  it('every mutating route without a session is 401', async () => {
    const anon = new AdminClient(admin.baseUrl, seen);
    for (const m of MUTATIONS) {
      const r = await anon.request(m.method, m.path, { json: m.json, csrf: admin.csrf! });
      assert.equal(r.status, 401, `${m.method} ${m.path}`);
    }
  });

  it('public traffic shows up in overview, timeseries, targets and clients', async () => {
    assert.equal((await call()).status, 200);
    assert.equal((await call(RESTRICTED, { 'x-request-id': 'req-admin-visible-1' })).status, 200);
    assert.equal((await call('wrong-token')).status, 401);
    // The statistics take a request when it has finished, just after its answer.
    await until(
      async () => (await admin.request('GET', '/api/overview')).body.totals.requests === 3,
      'the three requests in the statistics',
    );

    const o = await admin.request('GET', '/api/overview');
    assert.equal(o.status, 200);
    assert.equal(o.headers.get('cache-control'), 'no-store');
    assert.equal(o.body.totals.requests, 3);
    assert.equal(o.body.totals.errors, 1);
    assert.ok(Math.abs(o.body.totals.errorRate - 1 / 3) < 1e-9);
    assert.equal(o.body.totals.inputTokens, 16);
    assert.equal(o.body.totals.outputTokens, 6);
    assert.equal(typeof o.body.latencyMs.p50, 'number');
    assert.ok(o.body.latencyMs.p99 >= o.body.latencyMs.p50);
    assert.equal(o.body.ready, true);
    assert.equal(o.body.activeRequests, 0);
    assert.equal(o.body.targets, 1);
    assert.equal(o.body.callers, 2);
    assert.ok(o.body.uptimeSeconds >= 0);
    assert.deepEqual(o.body.security, { rateLimit: { enabled: false, requestsPerMinute: 60, burst: 60 }, blockedClients: 0 });
    assert.deepEqual(o.body.controls, { concurrencyLimit: null, configuredConcurrencyLimit: null });

    const t = await admin.request('GET', '/api/timeseries');
    assert.equal(t.body.range, '1h');
    assert.equal(t.body.bucketMs, 10_000);
    assert.equal(t.body.points.length, RANGE_GEOMETRY['1h'].buckets);
    const sum = t.body.points.reduce((a: number, p: any) => a + p.requests, 0);
    assert.equal(sum, 3);
    assert.ok(t.body.points.at(-1).start <= Date.now());

    const targets = await admin.request('GET', '/api/targets');
    const [chatTarget] = targets.body.targets;
    assert.equal(chatTarget.name, 'chat');
    assert.equal(chatTarget.type, 'openai_compatible');
    assert.equal(chatTarget.model, 'served-model');
    assert.equal(chatTarget.baseUrl, upstream.url);
    assert.equal(chatTarget.traffic.requests, 2, 'the unauthenticated call never reached a target');
    assert.equal(chatTarget.traffic.outputTokens, 6);

    const clients = await admin.request('GET', '/api/clients');
    const [local] = clients.body.clients;
    assert.equal(local.client, '127.0.0.1');
    assert.equal(local.requests, 3);
    assert.equal(local.errors, 1);
    assert.ok(['ops-client', 'restricted-client'].includes(local.caller));
    assert.equal(local.blocked, false);
    const visible = clients.body.recent.find((r: any) => r.requestId === 'req-admin-visible-1');
    assert.ok(visible, 'recent requests carry the request id');
    assert.equal(visible.operation, 'chat');
    assert.equal(visible.target, 'chat');
    assert.equal(visible.caller, 'restricted-client');
    assert.equal(visible.status, 200);
    assert.equal(visible.outputTokens, 3);
    assert.equal(clients.body.recent[0].status, 401, 'newest first');
  });

  it('routes lists both listeners and callers (labels only)', async () => {
    const r = await admin.request('GET', '/api/routes');
    assert.equal(r.status, 200);
    const byName = Object.fromEntries(r.body.routes.map((x: any) => [x.name, x]));
    assert.equal(byName.chat.path, '/v1/chat');
    assert.equal(byName.chat.listener, 'public');
    assert.equal(byName.admin.path, '/admin');
    assert.equal(byName.metrics.listener, 'management');
    // Every route of both listeners, the OpenAI and Anthropic ones included.
    assert.deepEqual(Object.keys(byName).sort(), [...ROUTE_KEYS].sort());
    assert.equal(byName.anthropic_messages.path, '/v1/messages');
    assert.deepEqual(byName.openai_models.methods, ['GET']);
    assert.deepEqual(r.body.callers, [
      { caller: 'ops-client', targets: null },
      { caller: 'restricted-client', targets: ['chat'] },
    ]);
  });

  it('controls reject bad input with 400 invalid_request', async () => {
    const bad: Array<[string, string, unknown]> = [
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: 0, burst: 1 }],
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: 10, burst: 1.5 }],
      ['PUT', '/api/security/rate-limit', { enabled: 'yes', requestsPerMinute: 10, burst: 1 }],
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: -1, burst: 1 }],
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: 10, burst: 2_000_000 }],
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: 10 }],
      ['PUT', '/api/security/rate-limit', { enabled: true, requestsPerMinute: 10, burst: 1, extra: 1 }],
      ['PUT', '/api/controls/concurrency', { limit: 0 }],
      ['PUT', '/api/controls/concurrency', { limit: 2.5 }],
      ['PUT', '/api/controls/concurrency', { limit: '3' }],
      ['PUT', '/api/controls/concurrency', {}],
    ];
    for (const [method, path, json] of bad) {
      const r = await admin.request(method, path, { json });
      assert.equal(r.status, 400, `${path} ${JSON.stringify(json)}`);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    const notJson = await admin.request('PUT', '/api/controls/concurrency', {
      body: '{"limit":',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(notJson.status, 400);
    for (const ip of ['not-an-ip', '999.1.1.1', '1.2.3', 'fe80%3A%3Azz', '%E0%A4%A']) {
      const r = await admin.request('POST', `/api/security/blocklist/${ip}`);
      assert.equal(r.status, 400, ip);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    for (const json of [
      { entry: 'nope' },
      { entry: '10.0.0.0/33' },
      {},
      { entry: '10.0.0.1', expires_in_seconds: 0 },
      { entry: '10.0.0.1', expires_in_seconds: 1.5 },
      { entry: '10.0.0.1', note: 'x'.repeat(201) },
      { entry: '10.0.0.1', extra: 1 },
    ]) {
      const r = await admin.request('POST', '/api/security/blocklist', { json });
      assert.equal(r.status, 400, JSON.stringify(json));
      assert.equal(r.body.error.code, 'invalid_request');
    }
    for (const q of [
      'overview?window=2m',
      'callers?window=1d',
      'targets?window=x',
      'timeseries?range=7d',
      'requests?status=6xx',
      'requests?limit=0',
    ]) {
      const r = await admin.request('GET', `/api/${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    const unknown = await admin.request('DELETE', '/api/security/blocklist/10.9.9.9');
    assert.equal(unknown.status, 404);
    assert.deepEqual(gw.gateway.controls.rateLimiter.settings(), { enabled: false, requestsPerMinute: 60, burst: 60 });
    assert.equal(gw.gateway.controls.admission.limit, null);
    assert.equal(gw.gateway.controls.blocklist.size, 0);
  });

  it('blocklist entries are normalized', async () => {
    const r = await admin.request('POST', `/api/security/blocklist/${encodeURIComponent('::ffff:10.0.0.7')}`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.blocklist.map((b: any) => b.entry),
      ['10.0.0.7'],
    );
    const v6 = await admin.request('POST', `/api/security/blocklist/${encodeURIComponent('2001:DB8:0:0::1')}`);
    assert.ok(v6.body.blocklist.some((b: any) => b.entry === '2001:db8::1'));
    assert.equal((await admin.request('DELETE', '/api/security/blocklist/10.0.0.7')).status, 200);
    assert.equal((await admin.request('DELETE', `/api/security/blocklist/${encodeURIComponent('2001:db8::1')}`)).status, 200);
    assert.equal(gw.gateway.controls.blocklist.size, 0);
  });

  it('blocking an IP makes its very next public call 403 blocked; unblocking restores it', async () => {
    const r = await admin.request('POST', '/api/security/blocklist/127.0.0.1');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.blocklist.map((b: any) => b.entry),
      ['127.0.0.1'],
    );
    const blocked = await call();
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error.code, 'blocked');
    const sec = await admin.request('GET', '/api/security');
    assert.equal(sec.body.totals.blocklistHits, 1);
    const clients = await admin.request('GET', '/api/clients');
    assert.equal(clients.body.clients[0].blocked, true);
    assert.equal(clients.body.clients[0].blocklistHits, 1);
    assert.equal((await admin.request('DELETE', '/api/security/blocklist/127.0.0.1')).status, 200);
    assert.equal((await call()).status, 200);
  });

  it('tightening the rate limit makes the next call over the burst 429 rate_limited', async () => {
    const r = await admin.request('PUT', '/api/security/rate-limit', { json: { enabled: true, requestsPerMinute: 1, burst: 1 } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.rateLimit, { enabled: true, requestsPerMinute: 1, burst: 1 });
    assert.equal((await call()).status, 200);
    const limited = await call();
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const o = await admin.request('GET', '/api/overview');
    assert.equal(o.body.totals.rateLimitHits, 1);
    assert.equal(o.body.security.rateLimit.enabled, true);
    const off = await admin.request('PUT', '/api/security/rate-limit', {
      json: { enabled: false, requestsPerMinute: 60, burst: 60 },
    });
    assert.equal(off.status, 200);
    assert.equal((await call()).status, 200);
  });

  it('concurrency 1: the second concurrent call is 429 admission; null lifts the limit', async () => {
    const r = await admin.request('PUT', '/api/controls/concurrency', { json: { limit: 1 } });
    assert.equal(r.status, 200);
    assert.equal(r.body.concurrency.limit, 1);
    // The first request holds the only slot while the test looks (3 s: generous for a loaded machine, below the 5 s timeout).
    upstream.setBehavior({ kind: 'delay', ms: 3000 });
    try {
      const first = call();
      await until(() => gw.gateway.controls.admission.inFlight >= 1, 'the first request to be admitted');
      const active = await admin.request('GET', '/api/overview');
      assert.equal(active.body.activeRequests, 1);
      assert.equal(active.body.controls.concurrencyLimit, 1);
      const second = await call();
      assert.equal(second.status, 429);
      assert.equal(second.body.error.code, 'admission');
      assert.equal((await first).status, 200);
      const lifted = await admin.request('PUT', '/api/controls/concurrency', { json: { limit: null } });
      assert.equal(lifted.body.concurrency.limit, null);
      const both = await Promise.all([call(), call()]);
      assert.deepEqual(
        both.map((b) => b.status),
        [200, 200],
      );
    } finally {
      upstream.setBehavior({ kind: 'normal' });
    }
    const sec = await admin.request('GET', '/api/security');
    assert.equal(sec.body.totals.admissionRejections, 1);
  });

  it('a CIDR with expiry and note blocks the range; DELETE takes the URL-encoded CIDR; both land in the audit log', async () => {
    const r = await admin.request('POST', '/api/security/blocklist', {
      json: { entry: '127.0.0.77/8', expires_in_seconds: 3600, note: 'whole loopback' },
    });
    assert.equal(r.status, 200);
    const [e] = r.body.blocklist;
    assert.equal(e.entry, '127.0.0.0/8');
    assert.equal(e.note, 'whole loopback');
    assert.ok(e.expiresAt - e.addedAt === 3_600_000);
    assert.equal((await call()).status, 403, '127.0.0.1 is inside the range');
    const del = await admin.request('DELETE', `/api/security/blocklist/${encodeURIComponent('127.0.0.0/8')}`);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.blocklist, []);
    assert.equal((await call()).status, 200);

    const audit = await admin.request('GET', '/api/audit');
    assert.equal(audit.status, 200);
    const [removed, added] = audit.body.entries;
    assert.equal(removed.action, 'blocklist.remove');
    assert.equal(removed.before.entry, '127.0.0.0/8');
    assert.equal(removed.after, null);
    assert.equal(added.action, 'blocklist.add');
    assert.equal(added.before, null);
    assert.equal(added.after.entry, '127.0.0.0/8');
    assert.match(added.session, /^[0-9a-f]{8}$/);
    assert.equal(added.client, '127.0.0.1');
    assert.ok(audit.body.entries.some((x: any) => x.action === 'login' && x.session === added.session));
    assert.ok(
      audit.body.entries.some(
        (x: any) => x.action === 'rate_limit.set' && x.before.enabled === false && x.after.enabled === true,
      ),
    );
    const logged = gw.logs.filter((l) => l.includes('"action":"blocklist.add"') && l.includes('whole loopback'));
    assert.equal(logged.length, 1, 'every action is written to the log');
  });

  it('windowed overview, callers, targets and the request explorer', async () => {
    assert.equal((await call(TOKEN, { 'x-request-id': 'explore-me-1' })).status, 200);
    const missing = await postJson(
      `${gw.publicUrl}/v1/chat`,
      { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] },
      { token: TOKEN },
    );
    assert.equal(missing.status, 404);
    await until(
      async () =>
        (await admin.request('GET', '/api/targets?window=1h')).body.unrouted.models.some((m: any) => m.model === 'no-such-model'),
      'the unrouted request in the statistics',
    );
    const o = await admin.request('GET', '/api/overview?window=1m');
    assert.equal(o.body.current.window, '1m');
    assert.equal(o.body.current.seconds, 60);
    assert.ok(o.body.current.requests >= 2);
    assert.ok(o.body.current.requestsPerSecond > 0);
    assert.ok(o.body.current.clientErrors >= 1);
    assert.deepEqual(o.body.inFlight, { active: 0, limit: null });

    const callers = await admin.request('GET', '/api/callers?window=15m');
    assert.equal(callers.body.window, '15m');
    const byCaller = Object.fromEntries(callers.body.callers.map((c: any) => [String(c.caller), c]));
    assert.deepEqual(Object.keys(byCaller).sort(), ['null', 'ops-client', 'restricted-client']);
    assert.ok(byCaller['ops-client'].requests >= 2);
    assert.ok(byCaller['null'].clientErrors >= 1, 'the wrong-token call is unauthenticated');
    assert.equal(byCaller['ops-client'].spark.length, 30);

    const targets = await admin.request('GET', '/api/targets?window=1h');
    assert.equal(targets.body.window, '1h');
    assert.equal(targets.body.targets[0].window.health, 'ready');
    assert.ok(targets.body.unrouted.models.some((m: any) => m.model === 'no-such-model'));

    const found = await admin.request('GET', '/api/requests?q=explore-me');
    assert.deepEqual(
      found.body.requests.map((r: any) => r.requestId),
      ['explore-me-1'],
    );
    assert.equal(found.body.matched, 1);
    const notFound = await admin.request('GET', '/api/requests?status=4xx&target=-');
    assert.ok(notFound.body.requests.length >= 1);
    assert.ok(
      notFound.body.requests.every((r: any) => r.status >= 400 && r.status < 500 && r.status !== 429 && r.target === null),
    );
    const none = await admin.request('GET', '/api/requests?caller=restricted-client&status=5xx');
    assert.deepEqual(none.body.requests, []);
  });

  it('config shows the effective configuration by names only, never a secret value', async () => {
    const r = await admin.request('GET', '/api/config');
    assert.equal(r.status, 200);
    assert.equal(r.body.metricsPath, '/metrics');
    assert.equal(typeof r.body.version, 'string');
    const c = r.body.config;
    assert.equal(c.admin_password_env, 'TEST_ADMIN_PASSWORD');
    assert.deepEqual(
      c.tokens.map((t: any) => [t.caller, t.env]),
      [
        ['ops-client', 'T'],
        ['restricted-client', 'R'],
      ],
    );
    assert.equal(c.targets[0].token_env, 'UPSTREAM_KEY');
    assert.equal(c.targets[0].base_url, upstream.url);
    for (const secret of Object.values(env)) assert.ok(!r.text.includes(secret));
  });

  it('drain and release are audited with the circuit before and after', async () => {
    assert.equal((await admin.request('POST', '/api/targets/chat/drain')).status, 200);
    assert.equal((await admin.request('DELETE', '/api/targets/chat/drain')).status, 200);
    assert.equal((await admin.request('POST', '/api/targets/nope/drain')).status, 404);
    const [released, drained] = (await admin.request('GET', '/api/audit')).body.entries;
    assert.equal(drained.action, 'target.drain');
    assert.deepEqual([drained.before.drained, drained.after.drained], [false, true]);
    assert.equal(released.action, 'target.release');
    assert.deepEqual([released.before.drained, released.after.drained], [true, false]);
    assert.equal(released.after.target, 'chat');
  });

  it('every admin response of this suite (API answers and errors) carried the security headers', () => {
    assert.ok(seen.length > 20);
    const bad = seen.flatMap((r) =>
      missingSecurityHeaders(new Headers(JSON.parse(r.headers))).map((p) => `${r.status} ${r.url}: ${p}`),
    );
    assert.deepEqual(bad, []);
  });

  // Last test of the suite (node:test runs them in order): a leak fails a counted test, not an after hook.
  it('leaked no secret in any response or log line (as written and before the scrubber)', () => {
    assert.deepEqual(findSecrets(Object.values(env), seen, [...gw.logs, ...gw.rawLogs]), []);
  });
});
