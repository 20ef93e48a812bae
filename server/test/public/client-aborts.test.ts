/**
 * How requests that end without a normal answer are recorded: a client gone
 * mid-upload or before the first byte is 499 `client_closed_request` with one
 * info line (the request line, with its id) and no error line; requests still
 * running when the drain grace runs out are cut with `shutting_down` (a final
 * `event: error` frame on streams, a 503 otherwise) and logged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse } from '../support/http.js';
import { RawConnection, requestHead } from '../support/raw-http.js';
import { until } from '../support/wait.js';

const TOKEN = 'tok-client-aborts-0123456789';
const ENV = (upstream: FakeOpenAI) => ({
  TEST_ADMIN_PASSWORD: 'pw-admin-aborts-0123456789',
  T: TOKEN,
  UPSTREAM_KEY: upstream.apiKey,
});

type Line = { level: string; msg: string; reqId?: string; status?: number; code?: string | null };
const lines = (gw: TestGateway): Line[] => gw.logs.map((l) => JSON.parse(l) as Line);
const requestLine = (gw: TestGateway, id: string) => lines(gw).find((l) => l.msg === 'request' && l.reqId === id);

describe('client aborts are 499 client_closed_request, logged once at info', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({ toml: chatGatewayToml(upstream.url), env: ENV(upstream) });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  /** Lines at info or above that belong to request `id` (by id or by message). */
  function infoLinesOf(id: string): Line[] {
    return lines(gw).filter(
      (l) => ['info', 'warn', 'error', 'fatal'].includes(l.level) && (l.reqId === id || JSON.stringify(l).includes(id)),
    );
  }

  it('a client that disconnects mid-upload', async () => {
    const id = 'abort-mid-upload-1';
    let started = false;
    gw.gateway.servers.public.once('request', () => (started = true));
    const c = await RawConnection.open(gw.publicUrl);
    await c.write(
      requestHead('POST', '/v1/query', {
        host: 'localhost',
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'content-length': '1000',
        'x-request-id': id,
      }) + '{"model":"chat","prompt":"',
    );
    await until(() => started, 'the gateway to take the request');
    c.close();
    await until(() => requestLine(gw, id) !== undefined, 'the request line');
    const line = requestLine(gw, id)!;
    assert.equal(line.status, 499);
    assert.equal(line.code, 'client_closed_request');
    assert.equal(line.level, 'info');
    assert.deepEqual(infoLinesOf(id).length, 1);
  });

  for (const stream of [false, true]) {
    it(`a client that goes away before the first byte (stream: ${stream})`, async () => {
      const id = `abort-before-first-byte-${stream}`;
      const errorsBefore = lines(gw).filter((l) => l.level === 'error').length;
      upstream.setBehavior({ kind: 'stall-headers' });
      const seen = upstream.requests.length;
      const controller = new AbortController();
      const pending = fetch(`${gw.publicUrl}/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'chat', prompt: 'hi', stream }),
        signal: controller.signal,
      }).catch((err: Error) => err);
      try {
        await until(() => upstream.requests.length > seen, 'the upstream call');
        controller.abort();
        assert.ok((await pending) instanceof Error);
        await until(() => requestLine(gw, id) !== undefined, 'the request line');
      } finally {
        upstream.setBehavior({ kind: 'normal' });
      }
      const line = requestLine(gw, id)!;
      assert.equal(line.status, 499);
      assert.equal(line.code, 'client_closed_request');
      assert.equal(infoLinesOf(id).length, 1, JSON.stringify(infoLinesOf(id)));
      assert.equal(lines(gw).filter((l) => l.level === 'error').length, errorsBefore, 'no error line');
    });
  }
});

describe('requests still running when the drain grace runs out', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({ toml: chatGatewayToml(upstream.url), env: ENV(upstream), graceMs: 200 });
  });
  after(async () => {
    await upstream?.close();
  });

  it('a stream gets a final event: error shutting_down frame, a waiting request a 503; both are logged', async () => {
    upstream.setBehavior({ kind: 'stall', afterChunks: 2 });
    const stream = await RawConnection.open(gw.publicUrl);
    const body = JSON.stringify({ model: 'chat', prompt: 'hi', stream: true });
    await stream.write(
      requestHead('POST', '/v1/query', {
        host: 'localhost',
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-request-id': 'cut-stream',
      }) + body,
    );
    await stream.waitFor('event: token');

    upstream.setBehavior({ kind: 'stall-headers' });
    const seen = upstream.requests.length;
    const finite = fetch(`${gw.publicUrl}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-request-id': 'cut-finite' },
      body: JSON.stringify({ model: 'chat', prompt: 'hi' }),
    });
    await until(() => upstream.requests.length > seen, 'the second upstream call');

    await gw.stop();
    await stream.waitClosed();
    const sse = stream.received
      .slice(stream.received.indexOf('\r\n\r\n') + 4)
      .replace(/\r\n[0-9a-f]+\r\n/g, '')
      .replace(/^[0-9a-f]+\r\n/, '');
    const events = parseSse(sse.replace(/\r\n0\r\n\r\n$/, '').replace(/\r\n/g, ''));
    assert.equal(events[0]?.event, 'token');
    assert.deepEqual(events.at(-1), {
      event: 'error',
      data: { error: { code: 'shutting_down', message: 'the gateway is shutting down' } },
    });

    const r = await finite;
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'shutting_down');

    const s = requestLine(gw, 'cut-stream');
    assert.ok(s, 'the stream has its request line');
    assert.equal(s.code, 'shutting_down');
    assert.equal(s.status, 200);
    const f = requestLine(gw, 'cut-finite');
    assert.ok(f, 'the finite request has its request line');
    assert.equal(f.code, 'shutting_down');
    assert.equal(f.status, 503);
    assert.deepEqual(
      lines(gw).filter((l) => l.level === 'error'),
      [],
      'no error line',
    );
    const stopped = lines(gw).findIndex((l) => l.msg === 'stopped');
    assert.ok(
      lines(gw).findIndex((l) => l.reqId === 'cut-stream' && l.msg === 'request') < stopped,
      'logged before the gateway stopped',
    );
  });
});
