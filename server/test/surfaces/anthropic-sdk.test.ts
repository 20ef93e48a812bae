/**
 * The official `@anthropic-ai/sdk`, unchanged (only baseURL, apiKey,
 * maxRetries: 0), against the gateway's Anthropic Messages surface in front of
 * real fake providers: finite and streaming messages (raw events and the SDK's
 * `messages.stream().finalMessage()`), the Anthropic target and an OpenAI
 * target behind it, system prompts, x-api-key and Bearer, every error class,
 * and a client abort mid-stream.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { until } from '../support/wait.js';
import { requestRecords, RESTRICTED, startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

describe('Anthropic SDK against the Anthropic surface', () => {
  let rig: SurfaceRig;
  let client: Anthropic;
  const sdk = (apiKey: string) => new Anthropic({ baseURL: rig.anthropicBase, apiKey, maxRetries: 0 });
  const user = [{ role: 'user' as const, content: 'hi' }];

  before(async () => {
    rig = await startSurfaceRig();
    client = sdk(TOKEN);
  });
  after(async () => {
    await rig?.close();
  });
  beforeEach(() => {
    rig.openai.setBehavior({ kind: 'normal' });
    rig.anthropic.setBehavior({ kind: 'normal' });
  });

  it('finite message on the anthropic target: content, stop_reason, usage; the upstream gets the mapped request', async () => {
    const m = await client.messages.create({
      model: 'claude',
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-7' },
    } as Anthropic.MessageCreateParamsNonStreaming);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, 'claude');
    assert.deepEqual(m.content, [{ type: 'text', text: 'Hello from Claude' }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.deepEqual(m.usage, { input_tokens: 12, output_tokens: 3 });
    const sent = rig.anthropic.requests.at(-1)!.body;
    assert.equal(sent.model, 'claude-test');
    assert.equal(sent.max_tokens, 50);
    assert.equal(sent.temperature, 0.5);
    assert.deepEqual(sent.stop_sequences, ['END']);
    assert.ok(JSON.stringify(sent.system).includes('be brief'));
  });

  it('finite message on an openai target: system becomes a system message, length → max_tokens', async () => {
    const m = await client.messages.create({
      model: 'gpt',
      max_tokens: 9,
      system: [{ type: 'text', text: 'be brief' }],
      messages: user,
      stop_sequences: ['X'],
    });
    assert.deepEqual(m.content, [{ type: 'text', text: 'Gateway ready' }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.deepEqual(m.usage, { input_tokens: 8, output_tokens: 3 });
    const sent = rig.openai.requests.at(-1)!.body;
    assert.deepEqual(sent.messages[0].role, 'system');
    assert.ok(JSON.stringify(sent.messages[0].content).includes('be brief'));
    assert.equal(sent.messages[1].role, 'user');
    assert.equal(sent.max_completion_tokens, 9);
    assert.deepEqual(sent.stop, ['X']);
    rig.openai.setReply({ finishReason: 'length' });
    try {
      const cut = await client.messages.create({ model: 'gpt', max_tokens: 3, messages: user });
      assert.equal(cut.stop_reason, 'max_tokens');
    } finally {
      rig.openai.setReply({});
    }
  });

  it('streams the Anthropic event sequence, and the SDK stream helper completes on both target types', async () => {
    const res = await fetch(`${rig.anthropicBase}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', max_tokens: 20, messages: user, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((block) => {
        const [ev, data] = block.split('\n');
        const name = ev!.replace(/^event: /, '');
        const json = JSON.parse(data!.replace(/^data: /, ''));
        assert.equal(json.type, name, 'event name and data.type agree');
        return json;
      });
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'message_start',
        'content_block_start',
        'ping',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    );
    assert.equal(events[0].message.model, 'gpt');
    assert.deepEqual(events[1], { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    assert.deepEqual(events[3].delta, { type: 'text_delta', text: 'Gate' });
    assert.deepEqual(events[7].delta, { stop_reason: 'end_turn', stop_sequence: null });
    assert.deepEqual(events[7].usage, { input_tokens: 8, output_tokens: 3 });

    for (const [model, expected, usage] of [
      ['claude', 'Hello from Claude', { input_tokens: 12, output_tokens: 3 }],
      ['gpt', 'Gateway ready', { input_tokens: 8, output_tokens: 3 }],
    ] as const) {
      const final = await client.messages.stream({ model, max_tokens: 20, messages: user }).finalMessage();
      assert.deepEqual(final.content, [{ type: 'text', text: expected }]);
      assert.equal(final.stop_reason, 'end_turn');
      assert.equal(final.usage.input_tokens, usage.input_tokens);
      assert.equal(final.usage.output_tokens, usage.output_tokens);
      const raw = await client.messages.create({ model, max_tokens: 20, messages: user, stream: true });
      let text = '';
      for await (const ev of raw) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      assert.equal(text, expected);
    }
  });

  it('takes the token from x-api-key (the SDK default) or Authorization: Bearer', async () => {
    const viaBearer = new Anthropic({ baseURL: rig.anthropicBase, authToken: TOKEN, apiKey: null, maxRetries: 0 });
    const m = await viaBearer.messages.create({ model: 'claude', max_tokens: 5, messages: user });
    assert.equal(m.content[0]!.type, 'text');
    const res = await fetch(`${rig.anthropicBase}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude', max_tokens: 5, messages: user }),
    });
    assert.equal(res.status, 200);
    // x-api-key is read on /v1/messages only.
    const other = await fetch(`${rig.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: user }),
    });
    assert.equal(other.status, 401);
  });

  it('errors raise the SDK classes with the Anthropic error shape and the gateway code', async () => {
    const cases: Array<[() => Promise<unknown>, new (...a: any[]) => Error, number, string, string]> = [
      [
        () => sdk('wrong-token').messages.create({ model: 'claude', max_tokens: 5, messages: user }),
        Anthropic.AuthenticationError,
        401,
        'authentication_error',
        'authentication',
      ],
      [
        () => sdk(RESTRICTED).messages.create({ model: 'gpt', max_tokens: 5, messages: user }),
        Anthropic.PermissionDeniedError,
        403,
        'permission_error',
        'authorization',
      ],
      [
        () => client.messages.create({ model: 'nope', max_tokens: 5, messages: user }),
        Anthropic.NotFoundError,
        404,
        'not_found_error',
        'resolution',
      ],
      [
        () =>
          client.messages.create({
            model: 'gpt',
            max_tokens: 5,
            messages: user,
            temperature: 2.5,
          } as Anthropic.MessageCreateParamsNonStreaming),
        Anthropic.BadRequestError,
        400,
        'invalid_request_error',
        'invalid_request',
      ],
      [
        () =>
          client.messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }),
        Anthropic.APIError,
        413,
        'invalid_request_error',
        'payload_too_large',
      ],
    ];
    for (const [call, cls, status, type, code] of cases) {
      const err: any = await call().then(
        () => assert.fail(`expected ${status}`),
        (e: unknown) => e,
      );
      assert.ok(Object(err) instanceof cls, `${status}: ${err?.constructor?.name}`);
      assert.equal(err.status, status);
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, type);
      assert.ok(err.error.error.message.startsWith(`${code}: `), err.error.error.message);
      assert.equal(typeof err.headers.get('x-request-id'), 'string');
    }
    // Across APIs (an openai target) the gateway validates; on the anthropic target the provider does (pass-through).
    const temp: any = await client.messages
      .create({ model: 'gpt', max_tokens: 5, messages: user, temperature: 2.5 } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e) => e);
    assert.match(temp.error.error.message, /temperature: /);
    const stop: any = await client.messages
      .create({ model: 'gpt', max_tokens: 5, messages: user, stop_sequences: ['a', 'b', 'c', 'd', 'e'] })
      .catch((e) => e);
    assert.ok(Object(stop) instanceof Anthropic.BadRequestError);
    assert.match(stop.error.error.message, /stop_sequences: at most 4/, 'the neutral field is named in Anthropic terms');
    const unknown: any = await client.messages
      .create({ model: 'gpt', max_tokens: 5, messages: user, top_k: 3 } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e) => e);
    assert.match(unknown.error.error.message, /top_k: /);
    const missing: any = await client.messages.create({ model: 'gpt', messages: user } as any).catch((e) => e);
    assert.match(missing.error.error.message, /max_tokens: /);
  });

  it('429 raises RateLimitError with Retry-After; upstream faults raise InternalServerError (502, 504)', async () => {
    const rl = rig.gw.gateway.controls.rateLimiter;
    const saved = rl.settings();
    rl.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
    try {
      await client.messages.create({ model: 'claude', max_tokens: 5, messages: user });
      const err: any = await client.messages.create({ model: 'claude', max_tokens: 5, messages: user }).catch((e) => e);
      assert.ok(Object(err) instanceof Anthropic.RateLimitError);
      assert.equal(err.error.error.type, 'rate_limit_error');
      assert.ok(Number(err.headers.get('retry-after')) >= 1);
    } finally {
      rl.configure(saved);
    }
    rig.anthropic.setBehavior({ kind: 'status', status: 500 });
    const e500: any = await client.messages.create({ model: 'claude', max_tokens: 5, messages: user }).catch((e) => e);
    assert.ok(Object(e500) instanceof Anthropic.InternalServerError);
    assert.equal(e500.status, 500, 'pass-through keeps the provider status');
    assert.equal(e500.error.error.type, 'api_error');
    rig.openai.setBehavior({ kind: 'status', status: 500 });
    const e502: any = await client.messages.create({ model: 'gpt', max_tokens: 5, messages: user }).catch((e) => e);
    rig.openai.setBehavior({ kind: 'normal' });
    assert.ok(Object(e502) instanceof Anthropic.InternalServerError);
    assert.equal(e502.status, 502, "across APIs a provider failure is the gateway's 502");
    assert.equal(e502.error.error.type, 'api_error');
    rig.anthropic.setBehavior({ kind: 'stall-headers' });
    const e504: any = await client.messages.create({ model: 'claude', max_tokens: 5, messages: user }).catch((e) => e);
    assert.ok(Object(e504) instanceof Anthropic.InternalServerError);
    assert.equal(e504.status, 504);
    rig.anthropic.setBehavior({ kind: 'provider-error', afterChunks: 3 });
    const mid: any = await client.messages
      .stream({ model: 'claude', max_tokens: 5, messages: user })
      .finalMessage()
      .catch((e) => e);
    assert.ok(mid instanceof Anthropic.APIError, String(mid));
  });

  it('a client abort mid-stream frees the slot and aborts the upstream; the record says api anthropic', async () => {
    rig.anthropic.setBehavior({ kind: 'slow', gapMs: 100 });
    const aborted = rig.anthropic.abortedCount;
    const stream = client.messages.stream(
      { model: 'claude', max_tokens: 20, messages: user },
      { headers: { 'x-request-id': 'req-anthropic-abort-1' } },
    );
    stream.on('text', () => stream.abort());
    const err = await stream.finalMessage().catch((e) => e);
    assert.ok(err instanceof Anthropic.APIUserAbortError, String(err));
    await rig.anthropic.waitForAborts(aborted + 1);
    await until(() => rig.gw.gateway.controls.admission.inFlight === 0, 'the slot to be freed');
    await until(() => requestRecords(rig.gw).some((r) => r.reqId === 'req-anthropic-abort-1'), 'the record');
    const rec = requestRecords(rig.gw).find((r) => r.reqId === 'req-anthropic-abort-1');
    assert.equal(rec.api, 'anthropic');
    assert.equal(rec.operation, 'chat');
    assert.equal(rec.status, 499);
    const logs = rig.gw.logs.join('\n');
    for (const s of rig.secrets) assert.ok(!logs.includes(s), 'a log line leaks a secret');
  });
});
