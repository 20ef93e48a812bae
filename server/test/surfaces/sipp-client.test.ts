/**
 * The Sipp project's own Rust client against the Sipp routes (issue 8): its
 * exact default bodies (`null` for every unset option, `stop: []`, flattened
 * endpoint options, f32-widened numbers) are accepted on every target type,
 * finite and streaming; no `null` reaches a provider; ranges follow what each
 * target takes and fail in the gateway as a 400 naming the field; and the
 * stream parses the way that client parses it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { readLikeSippClient, SippProtocolError } from './sipp-client-sse.js';

const TOKEN = 'tok-sipp-client-test-0123456';

/** serde_json output of the client's QueryBody / ChatBody with default options. */
const queryBody = (model: string, stream: boolean) =>
  `{"model":"${model}","prompt":"hi","max_tokens":null,"temperature":null,"top_p":null,"stop":[],"stream":${stream}}`;
const chatBody = (model: string, stream: boolean, options = '') =>
  `{"model":"${model}","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":null,"temperature":null,"top_p":null,"stop":[],"stream":${stream}${options}}`;

function hasNull(value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.some(hasNull);
  if (typeof value === 'object') return Object.values(value as object).some(hasNull);
  return false;
}

describe('the Sipp Rust client against the Sipp routes', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gw: TestGateway;
  const url = (op: string) => `${gw.publicUrl}/v1/${op}`;

  before(async () => {
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "rust-client"
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
[[targets]]
name = "compat"
type = "openai_compatible"
model = "m"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
`,
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-sipp-client-1',
        T: TOKEN,
        OPENAI_KEY: openai.apiKey,
        ANTHROPIC_KEY: anthropic.apiKey,
      },
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await anthropic?.close();
  });

  const lastUpstreamBody = (model: string) => (model === 'claude' ? anthropic : openai).requests.at(-1)!.body;

  for (const model of ['gpt', 'compat', 'claude']) {
    it(`accepts the client's default query and chat on ${model}, finite and streaming, forwarding no null`, async () => {
      for (const [op, body] of [
        ['query', queryBody(model, false)],
        ['chat', chatBody(model, false)],
      ] as const) {
        const r = await postJson(url(op), body, { token: TOKEN });
        assert.equal(r.status, 200, r.text);
        assert.equal(typeof r.body.text, 'string');
        const sent = lastUpstreamBody(model);
        assert.ok(!hasNull(sent), `null forwarded: ${JSON.stringify(sent)}`);
        assert.ok(!('temperature' in sent) && !('top_p' in sent) && !('stop' in sent) && !('stop_sequences' in sent));
      }
      for (const [op, body] of [
        ['query', queryBody(model, true)],
        ['chat', chatBody(model, true)],
      ] as const) {
        const r = await postJson(url(op), body, { token: TOKEN });
        assert.equal(r.status, 200, r.text);
        const parsed = readLikeSippClient(r.text);
        assert.ok(parsed.text.length > 0);
        assert.ok(parsed.usage);
        assert.deepEqual(parsed.events.slice(-2), ['usage', 'done']);
        assert.ok(!hasNull(lastUpstreamBody(model)));
      }
    });
  }

  it('tolerates flattened endpoint options and f32-widened numbers, forwarding the numbers as sent', async () => {
    const body = chatBody('gpt', false, ',"seed":7,"user":"x"')
      .replace('"temperature":null', '"temperature":0.699999988079071')
      .replace('"top_p":null', '"top_p":0.8999999761581421')
      .replace('"max_tokens":null', '"max_tokens":64')
      .replace('"stop":[]', '"stop":["\\n"]');
    const r = await postJson(url('chat'), body, { token: TOKEN });
    assert.equal(r.status, 200, r.text);
    const sent = openai.requests.at(-1)!.body;
    assert.equal(sent.temperature, 0.699999988079071);
    assert.equal(sent.top_p, 0.8999999761581421);
    assert.equal(sent.max_completion_tokens, 64);
    assert.deepEqual(sent.stop, ['\n']);
    // Sipp-route extras are tolerated, never forwarded.
    assert.ok(!('seed' in sent) && !('user' in sent));
    const embed = await postJson(url('embed'), '{"model":"gpt","input":"vector me","dimensions":null}', { token: TOKEN });
    assert.equal(embed.status, 200, embed.text);
  });

  it('takes top_p 0 and 1 (range [0, 1]) and refuses values outside it', async () => {
    for (const top_p of [0, 1]) {
      const r = await postJson(url('query'), { model: 'gpt', prompt: 'hi', top_p }, { token: TOKEN });
      assert.equal(r.status, 200, r.text);
      assert.equal(openai.requests.at(-1)!.body.top_p, top_p);
    }
    for (const top_p of [-0.01, 1.01]) {
      const r = await postJson(url('query'), { model: 'gpt', prompt: 'hi', top_p }, { token: TOKEN });
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, /^top_p: /);
    }
  });

  it('checks temperature per target type: 0-1 on anthropic, 0-2 on openai, as a 400 naming the field', async () => {
    const sent = openai.requests.length + anthropic.requests.length;
    const claude = await postJson(
      url('chat'),
      { model: 'claude', messages: [{ role: 'user', content: 'hi' }], temperature: 1.5 },
      { token: TOKEN },
    );
    assert.equal(claude.status, 400);
    assert.equal(claude.body.error.code, 'invalid_request');
    assert.match(claude.body.error.message, /^temperature: must be between 0 and 1 for .*anthropic/);
    assert.equal(openai.requests.length + anthropic.requests.length, sent, 'refused before any upstream call');
    const ok = await postJson(
      url('chat'),
      { model: 'claude', messages: [{ role: 'user', content: 'hi' }], temperature: 1 },
      { token: TOKEN },
    );
    assert.equal(ok.status, 200);
    const gpt = await postJson(
      url('chat'),
      { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], temperature: 1.5 },
      { token: TOKEN },
    );
    assert.equal(gpt.status, 200);
    const tooHot = await postJson(
      url('chat'),
      { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], temperature: 2.01 },
      { token: TOKEN },
    );
    assert.equal(tooHot.status, 400);
    assert.match(tooHot.body.error.message, /^temperature: /);
  });

  it('refuses more than 4 stop strings on an openai target (400 naming stop) but not on others', async () => {
    const stop = ['a', 'b', 'c', 'd', 'e'];
    const gpt = await postJson(url('query'), { model: 'gpt', prompt: 'hi', stop }, { token: TOKEN });
    assert.equal(gpt.status, 400);
    assert.match(gpt.body.error.message, /^stop: at most 4 stop .*openai/);
    const four = await postJson(url('query'), { model: 'gpt', prompt: 'hi', stop: stop.slice(0, 4) }, { token: TOKEN });
    assert.equal(four.status, 200);
    for (const model of ['compat', 'claude']) {
      const r = await postJson(url('query'), { model, prompt: 'hi', stop }, { token: TOKEN });
      assert.equal(r.status, 200, `${model}: ${r.text}`);
    }
  });

  it('the stream has only named token/usage/done events with JSON data: no unnamed data frames, no keep-alive data', async () => {
    for (const model of ['gpt', 'claude']) {
      const r = await postJson(url('chat'), chatBody(model, true), { token: TOKEN });
      const blocks = r.text.split('\n\n').filter((b) => b.length > 0);
      assert.ok(r.text.endsWith('\n\n'));
      for (const block of blocks) {
        const lines = block.split('\n');
        assert.equal(lines.length, 2, block);
        assert.match(lines[0]!, /^event: (token|usage|done)$/);
        assert.match(lines[1]!, /^data: \{.*\}$/);
      }
      assert.equal(readLikeSippClient(r.text).finishReason, 'stop');
    }
  });

  it('the Sipp stream and JSON bodies are byte for byte what they were', async () => {
    const r = await postJson(
      url('chat'),
      { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { token: TOKEN },
    );
    assert.equal(
      r.text,
      'event: token\ndata: {"text":"Gate","sequence":0}\n\n' +
        'event: token\ndata: {"text":"way","sequence":1}\n\n' +
        'event: token\ndata: {"text":" ready","sequence":2}\n\n' +
        'event: usage\ndata: {"input_tokens":8,"output_tokens":3,"total_tokens":11}\n\n' +
        'event: done\ndata: {"finish_reason":"stop"}\n\n',
    );
    const finite = await postJson(url('chat'), { model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, { token: TOKEN });
    assert.equal(
      finite.text,
      '{"id":"chatcmpl-fake-1","model":"gpt","text":"Gateway ready","finish_reason":"stop","usage":{"input_tokens":8,"output_tokens":3,"total_tokens":11}}',
    );
    const bad = await postJson(url('chat'), { model: 'gpt', messages: [] }, { token: TOKEN });
    assert.equal(
      bad.text,
      '{"error":{"code":"invalid_request","message":"messages: Too small: expected array to have >=1 items"}}',
    );
  });

  it('the reader itself refuses what the client refuses (so the checks above can fail)', () => {
    assert.throws(
      () => readLikeSippClient('data: {"text":"x"}\n\nevent: done\ndata: {"finish_reason":"stop"}\n\n'),
      SippProtocolError,
    );
    assert.throws(
      () => readLikeSippClient('event: ping\ndata: {}\n\nevent: done\ndata: {"finish_reason":"stop"}\n\n'),
      SippProtocolError,
    );
    assert.throws(() => readLikeSippClient('event: token\ndata: keep-alive\n\n'), SippProtocolError);
    assert.throws(() => readLikeSippClient('event: token\ndata: {"text":"x"}\n\n'), SippProtocolError);
    assert.throws(
      () => readLikeSippClient('event: usage\ndata: {"input_tokens":-1}\n\nevent: done\ndata: {}\n\n'),
      SippProtocolError,
    );
    assert.equal(readLikeSippClient(': comment\n\nevent: done\ndata: {"finish_reason":"length"}\n\n').finishReason, 'length');
  });
});
