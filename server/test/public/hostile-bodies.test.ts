/**
 * Bodies the gateway refused are not read: after a rejection (413, 401, 403
 * blocked, 429 rate limited, admin 400/401) the response says
 * `Connection: close` and the socket is closed once it is flushed, so a
 * chunked body that never ends stops being read within max_request_bytes +
 * 64 KiB. `Expect: 100-continue` gets its 100 only after the checks before
 * the body passed.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AdminClient } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { RawConnection, requestHead } from '../support/raw-http.js';

const TOKEN = 'tok-hostile-bodies-0123456789';
const PASSWORD = 'pw-admin-hostile-bodies';
const MAX = 4096;
/** One socket read is at most 64 KiB; the request head and chunk framing come on top of the body bytes. */
const READ_BUDGET = MAX + 64 * 1024 + 1024;

describe('refused requests are not read further', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  const serverSockets: Socket[] = [];

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { top: `max_request_bytes = ${MAX}` }),
      env: { TEST_ADMIN_PASSWORD: PASSWORD, T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
    for (const s of [gw.gateway.servers.public, gw.gateway.servers.management])
      s.on('connection', (sock: Socket) => serverSockets.push(sock));
  });
  beforeEach(() => {
    serverSockets.length = 0;
    gw.gateway.controls.blocklist.remove('127.0.0.1');
    gw.gateway.controls.rateLimiter.configure({ enabled: false, requestsPerMinute: 60, burst: 60 });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  const chunkedHead = (path: string, headers: Record<string, string> = {}, method = 'POST') =>
    requestHead(method, path, {
      host: 'localhost',
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
      ...headers,
    });

  /** Streams a never-ending chunked body after `head`; returns the connection once the gateway closed it. */
  async function endlessBody(url: string, head: string): Promise<RawConnection> {
    const c = await RawConnection.open(url);
    await c.write(head);
    await c.write('1\r\n{\r\n');
    await c.pumpChunks();
    await c.waitClosed();
    return c;
  }

  function assertStoppedReading(c: RawConnection, status: number): void {
    assert.equal(c.statuses()[0], status, c.received.slice(0, 200));
    assert.match(c.received, /\r\nconnection: close\r\n/i);
    assert.equal(serverSockets.length, 1);
    const read = serverSockets[0]!.bytesRead;
    assert.ok(read <= READ_BUDGET, `the gateway read ${read} bytes (budget ${READ_BUDGET}); the client wrote ${c.written}`);
    assert.ok(serverSockets[0]!.destroyed, 'the gateway closed its socket');
  }

  it('413: an endless chunked body is read up to the limit, then answered and closed', async () => {
    const c = await endlessBody(gw.publicUrl, chunkedHead('/v1/query', { authorization: `Bearer ${TOKEN}` }));
    assertStoppedReading(c, 413);
    assert.match(c.received, /payload_too_large/);
  });

  it('401, 403 blocked and 429 rate limited: the body is not read at all', async () => {
    const cases: Array<[number, string, () => void]> = [
      [401, 'authentication', () => {}],
      [403, 'blocked', () => gw.gateway.controls.blocklist.add('127.0.0.1')],
      [
        429,
        'rate_limited',
        () => {
          gw.gateway.controls.rateLimiter.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
          gw.gateway.controls.rateLimiter.take('127.0.0.1');
        },
      ],
    ];
    for (const [status, code, arrange] of cases) {
      serverSockets.length = 0;
      arrange();
      const token = status === 401 ? 'wrong-token' : TOKEN;
      const c = await endlessBody(gw.publicUrl, chunkedHead('/v1/chat', { authorization: `Bearer ${token}` }));
      assertStoppedReading(c, status);
      assert.match(c.received, new RegExp(code));
      assert.ok(serverSockets[0]!.bytesRead <= 64 * 1024 + 1024, `${code}: read ${serverSockets[0]!.bytesRead}`);
      gw.gateway.controls.blocklist.remove('127.0.0.1');
      gw.gateway.controls.rateLimiter.configure({ enabled: false, requestsPerMinute: 60, burst: 60 });
    }
  });

  it('admin login and admin mutations stop reading an endless body too (400 too large, 401 without a session)', async () => {
    const login = await endlessBody(gw.managementUrl, chunkedHead('/admin/api/session'));
    assert.equal(login.statuses()[0], 400);
    assert.ok(serverSockets[0]!.bytesRead <= 16 * 1024 + 64 * 1024 + 1024, `read ${serverSockets[0]!.bytesRead}`);
    serverSockets.length = 0;
    const put = await endlessBody(gw.managementUrl, chunkedHead('/admin/api/controls/concurrency', {}, 'PUT'));
    assertStoppedReading(put, 401);
  });

  it('a request that was answered normally keeps its connection alive', async () => {
    const c = await RawConnection.open(gw.publicUrl);
    const body = JSON.stringify({ model: 'chat', prompt: 'hi' });
    await c.write(
      requestHead('POST', '/v1/query', {
        host: 'localhost',
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'content-length': String(body.length),
      }) + body,
    );
    await c.waitFor('"text"');
    assert.equal(c.statuses()[0], 200);
    assert.doesNotMatch(c.received, /connection: close/i);
    assert.equal(c.closed, false);
    c.close();
  });

  describe('Expect: 100-continue', () => {
    const body = JSON.stringify({ model: 'chat', prompt: 'hi' });
    const head = (headers: Record<string, string>) =>
      requestHead('POST', '/v1/query', {
        host: 'localhost',
        'content-type': 'application/json',
        'content-length': String(body.length),
        expect: '100-continue',
        ...headers,
      });

    it('a bad token gets 401 without a 100 Continue, and the connection closes', async () => {
      const c = await RawConnection.open(gw.publicUrl);
      await c.write(head({ authorization: 'Bearer wrong-token' }));
      await c.waitClosed();
      assert.deepEqual(c.statuses(), [401]);
      assert.match(c.received, /\r\nconnection: close\r\n/i);
    });

    it('a declared body over max_request_bytes gets 413 without a 100 Continue', async () => {
      const c = await RawConnection.open(gw.publicUrl);
      await c.write(head({ authorization: `Bearer ${TOKEN}`, 'content-length': String(MAX + 1) }));
      await c.waitClosed();
      assert.deepEqual(c.statuses(), [413]);
    });

    it('a good token gets 100 Continue, then the answer once the body is sent', async () => {
      const c = await RawConnection.open(gw.publicUrl);
      await c.write(head({ authorization: `Bearer ${TOKEN}` }));
      await c.waitFor('\r\n\r\n');
      assert.deepEqual(c.statuses(), [100], 'only the 100 before the body');
      await c.write(body);
      await c.waitFor('"text"');
      assert.deepEqual(c.statuses(), [100, 200]);
      c.close();
    });

    it('admin login: 100 Continue then the answer; an admin mutation without a session: 401 and no 100', async () => {
      const login = JSON.stringify({ password: PASSWORD });
      const c = await RawConnection.open(gw.managementUrl);
      await c.write(
        requestHead('POST', '/admin/api/session', {
          host: 'localhost',
          'content-type': 'application/json',
          'content-length': String(login.length),
          expect: '100-continue',
        }),
      );
      await c.waitFor('\r\n\r\n');
      assert.deepEqual(c.statuses(), [100]);
      await c.write(login);
      await c.waitFor('csrfToken');
      assert.deepEqual(c.statuses(), [100, 200]);
      c.close();

      const m = await RawConnection.open(gw.managementUrl);
      await m.write(
        requestHead('PUT', '/admin/api/controls/concurrency', {
          host: 'localhost',
          'content-type': 'application/json',
          'content-length': '13',
          expect: '100-continue',
        }),
      );
      await m.waitClosed();
      assert.deepEqual(m.statuses(), [401]);
    });

    it('admin mutation with a session and CSRF token: 100 Continue only then', async () => {
      const a = new AdminClient(`${gw.managementUrl}/admin`);
      assert.equal((await a.login(PASSWORD)).status, 200);
      const json = JSON.stringify({ limit: 7 });
      const c = await RawConnection.open(gw.managementUrl);
      await c.write(
        requestHead('PUT', '/admin/api/controls/concurrency', {
          host: 'localhost',
          cookie: a.cookieHeader(),
          'x-sipp-admin-csrf': a.csrf!,
          'content-type': 'application/json',
          'content-length': String(json.length),
          expect: '100-continue',
        }),
      );
      await c.waitFor('\r\n\r\n');
      assert.deepEqual(c.statuses(), [100]);
      await c.write(json);
      await c.until(() => c.statuses().length === 2, 'the final answer');
      assert.deepEqual(c.statuses(), [100, 200]);
      assert.equal(gw.gateway.controls.admission.limit, 7);
      gw.gateway.controls.admission.setLimit(null);
      c.close();
    });
  });
});
