/**
 * A finite pass-through answer (docs/api.md#pass-through) goes back to the
 * client as the provider's own text with only the top-level `model` replaced:
 * its whitespace, key order, unicode escapes, unknown fields and a `model`
 * inside a nested object or a string arrive as the provider wrote them, while
 * its usage is still read for the request record. The answer is read through
 * undici's dispatch callbacks (upstream-client.ts FiniteExchange): the
 * response cap still refuses an oversized answer and stops reading it, a
 * stalled upstream is still a 504 once the deadline runs out (before the
 * headers or mid-body), an error body past its 64 KiB read keeps its status,
 * and a client that leaves still aborts the upstream call at once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { until } from '../support/wait.js';

const TOKEN = 'tok-passthrough-finite-0123456789';
const MiB = 1024 * 1024;
/** Only stops a test that would otherwise hang; never a claim about speed. */
const WITHIN_MS = 60_000;

/** The provider's answer, byte for byte; `MODEL` stands for its top-level model. */
const ANSWER = `{
    "usage" : {"completion_tokens":7 ,  "prompt_tokens": 11,"total_tokens":18, "x_unknown": [1.50, 2e3]},
  "choices":[ {"index":0,"message":{"role":"assistant","content":"caf\\u00e9 \\"model\\": \\"gpt-upstream\\" é ✓"},
      "finish_reason":"stop", "logprobs" : null}],
  "model"   :   MODEL ,
  "z_provider_extra": {"model": "gpt-upstream", "b": 2, "a": 1},
  "id":"chatcmpl-raw-1",  "object":"chat.completion","created":1700000000
}
`;

const records = (gw: TestGateway): any[] => gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');

describe('pass-through: a finite answer goes back as the provider sent it', () => {
  let openai: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-passthrough-finite-1' });
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "agent"
[[targets]]
name = "gpt"
type = "openai_compatible"
model = "gpt-upstream"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 600
max_response_bytes = 65536
[[targets]]
name = "gpt-short"
type = "openai_compatible"
model = "gpt-upstream"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 1
`,
      env: { TEST_ADMIN_PASSWORD: 'pw-passthrough-finite-0123', T: TOKEN, OPENAI_KEY: openai.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
  });
  beforeEach(() => openai.setBehavior({ kind: 'normal' }));

  const send = (signal?: AbortSignal, model = 'gpt') =>
    fetch(`${gw.publicUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      signal,
    });

  it('the client receives the provider bytes with only the top-level model replaced, and its usage is recorded', async () => {
    openai.queueBehaviors({ kind: 'status', status: 200, body: ANSWER.replace('MODEL', '"gpt-upstream"') });
    const res = await send();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await res.text(), ANSWER.replace('MODEL', '"gpt"'));
    const rec = records(gw).at(-1);
    assert.equal(rec.status, 200);
    assert.equal(rec.inputTokens, 11);
    assert.equal(rec.outputTokens, 7);
  });

  it('an answer already naming the asked model is relayed untouched', async () => {
    const same = ANSWER.replace('MODEL', '"gpt"');
    openai.queueBehaviors({ kind: 'status', status: 200, body: same });
    const res = await send();
    assert.equal(res.status, 200);
    assert.equal(await res.text(), same);
  });

  it('an answer that is not JSON is 502 upstream, not relayed', async () => {
    openai.queueBehaviors({ kind: 'status', status: 200, body: '{"model": "gpt-upstream", "choices": [' });
    const res = await send();
    assert.equal(res.status, 502);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'upstream');
    assert.equal(body.error.message, 'upstream sent malformed JSON');
  });

  it('an answer over max_response_bytes is 502 upstream_too_large and is read no further', async () => {
    openai.setBehavior({ kind: 'oversize', bytes: 4 * MiB });
    const aborted = openai.abortedCount;
    const res = await send();
    assert.equal(res.status, 502);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'upstream_too_large');
    assert.equal(body.error.message, 'upstream answer larger than 65536 bytes');
    await openai.waitForAborts(aborted + 1, WITHIN_MS);
    assert.ok(openai.lastBulkBytes < 4 * MiB, `the fake sent the whole answer (${openai.lastBulkBytes} bytes)`);
  });

  it('an error answer longer than the 64 KiB read of an error body keeps its status and Retry-After', async () => {
    const long = JSON.stringify({ error: { message: 'x'.repeat(100 * 1024), type: 'rate_limit_error' } });
    openai.queueBehaviors({ kind: 'status', status: 429, body: long, headers: { 'retry-after': '3' } });
    const res = await send();
    assert.equal(res.status, 429, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), '3');
    assert.equal(((await res.json()) as any).error.code, 'upstream_rate_limited');
  });

  for (const [stall, what] of [
    ['stall-headers', 'no headers'],
    ['stall', 'half the body'],
  ] as const) {
    it(`an upstream that sends ${what} and stalls is 504 upstream_timeout once timeout_seconds ran out`, async () => {
      openai.setBehavior({ kind: stall });
      const aborted = openai.abortedCount;
      const res = await send(undefined, 'gpt-short');
      assert.equal(res.status, 504);
      const body = (await res.json()) as any;
      assert.equal(body.error.code, 'upstream_timeout');
      assert.equal(body.error.message, 'upstream did not answer within 1 s');
      await openai.waitForAborts(aborted + 1, WITHIN_MS);
    });
  }

  it('a client that leaves aborts the upstream call at once (long before the 600 s timeout)', async () => {
    openai.setBehavior({ kind: 'stall-headers' });
    const aborted = openai.abortedCount;
    const sent = openai.requests.length;
    const client = new AbortController();
    const pending = send(client.signal).catch((e: unknown) => e);
    await until(() => openai.requests.length > sent, 'the upstream to receive the request', WITHIN_MS);
    client.abort();
    assert.ok((await pending) instanceof Error);
    await openai.waitForAborts(aborted + 1, WITHIN_MS);
    await until(() => records(gw).at(-1)?.status === 499, 'the request record (499)', WITHIN_MS);
  });
});
