/**
 * Native Responses targets (`api = "responses"`, docs/api.md#native-responses-targets)
 * with the official `openai` client unchanged, against a fake Responses API
 * that records what it receives and keeps what it makes: the body arrives as
 * sent (only `model` rewritten), stream frames are relayed frame for frame,
 * provider errors keep status, type, message and Retry-After; chaining,
 * retrieve, input_items and delete reach the target that made the response
 * and stay private to the token that made it; `store: false` leaves nothing
 * to claim; server-side tools go as sent to a native target and are ignored
 * (named) or refused (when required) by a translated one; a chain continues
 * on a second replica over Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import {
  nativeResponsesTarget,
  startFakeResponsesApi,
  UPSTREAM_MODEL,
  type FakeResponsesApi,
} from '../support/fake-openai-responses.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const TOKEN_A = 'tok-native-responses-a-0123456789';
const TOKEN_B = 'tok-native-responses-b-9876543210';

const toml = (url: string, extra = ''): string => `${BASE_TOML}
${extra}
[[tokens]]
env = "T_A"
caller = "alice"
[[tokens]]
env = "T_B"
caller = "bob"
${nativeResponsesTarget(url)}${nativeResponsesTarget(url, 'native2', 'openai_compatible')}[[targets]]
name = "chatonly"
type = "openai"
model = "${UPSTREAM_MODEL}"
api_key_env = "UPSTREAM_KEY"
base_url = "${url}"
timeout_seconds = 10
`;

const env = (fake: FakeResponsesApi, more: Record<string, string> = {}) => ({
  TEST_ADMIN_PASSWORD: 'admin-pw-native-responses',
  T_A: TOKEN_A,
  T_B: TOKEN_B,
  UPSTREAM_KEY: fake.apiKey,
  ...more,
});

describe('native Responses targets (api = "responses")', () => {
  let fake: FakeResponsesApi;
  let gw: TestGateway;
  let alice: OpenAI;
  let bob: OpenAI;

  before(async () => {
    fake = await startFakeResponsesApi();
    gw = await startTestGateway({ toml: toml(fake.url), env: env(fake) });
    alice = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN_A, maxRetries: 0 });
    bob = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN_B, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  const last = () => fake.requests.at(-1)!;

  it('finite: the body arrives as sent, only model rewritten; the answer comes back with the name asked', async () => {
    const body = {
      model: 'native',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      instructions: 'Be brief.',
      tools: [
        { type: 'web_search' },
        { type: 'function', name: 'f', parameters: { type: 'object', properties: {} }, strict: true },
      ],
      include: ['reasoning.encrypted_content'],
      reasoning: { effort: 'high', summary: 'auto' },
      prompt_cache_key: 'pck-1',
      store: true,
      service_tier: 'flex',
      a_future_field: { nested: [1, 'two', null] },
    };
    const before = fake.requests.length;
    const { data: r, response } = await alice.responses.create(body as any).withResponse();
    assert.equal(fake.requests.length, before + 1);
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/v1/responses');
    assert.deepEqual(last().body, { ...body, model: UPSTREAM_MODEL });
    assert.equal(response.headers.get('x-sipp-target'), 'native');
    assert.equal(response.headers.get('x-sipp-ignored'), null);
    assert.match(r.id, /^resp_native_/);
    assert.equal(r.model, 'native');
    assert.equal(r.output_text, 'Native hello');
    assert.equal(r.usage?.input_tokens, 11);
  });

  it('stream: every frame relayed as the provider sent it (only model renamed); responses.stream() completes', async () => {
    const res = await fetch(`${gw.publicUrl}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'native', input: 'stream please', stream: true }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const sent = fake.sentStreams.at(-1)!;
    assert.equal(text, sent.replaceAll(`"model":"${UPSTREAM_MODEL}"`, '"model":"native"'));
    assert.ok(text.includes('event: response.output_text.delta'));

    const stream = alice.responses.stream({ model: 'native', input: 'again' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    assert.equal(deltas.join(''), 'Native hello');
    assert.equal(final.output_text, 'Native hello');
    assert.equal(final.model, 'native');
    assert.equal(last().body.stream, true);
  });

  it('chaining: previous_response_id goes to the provider as sent, only for the token that made it and on that target', async () => {
    const r1 = await alice.responses.create({ model: 'native', input: 'one' });
    const r2 = await alice.responses.create({ model: 'native', input: 'two', previous_response_id: r1.id });
    assert.equal(last().body.previous_response_id, r1.id);
    assert.equal(r2.previous_response_id, r1.id);
    assert.equal(r2.usage?.input_tokens, 13, 'the provider saw the chain');

    // Streamed, then chained right after finalResponse().
    const s = await alice.responses.stream({ model: 'native', input: 'three', previous_response_id: r2.id }).finalResponse();
    const r4 = await alice.responses.create({ model: 'native', input: 'four', previous_response_id: s.id });
    assert.equal(r4.previous_response_id, s.id);

    const before = fake.requests.length;
    // Another token: the same answer as an unknown id, and nothing reaches the provider.
    await assert.rejects(
      bob.responses.create({ model: 'native', input: 'steal', previous_response_id: r1.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );
    // Another native target (same provider even): the chain belongs to the target that made it.
    await assert.rejects(
      alice.responses.create({ model: 'native2', input: 'elsewhere', previous_response_id: r1.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );
    // A translated target cannot see the provider's chain.
    await assert.rejects(
      alice.responses.create({ model: 'chatonly', input: 'elsewhere', previous_response_id: r1.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );
    assert.equal(fake.requests.length, before);
  });

  it('retrieve, input_items and delete reach the target that made the response; another token gets 404', async () => {
    const r = await alice.responses.create({ model: 'native', input: 'keep me' });
    const got = await alice.responses.retrieve(r.id);
    assert.equal(last().method, 'GET');
    assert.equal(last().url, `/v1/responses/${r.id}`);
    assert.equal(got.id, r.id);
    assert.equal(got.model, 'native');
    assert.equal(got.output_text, 'Native hello');

    const items = await alice.responses.inputItems.list(r.id, { limit: 5, order: 'asc' });
    assert.equal(last().url, `/v1/responses/${r.id}/input_items?limit=5&order=asc`);
    assert.equal((items.data[0] as any).content[0].text, 'keep me');

    const before = fake.requests.length;
    await assert.rejects(bob.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(bob.responses.inputItems.list(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(bob.responses.delete(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    assert.equal(fake.requests.length, before, 'another token reaches nothing upstream');
    assert.ok(fake.kept.has(r.id));

    await alice.responses.delete(r.id);
    assert.equal(last().method, 'DELETE');
    assert.equal(last().url, `/v1/responses/${r.id}`);
    assert.ok(!fake.kept.has(r.id));
    const after = fake.requests.length;
    await assert.rejects(alice.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    assert.equal(fake.requests.length, after, 'a deleted response is forgotten by the gateway too');
  });

  it('retrieve with stream: true goes to the target that made the response; frames relayed as sent; another token gets 404', async () => {
    const r = await alice.responses.create({ model: 'native', input: 'stream it again' });
    const res = await fetch(`${gw.publicUrl}/v1/responses/${r.id}?stream=true&starting_after=2`, {
      headers: { authorization: `Bearer ${TOKEN_A}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('x-sipp-target'), 'native');
    const text = await res.text();
    assert.equal(last().method, 'GET');
    assert.equal(last().url, `/v1/responses/${r.id}?stream=true&starting_after=2`);
    assert.equal(text, fake.sentStreams.at(-1)!.replaceAll(`"model":"${UPSTREAM_MODEL}"`, '"model":"native"'));

    const stream = await alice.responses.retrieve(r.id, { stream: true });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    assert.equal(types.at(-1), 'response.completed');
    const final = await alice.responses.stream({ response_id: r.id }).finalResponse();
    assert.equal(final.output_text, 'Native hello');
    assert.equal(final.model, 'native');

    const before = fake.requests.length;
    await assert.rejects(bob.responses.retrieve(r.id, { stream: true }), (e: unknown) => e instanceof OpenAI.NotFoundError);
    assert.equal(fake.requests.length, before, 'another token reaches nothing upstream');
  });

  it('store: false: the gateway keeps no claim (nothing to retrieve or chain)', async () => {
    const r = await alice.responses.create({ model: 'native', input: 'forget me', store: false });
    assert.equal(last().body.store, false);
    const before = fake.requests.length;
    await assert.rejects(alice.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(
      alice.responses.create({ model: 'native', input: 'x', previous_response_id: r.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );
    assert.equal(fake.requests.length, before);
  });

  it('provider errors keep their status, type, message and Retry-After', async () => {
    fake.failNext({
      status: 429,
      headers: { 'retry-after': '7' },
      body: JSON.stringify({
        error: { message: 'Rate limit reached for gpt-x', type: 'rate_limit_exceeded', param: null, code: 'rate_limit_exceeded' },
      }),
    });
    await assert.rejects(alice.responses.create({ model: 'native', input: 'x' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal((e.error as any).type, 'rate_limit_exceeded');
      assert.equal((e.error as any).message, 'Rate limit reached for gpt-x');
      assert.equal(e.headers?.get('retry-after'), '7');
      return true;
    });
    fake.failNext({
      status: 400,
      body: JSON.stringify({
        error: {
          message: "Invalid value for 'reasoning.effort'.",
          type: 'invalid_request_error',
          param: 'reasoning.effort',
          code: null,
        },
      }),
    });
    await assert.rejects(alice.responses.create({ model: 'native', input: 'x' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal((e.error as any).param, 'reasoning.effort');
      assert.equal((e.error as any).message, "Invalid value for 'reasoning.effort'.");
      return true;
    });
    // Retrieve of a response the provider lost: its own 404.
    const r = await alice.responses.create({ model: 'native', input: 'lost' });
    fake.kept.delete(r.id);
    await assert.rejects(alice.responses.retrieve(r.id), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal((e.error as any).message, `No response with id '${r.id}' found.`);
      return true;
    });
  });

  it("a stream: the provider's own error events are relayed as sent; a 429 before the stream keeps its Retry-After", async () => {
    const failed = { id: 'resp_native_failed', object: 'response', status: 'failed', model: UPSTREAM_MODEL, output: [] };
    const sse =
      `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: { ...failed, status: 'in_progress' } })}\n\n` +
      `event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', sequence_number: 1, response: { ...failed, error: { code: 'server_error', message: 'upstream broke' } } })}\n\n` +
      `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 2, code: 'server_error', message: 'upstream broke', param: null })}\n\n`;
    fake.failNext({ status: 200, body: sse, headers: { 'content-type': 'text/event-stream' } });
    const res = await fetch(`${gw.publicUrl}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'native', input: 'x', stream: true }),
    });
    assert.equal(await res.text(), sse.replaceAll(`"model":"${UPSTREAM_MODEL}"`, '"model":"native"'));

    fake.failNext({ status: 200, body: sse, headers: { 'content-type': 'text/event-stream' } });
    // The SDK raises the provider's error event itself.
    await assert.rejects(
      alice.responses.stream({ model: 'native', input: 'x' }).finalResponse(),
      (e: any) => e?.message === 'upstream broke',
    );

    fake.failNext({
      status: 429,
      headers: { 'retry-after': '3' },
      body: JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_exceeded', param: null, code: null } }),
    });
    await assert.rejects(alice.responses.stream({ model: 'native', input: 'x' }).finalResponse(), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.headers?.get('retry-after'), '3');
      assert.equal((e.error as any).message, 'slow down');
      return true;
    });
  });

  it('a body only the provider understands still reaches a native target (the gateway does not parse it)', async () => {
    const body = { model: 'native', input: [{ type: 'item_reference', id: 'msg_x' }], background: false, conversation: null };
    await alice.responses.create(body as any);
    assert.deepEqual(last().body, { ...body, model: UPSTREAM_MODEL });
    // The same body to a translated target: the parse's refusal, nothing sent.
    const before = fake.requests.length;
    await assert.rejects(
      alice.responses.create({ ...body, model: 'chatonly' } as any),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /^input\.0/.test(String((e.error as any).param)),
    );
    assert.equal(fake.requests.length, before);
  });

  it('server-side tools: as sent to a native target; translated, ignored and named, or refused when a call is required', async () => {
    const tools = [
      { type: 'web_search' },
      { type: 'file_search', vector_store_ids: ['vs_1'] },
      { type: 'mcp', server_label: 's' },
    ];
    await alice.responses.create({ model: 'native', input: 'search', tools } as any);
    assert.deepEqual(last().body.tools, tools);

    const { data: r, response } = await alice.responses
      .create({
        model: 'chatonly',
        input: 'search',
        tools: [...tools, { type: 'function', name: 'f', parameters: { type: 'object' } }],
      } as any)
      .withResponse();
    assert.equal(last().url, '/v1/chat/completions');
    assert.deepEqual(
      last().body.tools.map((t: any) => t.function.name),
      ['f'],
    );
    assert.equal(response.headers.get('x-sipp-ignored'), 'file_search,mcp,web_search');
    assert.equal(r.output_text, 'via chat');

    const before = fake.requests.length;
    await assert.rejects(
      alice.responses.create({ model: 'chatonly', input: 'search', tools, tool_choice: 'required' } as any),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'tools.0',
    );
    await assert.rejects(
      alice.responses.create({ model: 'chatonly', input: 'search', tools, tool_choice: { type: 'web_search' } } as any),
      (e: unknown) => e instanceof OpenAI.BadRequestError && String((e.error as any).param).startsWith('tool_choice'),
    );
    assert.equal(fake.requests.length, before);
    const metrics = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    assert.match(metrics, /sipp_gateway_ignored_fields_total\{api="openai",field="web_search"\} [1-9]/);
  });
});

describe('a native chain continues on a second replica over Redis', () => {
  let redis: TestRedis;
  let fake: FakeResponsesApi;
  let gws: TestGateway[] = [];

  before(async () => {
    [redis, fake] = await Promise.all([startRedis(), startFakeResponsesApi()]);
    const text = toml(
      fake.url, // The longest command budget: a loaded machine must not turn a slow Redis reply into a 503.
      '[state]\nbackend = "redis"\nkey_prefix = "native-resp-test:"\ncommand_budget_ms = 1000',
    );
    const e = env(fake, { SIPP_GATEWAY_REDIS_URL: redis.url });
    gws = await Promise.all([startTestGateway({ toml: text, env: e }), startTestGateway({ toml: text, env: e })]);
  });
  after(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await fake?.close();
    await redis?.stop();
  });

  it('made on one replica; chained, retrieved and deleted on the other, for the same token only', async () => {
    const on = (i: number, token = TOKEN_A) => new OpenAI({ baseURL: `${gws[i]!.publicUrl}/v1`, apiKey: token, maxRetries: 0 });
    const r1 = await on(0).responses.create({ model: 'native', input: 'first' });
    const r2 = await on(1).responses.create({ model: 'native', input: 'second', previous_response_id: r1.id });
    assert.equal(fake.requests.at(-1)!.body.previous_response_id, r1.id);
    assert.equal((await on(1).responses.retrieve(r1.id)).id, r1.id);
    await assert.rejects(on(1, TOKEN_B).responses.retrieve(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await on(0).responses.delete(r2.id);
    await assert.rejects(on(1).responses.retrieve(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
  });
});
