/**
 * `[listeners.*]` limits against a slowloris client: slow request heads are
 * closed after `headers_timeout_seconds`, slow bodies after
 * `request_timeout_seconds`, `max_connections` caps open sockets, and a normal
 * client is served while slow sockets are pending. Timeouts are a few seconds
 * (the normal client must get through before them even on a loaded machine);
 * waits are on events with generous upper bounds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';
import { RawConnection, requestHead } from '../support/raw-http.js';

const TOKEN = 'tok-slowloris-0123456789';
const LIMITS = `[listeners.public]
headers_timeout_seconds = 3
request_timeout_seconds = 3.5
keep_alive_timeout_seconds = 0.2
max_connections = 8
[listeners.management]
headers_timeout_seconds = 1
request_timeout_seconds = 1.5
max_connections = 4
`;

/** Opens a connection that sends its request head one header line at a time, forever. */
async function slowHead(url: string): Promise<{ conn: RawConnection; stop(): void }> {
  const conn = await RawConnection.open(url);
  await conn.write('POST /v1/query HTTP/1.1\r\nHost: localhost\r\n');
  let n = 0;
  const timer = setInterval(() => void conn.write(`x-slow-${n++}: 1\r\n`), 50);
  conn.socket.once('close', () => clearInterval(timer));
  return { conn, stop: () => clearInterval(timer) };
}

describe('listener limits (slowloris)', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { extra: LIMITS }),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-slowloris', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('slow request heads are closed after the headers timeout while a normal client is served', async () => {
    const slow = await Promise.all(Array.from({ length: 5 }, () => slowHead(gw.publicUrl)));
    let pendingWhenServed: boolean | undefined;
    gw.gateway.servers.public.once('request', () => (pendingWhenServed = slow.every((s) => !s.conn.closed)));
    const ok = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'chat', prompt: 'hi' },
      { token: TOKEN, headers: { connection: 'close' } },
    );
    assert.equal(ok.status, 200);
    assert.equal(pendingWhenServed, true, 'the slow sockets were still pending when the normal request was taken');
    for (const s of slow) {
      await s.conn.waitClosed();
      s.stop();
      assert.deepEqual(s.conn.statuses(), [408], 'Node answers 408 Request Timeout');
    }
  });

  it('max_connections: the connection beyond the limit is closed unanswered; capacity returns when slow sockets time out', async () => {
    const slow = await Promise.all(Array.from({ length: 8 }, () => slowHead(gw.publicUrl)));
    const extra = await RawConnection.open(gw.publicUrl);
    await extra.waitClosed();
    assert.equal(extra.received, '', 'no answer on a dropped connection');
    assert.ok(slow.every((s) => !s.conn.closed));
    for (const s of slow) await s.conn.waitClosed();
    const ok = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'chat', prompt: 'hi' },
      { token: TOKEN, headers: { connection: 'close' } },
    );
    assert.equal(ok.status, 200);
  });

  it('a body sent too slowly is cut at the request timeout; a long stream answer is not', async () => {
    const c = await RawConnection.open(gw.publicUrl);
    await c.write(
      requestHead('POST', '/v1/query', {
        host: 'localhost',
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'content-length': '1000',
      }),
    );
    const timer = setInterval(() => void c.write(' '), 50);
    await c.waitClosed();
    clearInterval(timer);
    assert.deepEqual(c.statuses(), [408]);

    // The request timeout bounds receiving the request only: this stream outlives it.
    upstream.setBehavior({ kind: 'slow', gapMs: 600 }); // 7 frames: about 4.2 s > request_timeout_seconds
    try {
      const r = await postJson(`${gw.publicUrl}/v1/query`, { model: 'chat', prompt: 'hi', stream: true }, { token: TOKEN });
      assert.equal(r.status, 200);
      assert.equal(parseSse(r.text).at(-1)?.event, 'done');
    } finally {
      upstream.setBehavior({ kind: 'normal' });
    }
  });

  it('the management listener has its own limits', async () => {
    const slow = await Promise.all(Array.from({ length: 4 }, () => slowHead(gw.managementUrl)));
    const extra = await RawConnection.open(gw.managementUrl);
    await extra.waitClosed();
    assert.equal(extra.received, '');
    for (const s of slow) {
      await s.conn.waitClosed();
      assert.deepEqual(s.conn.statuses(), [408]);
    }
    const health = await fetch(`${gw.managementUrl}/healthz`, { headers: { connection: 'close' } });
    assert.equal(health.status, 200);
  });
});
