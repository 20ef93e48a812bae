/**
 * Admission slots and client disconnects: slots are always released (success,
 * upstream error, client gone mid-stream) and a dropped stream aborts the
 * upstream call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { until } from '../support/wait.js';
import { postJson } from '../support/http.js';

const TOKEN = 'tok-concurrency-0123456789';

describe('admission and disconnects', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  const chat = (extra: object = {}) => ({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra });

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { top: 'max_concurrent_requests = 1', target: 'timeout_seconds = 10' }),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-xyz-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('429 admission while the only slot is busy, then the slot comes back', async () => {
    // The first request holds the only slot while the second is tried (3 s: generous for a loaded machine).
    upstream.setBehavior({ kind: 'delay', ms: 3000 });
    const first = postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN });
    await until(() => gw.gateway.controls.admission.inFlight === 1, 'the first request to be admitted');
    const second = await postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN });
    assert.equal(second.status, 429);
    assert.equal(second.body.error.code, 'admission');
    assert.equal((await first).status, 200);
    upstream.setBehavior({ kind: 'normal' });
    assert.equal(gw.gateway.controls.admission.inFlight, 0);
    assert.equal((await postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN })).status, 200);
  });

  it('releases the slot after an upstream error', async () => {
    upstream.setBehavior({ kind: 'status', status: 500 });
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN });
    assert.equal(r.status, 502);
    assert.equal(gw.gateway.controls.admission.inFlight, 0);
    upstream.setBehavior({ kind: 'normal' });
    assert.equal((await postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN })).status, 200);
  });

  it('a client that drops a stream aborts the upstream call and frees the slot', async () => {
    upstream.setBehavior({ kind: 'slow', gapMs: 200 });
    const abortsBefore = upstream.abortedCount;
    const controller = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat({ stream: true })),
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    assert.match(Buffer.from(value!).toString(), /event: token/);
    controller.abort();
    await upstream.waitForAborts(abortsBefore + 1);
    await until(() => gw.gateway.controls.admission.inFlight === 0, 'the slot to be released');
    upstream.setBehavior({ kind: 'normal' });
    assert.equal((await postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN })).status, 200);
    await until(() => gw.logs.some((l) => l.includes('"code":"client_closed_request"')), 'the request log line');
  });

  it('a client that gives up on a finite request aborts the upstream call too', async () => {
    upstream.setBehavior({ kind: 'delay', ms: 1500 });
    const abortsBefore = upstream.abortedCount;
    const controller = new AbortController();
    const pending = postJson(`${gw.publicUrl}/v1/chat`, chat(), { token: TOKEN, signal: controller.signal }).catch(
      (e: Error) => e,
    );
    await until(() => gw.gateway.controls.admission.inFlight === 1, 'admission');
    controller.abort();
    assert.ok((await pending) instanceof Error);
    await upstream.waitForAborts(abortsBefore + 1);
    await until(() => gw.gateway.controls.admission.inFlight === 0, 'the slot to be released');
    upstream.setBehavior({ kind: 'normal' });
  });
});
