/**
 * Admin sessions through a real gateway: login, cookie flags, session info,
 * logout that ends the session server-side, login throttling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { AdminClient, findSecrets, type Seen } from './admin-client.js';

const PASSWORD = 'admin-pw-Quokka-7391';
const TOKEN = 'tok-sessions-test-0123456789';
const TOML = chatGatewayToml('http://127.0.0.1:9/v1');
const ENV = { TEST_ADMIN_PASSWORD: PASSWORD, T: TOKEN, UPSTREAM_KEY: 'sk-upstream-secret-4242' };

describe('admin sessions', () => {
  let gw: TestGateway;
  const seen: Seen[] = [];
  const client = () => new AdminClient(`${gw.managementUrl}/admin`, seen);

  before(async () => {
    gw = await startTestGateway({ toml: TOML, env: ENV });
  });
  after(async () => {
    await gw?.stop();
  });

  it('GET session without a cookie is 401 unauthenticated, no-store', async () => {
    const r = await client().request('GET', '/api/session');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthenticated');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  it('every read endpoint needs a session', async () => {
    for (const p of ['overview', 'timeseries', 'routes', 'targets', 'clients', 'security']) {
      const r = await client().request('GET', `/api/${p}`);
      assert.equal(r.status, 401, p);
      assert.equal(r.body.error.code, 'unauthenticated', p);
    }
  });

  it('a wrong password is 401 and sets no cookie', async () => {
    const c = client();
    const r = await c.login('not-the-password');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthenticated');
    assert.equal(c.cookies.size, 0);
  });

  it('malformed login bodies are 400 invalid_request', async () => {
    const c = client();
    for (const [body, type] of [
      ['{"password":', 'application/json'],
      ['{}', 'application/json'],
      ['{"password":"x","extra":1}', 'application/json'],
      [`password=${PASSWORD}`, 'application/x-www-form-urlencoded'],
    ] as const) {
      const r = await c.request('POST', '/api/session', { body, headers: { 'content-type': type } });
      assert.equal(r.status, 400, body);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    const big = await c.request('POST', '/api/session', { json: { password: 'x'.repeat(20_000) } });
    assert.equal(big.status, 400);
  });

  it('login sets an HttpOnly, SameSite=Strict cookie scoped to the admin path with an 8 h lifetime', async () => {
    const res = await fetch(`${gw.managementUrl}/admin/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body: any = await res.json();
    assert.equal(body.authenticated, true);
    assert.equal(body.csrfHeader, 'x-sipp-admin-csrf');
    assert.equal(body.basePath, '/admin');
    assert.match(body.csrfToken, /^[A-Za-z0-9_-]{40,}$/);
    assert.ok(Math.abs(body.expiresAt - (Date.now() + 8 * 3600_000)) < 60_000);
    const cookies = res.headers.getSetCookie().filter((c) => c.startsWith('sipp_admin_session'));
    assert.ok(cookies.length >= 1);
    for (const c of cookies) {
      assert.match(c, /; path=\/admin(;|$)/);
      assert.match(c, /; httponly/i);
      assert.match(c, /; samesite=strict/i);
      const expires = Date.parse(/expires=([^;]+)/.exec(c)![1]!);
      assert.ok(Math.abs(expires - (Date.now() + 8 * 3600_000)) < 60_000, c);
      assert.ok(!c.includes(body.csrfToken), 'the CSRF token is not in the cookie');
    }
  });

  it('GET session returns the same session; reads work; a new login gets a new session id', async () => {
    const c = client();
    const login = await c.login(PASSWORD);
    const firstCookie = c.cookieHeader();
    const s = await c.request('GET', '/api/session');
    assert.equal(s.status, 200);
    assert.equal(s.body.csrfToken, login.body.csrfToken);
    assert.equal((await c.request('GET', '/api/overview')).status, 200);
    const again = await c.login(PASSWORD);
    assert.equal(again.status, 200);
    assert.notEqual(c.cookieHeader(), firstCookie, 'session id regenerated on login');
    assert.notEqual(again.body.csrfToken, login.body.csrfToken);
    // The pre-login session id is dead.
    assert.equal((await c.request('GET', '/api/session', { cookie: firstCookie })).status, 401);
  });

  it('a forged or unsigned cookie is not a session', async () => {
    const c = client();
    await c.login(PASSWORD);
    const sid = c.cookies.get('sipp_admin_session')!;
    assert.equal((await c.request('GET', '/api/session', { cookie: `sipp_admin_session=${sid}` })).status, 401);
    assert.equal(
      (await c.request('GET', '/api/session', { cookie: 'sipp_admin_session=abc; sipp_admin_session.sig=def' })).status,
      401,
    );
  });

  it('logout needs the CSRF token, ends the session server-side and clears the cookie', async () => {
    const c = client();
    await c.login(PASSWORD);
    const oldCookie = c.cookieHeader();
    const noCsrf = await c.request('DELETE', '/api/session', { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'csrf_failed');
    assert.equal((await c.request('GET', '/api/session')).status, 200, 'still signed in');
    const out = await c.request('DELETE', '/api/session');
    assert.equal(out.status, 200);
    assert.equal(out.body.authenticated, false);
    assert.equal(c.cookies.size, 0, 'cookie cleared');
    // Replaying the old cookie: the server no longer knows the session.
    for (const p of ['/api/session', '/api/overview']) {
      const r = await c.request('GET', p, { cookie: oldCookie });
      assert.equal(r.status, 401, p);
    }
    const replayMutation = await c.request('PUT', '/api/controls/concurrency', { cookie: oldCookie, json: { limit: 3 } });
    assert.equal(replayMutation.status, 401);
    assert.equal(gw.gateway.controls.admission.limit, null);
  });

  it('an unknown API route is 404 not_found', async () => {
    const c = client();
    await c.login(PASSWORD);
    const r = await c.request('GET', '/api/nope');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
    assert.equal((await c.request('PATCH', '/api/overview')).status, 404);
  });

  // Last test of the suite (node:test runs them in order): a leak fails a counted test, not an after hook.
  it('leaked no secret in any response or log line (as written and before the scrubber)', () => {
    assert.deepEqual(findSecrets(Object.values(ENV), seen, [...gw.logs, ...gw.rawLogs]), []);
  });
});

describe('admin login throttling', () => {
  let gw: TestGateway;
  const seen: Seen[] = [];

  before(async () => {
    gw = await startTestGateway({ toml: TOML, env: ENV });
  });
  after(async () => {
    await gw?.stop();
  });

  it('slows a failing client: after two free failures each one doubles its wait (429 + Retry-After, even with the right password)', async () => {
    const c = new AdminClient(`${gw.managementUrl}/admin`, seen);
    for (let i = 0; i < 3; i++) {
      const r = await c.login(`wrong-${i}`);
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    // Escalate the wait to 8 s (failures 4-6 after waiting 1, 2 and 4 s), so the check below cannot race it.
    for (let i = 0; i < 3;) {
      const r = await c.login(`wrong-more-${i}`);
      if (r.status === 429) await sleep(Number(r.headers.get('retry-after')) * 1000);
      else {
        assert.equal(r.status, 401);
        i++;
      }
    }
    const refused = await c.login(PASSWORD);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry > 0 && retry <= 8, `Retry-After ${retry}`);
    assert.equal(c.cookies.size, 0);
    assert.ok(gw.logs.some((l) => l.includes('admin login failed')));
    assert.ok(gw.logs.some((l) => l.includes('admin login slowed for this client')));
  });

  // Last test of the suite (node:test runs them in order): a leak fails a counted test, not an after hook.
  it('leaked no secret in any response or log line (as written and before the scrubber)', () => {
    assert.deepEqual(findSecrets(Object.values(ENV), seen, [...gw.logs, ...gw.rawLogs]), []);
  });
});
