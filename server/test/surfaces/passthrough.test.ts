/**
 * Same API in, same API out (docs/api.md#pass-through), with the official
 * SDKs unchanged against fake providers that record what they receive: the
 * body arrives exactly as the client sent it (only `model` rewritten) with the
 * Anthropic version and beta headers, answers and every stream frame come back
 * as the provider sent them (only `model` renamed), and a provider's error
 * keeps its status, type, message and Retry-After without moving the circuit
 * or falling over to another member (a 4xx), while a group member of another
 * API still gets the translated request.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { requestRecords } from './setup.js';

const TOKEN = 'tok-passthrough-0123456789';

/** SSE text → frames: [event name or null, parsed data]. */
function frames(text: string): Array<[string | null, any]> {
  return text
    .split('\n\n')
    .filter((f) => f.trim().length > 0)
    .map((f) => {
      const event = /^event: (.*)$/m.exec(f)?.[1] ?? null;
      const data = f
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return [event, data === '[DONE]' ? data : JSON.parse(data)];
    });
}

describe('pass-through: same API in, same API out', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAI;
  let gw: TestGateway;
  let claude: Anthropic;
  let gpt: OpenAI;

  before(async () => {
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-passthrough-secret-1' });
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-passthrough-secret-2' });
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "agent"
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
timeout_seconds = 5
[targets.circuit]
failure_threshold = 1
open_seconds = 600
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-upstream"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 5
[targets.circuit]
failure_threshold = 1
open_seconds = 600
[[targets]]
name = "claude-nocircuit"
type = "anthropic"
model = "claude-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
timeout_seconds = 5
[[groups]]
name = "mixed"
targets = ["claude", "gpt"]
`,
      env: {
        TEST_ADMIN_PASSWORD: 'pw-passthrough-0123456789',
        T: TOKEN,
        ANTHROPIC_KEY: anthropic.apiKey,
        OPENAI_KEY: openai.apiKey,
      },
    });
    claude = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
    gpt = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await anthropic?.close();
    await openai?.close();
  });
  beforeEach(() => {
    anthropic.setBehavior({ kind: 'normal' });
    openai.setBehavior({ kind: 'normal' });
  });

  /** What Claude Code sends: every field the gateway does not itself understand. */
  const claudeCodeBody = (stream: boolean): Record<string, unknown> => ({
    model: 'claude',
    max_tokens: 64,
    system: [
      { type: 'text', text: 'You are an agent.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Be brief.' },
    ],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'hm', signature: 'sig-1' },
          { type: 'text', text: 'hello' },
        ],
      },
      { role: 'system', content: 'a system note inside messages' },
      { role: 'user', content: 'go on' },
    ],
    thinking: { type: 'adaptive' },
    context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
    output_config: { effort: 'high' },
    metadata: { user_id: 'session-42' },
    tools: [
      {
        name: 'Read',
        description: 'read a file',
        input_schema: { type: 'object', properties: {} },
        cache_control: { type: 'ephemeral' },
        eager_input_streaming: true,
      },
    ],
    service_tier: 'auto',
    a_future_field: { nested: [1, 2, 3] },
    stream,
  });

  it('Anthropic Messages → anthropic target: the body and beta headers arrive exactly as sent (only model rewritten)', async () => {
    const body = claudeCodeBody(false);
    const { data, response } = await claude.messages
      .create(body as any, {
        headers: {
          'anthropic-beta': 'context-management-2025-06-27,interleaved-thinking-2025-05-14',
          'anthropic-version': '2023-06-01-client',
        },
      })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.model, 'claude', 'the answer names the model the client asked for');
    assert.deepEqual(data.content, [{ type: 'text', text: 'Hello from Claude' }]);
    assert.equal(response.headers.get('x-sipp-ignored'), null, 'nothing is ignored on the same API');
    const got = anthropic.requests.at(-1)!;
    assert.deepEqual(got.body, { ...body, model: 'claude-upstream' });
    assert.deepEqual(Object.keys(got.body), Object.keys(body), 'fields keep their order');
    assert.equal(got.headers['anthropic-beta'], 'context-management-2025-06-27,interleaved-thinking-2025-05-14');
    assert.equal(got.headers['anthropic-version'], '2023-06-01-client', "the client's anthropic-version wins");
    assert.equal(got.headers['x-api-key'], anthropic.apiKey, "the target's own credential, never the client's token");
    const rec = requestRecords(gw).at(-1);
    assert.equal(rec.inputTokens, 12);
    assert.equal(rec.outputTokens, 3);
  });

  it("without the client's anthropic-version the target's default is sent", async () => {
    const res = await fetch(`${gw.publicUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(anthropic.requests.at(-1)!.headers['anthropic-version'], '2023-06-01');
    assert.equal(anthropic.requests.at(-1)!.headers['anthropic-beta'], undefined);
  });

  it('Anthropic stream: every frame relayed as the provider sent it, only message_start.message.model renamed; the SDK completes', async () => {
    const body = claudeCodeBody(true);
    const direct = await fetch(`${anthropic.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': anthropic.apiKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, model: 'claude-upstream' }),
    });
    const expected = frames(await direct.text());
    (expected[0]![1] as any).message.model = 'claude';
    const res = await fetch(`${gw.publicUrl}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': TOKEN,
        'content-type': 'application/json',
        'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14',
      },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.deepEqual(frames(await res.text()), expected);
    assert.deepEqual(anthropic.requests.at(-1)!.body, { ...body, model: 'claude-upstream' });
    assert.equal(anthropic.requests.at(-1)!.headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14');
    const rec = requestRecords(gw).at(-1);
    assert.equal(rec.stream, true);
    assert.equal(rec.inputTokens, 12);
    assert.equal(rec.outputTokens, 3);
    const final = await claude.messages.stream(body as any).finalMessage();
    assert.equal(final.model, 'claude');
    assert.deepEqual(final.content, [{ type: 'text', text: 'Hello from Claude' }]);
  });

  it('Chat Completions → openai target: every field arrives as sent; finite and streamed answers come back as sent', async () => {
    const body = {
      model: 'gpt',
      messages: [
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ],
      max_completion_tokens: 20,
      reasoning_effort: 'low',
      service_tier: 'flex',
      prompt_cache_key: 'agent-7',
      store: true,
      metadata: { run: '1' },
      n: 1,
      logprobs: false,
      verbosity: 'low',
      a_future_field: true,
    };
    const r = await gpt.chat.completions.create(body as any);
    assert.equal(r.model, 'gpt');
    assert.equal(r.choices[0]!.message.content, 'Gateway ready');
    assert.deepEqual(openai.requests.at(-1)!.body, { ...body, model: 'gpt-upstream' });

    const streamBody = { ...body, stream: true, stream_options: { include_usage: true } };
    const direct = await fetch(`${openai.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openai.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...streamBody, model: 'gpt-upstream' }),
    });
    const expected = frames(await direct.text()).map(([e, d]) => [e, d === '[DONE]' ? d : { ...d, model: 'gpt' }]);
    const res = await fetch(`${gw.publicUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(streamBody),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(frames(await res.text()), expected);
    assert.deepEqual(openai.requests.at(-1)!.body, { ...streamBody, model: 'gpt-upstream' });
    const rec = requestRecords(gw).at(-1);
    assert.equal(rec.inputTokens, 8);
    assert.equal(rec.outputTokens, 3);
    const chunks: string[] = [];
    for await (const c of (await gpt.chat.completions.create({ ...streamBody, stream: true } as any)) as any)
      chunks.push((c as any).choices[0]?.delta?.content ?? '');
    assert.equal(chunks.join(''), 'Gateway ready');
  });

  it('provider errors keep their status, type, message and Retry-After (400, 429, 529), with the key scrubbed; a 4xx moves no circuit and does not fall over', async () => {
    anthropic.queueBehaviors({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        type: 'error',
        error: { type: 'invalid_request_error', message: `context_management: bad edit (key ${anthropic.apiKey})` },
      }),
    });
    const e400: any = await claude.messages
      .create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.ok(e400 instanceof Anthropic.BadRequestError);
    assert.equal(e400.status, 400);
    assert.deepEqual(e400.error, {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'context_management: bad edit (key [redacted])' },
    });
    // Threshold 1: had the 400 counted, the circuit would be open and the next call a 503.
    const okAfter = await claude.messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(okAfter.model, 'claude');

    anthropic.queueBehaviors({ kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    // (a 429 is retryable and counts for the circuit as ever: asked of a target without one)
    const e429: any = await claude.messages
      .create({ model: 'claude-nocircuit', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.ok(e429 instanceof Anthropic.RateLimitError);
    assert.equal(e429.headers.get('retry-after'), '7');
    assert.deepEqual(e429.error, { type: 'error', error: { type: 'rate_limit_error', message: 'fake upstream error 429' } });

    anthropic.queueBehaviors({ kind: 'status', status: 529 });
    const d529: any = await claude.messages
      .create({ model: 'claude-nocircuit', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.equal(d529.status, 529);
    assert.deepEqual(d529.error, { type: 'error', error: { type: 'overloaded_error', message: 'fake upstream error 529' } });

    // A 4xx on a group member is the answer: no fallback to the openai member.
    anthropic.queueBehaviors({ kind: 'status', status: 400 });
    const before = openai.requests.length;
    const g400: any = await claude.messages
      .create({ model: 'mixed', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.equal(g400.status, 400);
    assert.equal(g400.error.error.message, 'fake upstream error 400');
    assert.equal(openai.requests.length, before, 'no fallback on a 4xx');

    openai.setBehavior({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: {
          message: "Unsupported value: 'verbosity'",
          type: 'invalid_request_error',
          param: 'verbosity',
          code: 'unsupported_value',
        },
      }),
    });
    const o400: any = await gpt.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.ok(o400 instanceof OpenAI.BadRequestError);
    assert.equal(o400.param, 'verbosity');
    assert.equal(o400.code, 'unsupported_value');
    assert.equal(o400.message, "400 Unsupported value: 'verbosity'");
    openai.setBehavior({ kind: 'normal' });
    assert.equal(
      (await gpt.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })).model,
      'gpt',
      'the circuit stayed closed',
    );

    // 529 (overloaded) is a 5xx: it stays 529 for a direct request, and a group falls over to its next member (translated).
    anthropic.setBehavior({ kind: 'status', status: 529 });
    const g = await claude.messages
      .create({ model: 'mixed', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(g.response.headers.get('x-sipp-target'), 'gpt');
    assert.deepEqual(g.data.content, [{ type: 'text', text: 'Gateway ready' }]);
    const e529: any = await claude.messages
      .create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.equal(e529.status, 503, 'the 529 in the group opened the circuit (threshold 1): a 5xx counts');
  });

  it('a provider 401 is the gateway credential: 502 upstream, not the provider answer', async () => {
    openai.setBehavior({ kind: 'status', status: 401 });
    const e: any = await gpt.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x) => x);
    assert.equal(e.status, 502);
    assert.equal(e.code, 'upstream');
    for (const s of [anthropic.apiKey, openai.apiKey]) assert.ok(!JSON.stringify(e.error).includes(s));
  });
});
