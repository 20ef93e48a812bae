/**
 * Provider targets behind a real gateway (public HTTP API on loopback):
 * upstream faults become the documented statuses (docs/api.md#errors) and `event: error` frames, the
 * client's request id reaches the upstream, a client disconnect reaches the
 * upstream as a closed connection, and no provider key ever shows up in a
 * response or a log line.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';

const TOKEN = 'tok-providers-test-123456';

describe('provider targets through the gateway', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gw: TestGateway;
  let secrets: string[];
  const url = (op: string) => `${gw.publicUrl}/v1/${op}`;
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });

  before(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-through-gateway-secret' });
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-through-gateway-secret' });
    secrets = [openai.apiKey, anthropic.apiKey, TOKEN];
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tester"
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
# Generous: every test but the two stalls expects an answer (a loaded machine must not time it out).
timeout_seconds = 3
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
correlation_header = "x-request-id"
timeout_seconds = 5
`,
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-providers-1', T: TOKEN, OPENAI_KEY: openai.apiKey, ANTHROPIC_KEY: anthropic.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await anthropic?.close();
  });
  let rawFrom = 0;
  beforeEach(() => {
    openai.setBehavior({ kind: 'normal' });
    anthropic.setBehavior({ kind: 'normal' });
    openai.setReply({});
    rawFrom = gw.rawLogs.length;
  });

  const assertNoSecret = (text: string) => {
    for (const s of secrets) assert.ok(!text.includes(s), 'response leaks a secret');
  };
  /** This test's log lines as the code wrote them, before the scrubber: no secret may be in them at all. */
  const assertNothingLeakedRaw = () => {
    const raw = gw.rawLogs.slice(rawFrom).join('\n');
    assert.ok(raw.length > 0, 'the raw log tap saw lines');
    for (const s of secrets) assert.ok(!raw.includes(s), 'the code logged a secret (caught before the scrubber)');
  };
  const lastRequestLine = () => JSON.parse(gw.logs.filter((l) => JSON.parse(l).msg === 'request').at(-1)!);

  it('answers an anthropic chat and streams it as token / usage / done frames', async () => {
    const finite = await postJson(url('chat'), chat('claude'), { token: TOKEN });
    assert.equal(finite.status, 200);
    assert.deepEqual(finite.body, {
      id: 'msg_fake_01',
      model: 'claude',
      text: 'Hello from Claude',
      finish_reason: 'stop',
      usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
    });
    const streamed = await postJson(url('query'), { model: 'claude', prompt: 'hi', stream: true }, { token: TOKEN });
    assert.equal(streamed.status, 200);
    assert.deepEqual(parseSse(streamed.text), [
      { event: 'token', data: { text: 'Hello', sequence: 0 } },
      { event: 'token', data: { text: ' from', sequence: 1 } },
      { event: 'token', data: { text: ' Claude', sequence: 2 } },
      { event: 'usage', data: { input_tokens: 12, output_tokens: 3, total_tokens: 15 } },
      { event: 'done', data: { finish_reason: 'stop' } },
    ]);
  });

  it("forwards the client's x-request-id to the upstream under the correlation header", async () => {
    const before = anthropic.requests.length;
    const r = await postJson(url('chat'), chat('claude'), { token: TOKEN, headers: { 'x-request-id': 'client-req-42' } });
    assert.equal(r.status, 200);
    assert.equal(anthropic.requests[before]!.headers['x-request-id'], 'client-req-42');
  });

  it('rejects embed on an anthropic target with 400 invalid_request', async () => {
    const before = anthropic.requests.length;
    const r = await postJson(url('embed'), { model: 'claude', input: 'x' }, { token: TOKEN });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.match(r.body.error.message, /claude.*anthropic.*embed/);
    assert.equal(anthropic.requests.length, before);
  });

  it('embeds through an openai target', async () => {
    const r = await postJson(url('embed'), { model: 'gpt', input: 'x' }, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.embedding, [0.25, -0.5, 0.125]);
    assert.equal(r.body.model, 'gpt');
  });

  it('turns an upstream 503 into a sanitized 502 upstream error naming the status, recorded as upstreamStatus', async () => {
    openai.setBehavior({
      kind: 'status',
      status: 503,
      body: `{"error":{"message":"key ${openai.apiKey} overloaded"}}`,
      headers: { 'x-echo-key': openai.apiKey },
    });
    const r = await postJson(url('chat'), chat('gpt'), { token: TOKEN });
    assert.equal(r.status, 502);
    assert.deepEqual(r.body, { error: { code: 'upstream', message: 'upstream failed (HTTP 503)' } });
    assert.equal(r.headers.get('x-echo-key'), null);
    assertNoSecret(r.text);
    assertNoSecret([...r.headers].join('\n'));
    const line = lastRequestLine();
    assert.equal(line.status, 502);
    assert.equal(line.upstreamStatus, 503);
    assertNothingLeakedRaw();
  });

  it('turns a refused-by-key 401 from the upstream into 502, not 401, naming the status', async () => {
    anthropic.setBehavior({
      kind: 'status',
      status: 401,
      body: `{"type":"error","error":{"message":"bad key ${anthropic.apiKey}"}}`,
    });
    const r = await postJson(url('chat'), chat('claude'), { token: TOKEN });
    assert.equal(r.status, 502);
    assert.deepEqual(r.body, { error: { code: 'upstream', message: 'upstream rejected the request (HTTP 401)' } });
    assert.equal(r.headers.get('www-authenticate'), null);
    assertNoSecret(r.text);
    assertNothingLeakedRaw();
  });

  for (const stream of [false, true]) {
    it(`turns a provider 429 into 429 upstream_rate_limited with its Retry-After (${stream ? 'stream, before the first byte' : 'finite'})`, async () => {
      openai.setBehavior({
        kind: 'status',
        status: 429,
        body: `{"error":{"message":"slow down ${openai.apiKey}"}}`,
        headers: { 'retry-after-ms': '2500' },
      });
      const r = await postJson(url('chat'), chat('gpt', { stream }), { token: TOKEN });
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, 'upstream_rate_limited');
      assert.match(r.body.error.message, /HTTP 429/);
      assert.equal(r.headers.get('retry-after'), '3');
      assertNoSecret(r.text);
      const line = lastRequestLine();
      assert.equal(line.code, 'upstream_rate_limited');
      assert.equal(line.upstreamStatus, 429);
      assertNothingLeakedRaw();
    });
  }

  it('caps a provider Retry-After at 300 seconds', async () => {
    anthropic.setBehavior({ kind: 'status', status: 429, headers: { 'retry-after': '3600' } });
    const r = await postJson(url('chat'), chat('claude'), { token: TOKEN });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '300');
  });

  it('ends a stream whose upstream reports no usage with done (no usage frame)', async () => {
    openai.setReply({ omitUsage: true });
    const r = await postJson(url('chat'), chat('gpt', { stream: true }), { token: TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(parseSse(r.text), [
      { event: 'token', data: { text: 'Gate', sequence: 0 } },
      { event: 'token', data: { text: 'way', sequence: 1 } },
      { event: 'token', data: { text: ' ready', sequence: 2 } },
      { event: 'done', data: { finish_reason: 'stop' } },
    ]);
    const line = lastRequestLine();
    assert.equal(line.status, 200);
    assert.equal(line.outputTokens, 3, 'output tokens counted from the token frames');
  });

  it('sends streams with X-Accel-Buffering: no (so nginx does not buffer them)', async () => {
    const r = await postJson(url('chat'), chat('claude', { stream: true }), { token: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-accel-buffering'), 'no');
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  });

  it('turns an upstream past timeout_seconds into 504 upstream_timeout', async () => {
    openai.setBehavior({ kind: 'stall-headers' });
    const r = await postJson(url('chat'), chat('gpt'), { token: TOKEN });
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assertNoSecret(r.text);
  });

  it('turns a stream that fails before its first token into a JSON error', async () => {
    openai.setBehavior({ kind: 'status', status: 500 });
    const r = await postJson(url('chat'), chat('gpt', { stream: true }), { token: TOKEN });
    assert.equal(r.status, 502);
    assert.deepEqual(r.body, { error: { code: 'upstream', message: 'upstream failed (HTTP 500)' } });
    assertNothingLeakedRaw();
  });

  it('ends a stream reset mid-way with an event: error frame after the tokens', async () => {
    openai.setBehavior({ kind: 'reset', afterChunks: 3 });
    const r = await postJson(url('chat'), chat('gpt', { stream: true }), { token: TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(parseSse(r.text), [
      { event: 'token', data: { text: 'Gate', sequence: 0 } },
      { event: 'token', data: { text: 'way', sequence: 1 } },
      { event: 'error', data: { error: { code: 'upstream', message: 'upstream stream ended unexpectedly' } } },
    ]);
    assertNoSecret(r.text);
    assertNothingLeakedRaw();
  });

  it('ends a stream stalled mid-way with an upstream_timeout error frame', async () => {
    openai.setBehavior({ kind: 'stall', afterChunks: 2 });
    const r = await postJson(url('chat'), chat('gpt', { stream: true }), { token: TOKEN });
    const events = parseSse(r.text);
    assert.deepEqual(events[0], { event: 'token', data: { text: 'Gate', sequence: 0 } });
    assert.equal(events.at(-1)!.event, 'error');
    assert.equal(events.at(-1)!.data.error.code, 'upstream_timeout');
  });

  it('ends an anthropic stream with an error frame when the upstream sends an error event', async () => {
    anthropic.setBehavior({ kind: 'provider-error', afterChunks: 4 });
    const r = await postJson(url('chat'), chat('claude', { stream: true }), { token: TOKEN });
    assert.deepEqual(parseSse(r.text), [
      { event: 'token', data: { text: 'Hello', sequence: 0 } },
      {
        event: 'error',
        data: { error: { code: 'upstream', message: 'upstream reported an error mid-stream (overloaded_error)' } },
      },
    ]);
  });

  it('closes the anthropic upstream connection when the client disconnects mid-stream', async () => {
    anthropic.setBehavior({ kind: 'stall', afterChunks: 4 });
    const abortsBefore = anthropic.abortedCount;
    const controller = new AbortController();
    const res = await fetch(url('chat'), {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat('claude', { stream: true })),
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    assert.match(Buffer.from(value!).toString(), /event: token/);
    controller.abort();
    await anthropic.waitForAborts(abortsBefore + 1);
  });

  it('no provider key or token is in any log line of this suite, before or after the scrubber', () => {
    for (const lines of [gw.rawLogs, gw.logs]) {
      const all = lines.join('\n');
      for (const s of secrets) assert.ok(!all.includes(s), 'a log line leaks a secret');
    }
  });
});
