/**
 * The official `openai` SDK, unchanged (only baseURL, apiKey, maxRetries: 0),
 * against the gateway's OpenAI surface in front of real fake providers:
 * chat (finite, streaming, the SDK's stream helper), completions, embeddings,
 * the model list, every error class with the gateway code visible, Retry-After
 * on 429s, request ids, records with `api: "openai"`, and a client abort
 * mid-stream freeing the slot and aborting the upstream.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { until } from '../support/wait.js';
import { requestRecords, RESTRICTED, startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

describe('OpenAI SDK against the OpenAI surface', () => {
  let rig: SurfaceRig;
  let client: OpenAI;
  const sdk = (apiKey: string) => new OpenAI({ baseURL: rig.openaiBase, apiKey, maxRetries: 0 });

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

  it('finite chat: content, finish_reason, usage mapped, the upstream gets the mapped request', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt',
      messages: [
        { role: 'developer', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'say ' },
            { type: 'text', text: 'hi' },
          ],
        },
      ],
      max_completion_tokens: 20,
      temperature: 0.3,
      top_p: 0.5,
      stop: 'END',
      seed: 7,
      user: 'u-1',
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'gpt');
    assert.equal(r.choices[0]!.message.role, 'assistant');
    assert.equal(r.choices[0]!.message.content, 'Gateway ready');
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(r.usage, { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });
    const sent = rig.openai.requests.at(-1)!.body;
    // Same API (OpenAI surface → openai target): the body goes as sent, only `model` rewritten (docs/api.md#pass-through).
    assert.equal(sent.model, 'gpt-test');
    assert.equal(sent.messages[0].role, 'developer');
    assert.equal(sent.max_completion_tokens, 20);
    assert.equal(sent.temperature, 0.3);
    assert.equal(sent.top_p, 0.5);
    assert.equal(sent.stop, 'END');
  });

  it('streaming chat: role delta first, content deltas, finish chunk, usage chunk, [DONE]', async () => {
    const res = await fetch(`${rig.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    const text = await res.text();
    const frames = text.split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const chunks = frames.slice(0, -1).map((f) => {
      assert.match(f, /^data: /);
      return JSON.parse(f.slice(6));
    });
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0].id);
      assert.equal(c.model, 'gpt');
    }
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.deepEqual(
      chunks.slice(1, 4).map((c) => c.choices[0].delta.content),
      ['Gate', 'way', ' ready'],
    );
    assert.equal(chunks[4].choices[0].finish_reason, 'stop');
    assert.deepEqual(chunks[4].choices[0].delta, {});
    assert.deepEqual(chunks[5], {
      ...chunks[5],
      choices: [],
      usage: { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 },
    });
    assert.equal(chunks.length, 6);

    const noUsage = await fetch(`${rig.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const plain = (await noUsage.text()).split('\n\n').filter(Boolean);
    assert.equal(plain.length, 6, 'no usage chunk without stream_options.include_usage');
    assert.ok(!plain.some((f) => f.includes('"usage"')));
  });

  it("the SDK's streaming iterator and stream helper complete, on openai and anthropic targets", async () => {
    for (const [model, expected] of [
      ['gpt', 'Gateway ready'],
      ['claude', 'Hello from Claude'],
    ] as const) {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, expected);
      assert.equal(finish, 'stop');
      assert.ok(usage && usage.total_tokens > 0);
      const final = await client.chat.completions
        .stream({ model, messages: [{ role: 'user', content: 'hi' }] })
        .finalChatCompletion();
      assert.equal(final.choices[0]!.message.content, expected);
      assert.equal(final.choices[0]!.finish_reason, 'stop');
    }
  });

  it('maps finish reasons: length from the provider, and the Anthropic target’s max_tokens', async () => {
    rig.openai.setReply({ finishReason: 'length' });
    rig.anthropic.setReply({ stopReason: 'max_tokens' });
    try {
      for (const model of ['gpt', 'claude']) {
        const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
        assert.equal(r.choices[0]!.finish_reason, 'length', model);
      }
      assert.equal(rig.anthropic.requests.at(-1)!.body.max_tokens, 3);
    } finally {
      rig.openai.setReply({});
      rig.anthropic.setReply({});
    }
  });

  it('legacy completions, finite and streaming', async () => {
    const r = await client.completions.create({ model: 'gpt', prompt: 'Once', max_tokens: 5 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices[0]!.text, 'Gateway ready');
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(r.usage, { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });
    assert.deepEqual(rig.openai.requests.at(-1)!.body.messages, [{ role: 'user', content: 'Once' }]);
    const stream = await client.completions.create({
      model: 'claude',
      prompt: 'Once',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, 'Hello from Claude');
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
  });

  it('embeddings: the SDK default (base64) decodes to the provider vector, and float as asked', async () => {
    const b64 = await client.embeddings.create({ model: 'gpt', input: 'vector me' });
    assert.equal(b64.object, 'list');
    assert.deepEqual(b64.data[0]!.embedding, [0.25, -0.5, 0.125]);
    assert.equal(rig.openai.requests.at(-1)!.body.input, 'vector me');
    const float = await client.embeddings.create({ model: 'gpt', input: 'vector me', encoding_format: 'float' });
    assert.deepEqual(float.data, [{ object: 'embedding', index: 0, embedding: [0.25, -0.5, 0.125] }]);
    assert.deepEqual(float.usage, { prompt_tokens: 8, total_tokens: 8 });
    const raw = await fetch(`${rig.openaiBase}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', input: 'vector me', encoding_format: 'base64' }),
    });
    const body: any = await raw.json();
    const bytes = Buffer.from(body.data[0].embedding, 'base64');
    assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)], [0.25, -0.5, 0.125]);
  });

  it('lists exactly the targets the token may use', async () => {
    const all = [];
    for await (const m of client.models.list()) all.push(m.id);
    assert.deepEqual(all.sort(), ['claude', 'compat', 'gpt', 'smart']);
    const restricted = [];
    for await (const m of sdk(RESTRICTED).models.list()) restricted.push(m.id);
    assert.deepEqual(restricted, ['claude']);
    await assert.rejects(sdk('wrong-token').models.list(), OpenAI.AuthenticationError);
  });

  it('a group as model: a member that cannot honour the request is skipped; the response keeps the asked name', async () => {
    const hot = await client.chat.completions
      .create({ model: 'smart', messages: [{ role: 'user', content: 'hi' }], temperature: 1.5 })
      .withResponse();
    assert.equal(hot.data.model, 'smart');
    assert.equal(hot.response.headers.get('x-sipp-target'), 'gpt', 'claude (0-1) is skipped for temperature 1.5');
    const cool = await client.chat.completions
      .create({ model: 'smart', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 })
      .withResponse();
    assert.equal(cool.response.headers.get('x-sipp-target'), 'claude');
    assert.equal(cool.data.choices[0]!.message.content, 'Hello from Claude');
  });

  it('errors raise the SDK classes, with the gateway code, param and request id', async () => {
    const msg = [{ role: 'user' as const, content: 'hi' }];
    const cases: Array<[() => Promise<unknown>, new (...a: any[]) => Error, number, string]> = [
      [
        () => sdk('wrong-token').chat.completions.create({ model: 'gpt', messages: msg }),
        OpenAI.AuthenticationError,
        401,
        'authentication',
      ],
      [
        () => sdk(RESTRICTED).chat.completions.create({ model: 'gpt', messages: msg }),
        OpenAI.PermissionDeniedError,
        403,
        'authorization',
      ],
      [() => client.chat.completions.create({ model: 'nope', messages: msg }), OpenAI.NotFoundError, 404, 'resolution'],
      [
        () => client.chat.completions.create({ model: 'claude', messages: msg, temperature: 5 }),
        OpenAI.BadRequestError,
        400,
        'invalid_request',
      ],
      [
        () => client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }),
        OpenAI.APIError,
        413,
        'payload_too_large',
      ],
    ];
    for (const [call, cls, status, code] of cases) {
      const err: any = await call().then(
        () => assert.fail(`expected ${status}`),
        (e: unknown) => e,
      );
      assert.ok(Object(err) instanceof cls, `${status}: ${err?.constructor?.name}`);
      assert.equal(err.status, status);
      assert.equal(err.code, code);
      assert.equal(typeof err.requestID, 'string');
      for (const s of rig.secrets) assert.ok(!JSON.stringify(err.error).includes(s));
    }
    const bad: any = await client.chat.completions.create({ model: 'claude', messages: msg, temperature: 1.5 }).catch((e) => e);
    assert.ok(bad instanceof OpenAI.BadRequestError);
    assert.equal(bad.param, 'temperature');
    assert.equal(bad.type, 'invalid_request_error');
    const part: any = await client.chat.completions
      .create({
        model: 'claude',
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }],
      })
      .catch((e) => e);
    assert.ok(part instanceof OpenAI.BadRequestError);
    assert.equal(part.param, 'messages.0.content.0.type');
    const n: any = await client.chat.completions.create({ model: 'claude', messages: msg, n: 2 }).catch((e) => e);
    assert.equal(n.param, 'n');
    const top: any = await client.chat.completions
      .create({ model: 'claude', messages: msg, logprobs: true, top_logprobs: 2 })
      .catch((e) => e);
    assert.equal(top.param, 'logprobs');
    // On the translation path (an anthropic target) what the gateway cannot carry back is refused by name., at the API defaults, passes on every target type.
    const defaults = { n: 1, logprobs: false, top_logprobs: 0, frequency_penalty: 0, presence_penalty: 0 };
    const ok = await client.chat.completions.create({ model: 'claude', messages: msg, ...defaults });
    assert.equal(ok.choices[0]!.message.content, 'Hello from Claude');
    const echoed = await client.chat.completions
      .create({ model: 'gpt', messages: msg }, { headers: { 'x-request-id': 'req-openai-echo-1' } })
      .withResponse();
    assert.equal(echoed.request_id, 'req-openai-echo-1');
  });

  it("a wrong method is a 405 in the OpenAI error shape, naming the route's method", async () => {
    const get = await fetch(`${rig.openaiBase}/chat/completions`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
    assert.deepEqual(await get.json(), {
      error: {
        message: 'method GET is not allowed; use POST',
        type: 'invalid_request_error',
        param: null,
        code: 'method_not_allowed',
      },
    });
    const post = await fetch(`${rig.openaiBase}/models`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, OPTIONS');
    const anthropicGet = await fetch(`${rig.anthropicBase}/v1/messages`);
    assert.equal(anthropicGet.status, 405);
    assert.equal(((await anthropicGet.json()) as any).type, 'error');
  });

  it('429s carry Retry-After and raise RateLimitError (rate limit and admission)', async () => {
    const rl = rig.gw.gateway.controls.rateLimiter;
    const saved = rl.settings();
    rl.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
    try {
      await client.models.list();
      const err: any = await client.chat.completions
        .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e) => e);
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.code, 'rate_limited');
      assert.ok(Number(err.headers.get('retry-after')) >= 1);
    } finally {
      rl.configure(saved);
    }
    const admission = rig.gw.gateway.controls.admission;
    const savedLimit = admission.limit;
    admission.setLimit(1);
    rig.openai.setBehavior({ kind: 'delay', ms: 300 });
    try {
      const first = client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] });
      await until(() => admission.inFlight === 1, 'the first request to be admitted');
      const err: any = await client.chat.completions
        .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e) => e);
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.code, 'admission');
      assert.equal(err.headers.get('retry-after'), '1');
      await first;
    } finally {
      admission.setLimit(savedLimit);
    }
  });

  it("upstream faults raise InternalServerError: the provider's own 500 (pass-through), 502 upstream (translated), 504 upstream_timeout", async () => {
    rig.openai.setBehavior({ kind: 'status', status: 500 });
    const e500: any = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.ok(e500 instanceof OpenAI.InternalServerError);
    assert.equal(e500.status, 500);
    assert.equal(e500.type, 'server_error');
    assert.equal(e500.message, '500 fake upstream error 500');
    rig.anthropic.setBehavior({ kind: 'status', status: 500 });
    const e502: any = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    rig.anthropic.setBehavior({ kind: 'normal' });
    assert.ok(e502 instanceof OpenAI.InternalServerError);
    assert.equal(e502.status, 502);
    assert.equal(e502.code, 'upstream');
    rig.openai.setBehavior({ kind: 'stall-headers' });
    const e504: any = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.ok(e504 instanceof OpenAI.InternalServerError);
    assert.equal(e504.status, 504);
    assert.equal(e504.code, 'upstream_timeout');
    // A stream that breaks after it began: the SDK raises the error frame as an APIError.
    rig.openai.setBehavior({ kind: 'provider-error', afterChunks: 2 });
    const stream = await client.chat.completions.create({
      model: 'gpt',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const mid: any = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    assert.ok(mid instanceof OpenAI.APIError, String(mid));
    // Pass-through relays the provider's own error frame as sent.
    assert.equal(mid.message, 'fake upstream failure');
  });

  it('a client abort mid-stream frees the slot and aborts the upstream', async () => {
    rig.openai.setBehavior({ kind: 'slow', gapMs: 100 });
    const aborted = rig.openai.abortedCount;
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    const err = await (async () => {
      for await (const chunk of stream) {
        chunks += 1;
        if (chunk.choices[0]?.delta.content) controller.abort();
      }
    })().catch((e) => e);
    // The SDK ends the iteration quietly on abort (or raises APIUserAbortError).
    assert.ok(err === undefined || err instanceof OpenAI.APIUserAbortError, String(err));
    assert.equal(chunks, 2, 'the stream stopped at the abort');
    await rig.openai.waitForAborts(aborted + 1);
    await until(() => rig.gw.gateway.controls.admission.inFlight === 0, 'the slot to be freed');
    await until(() => requestRecords(rig.gw).some((r) => r.api === 'openai' && r.status === 499), 'the 499 record');
  });

  it('records and metrics count these requests under their operation with api "openai"', async () => {
    await client.chat.completions.create(
      { model: 'gpt', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-request-id': 'req-openai-record-1' } },
    );
    const rec = requestRecords(rig.gw).find((r) => r.reqId === 'req-openai-record-1');
    assert.equal(rec.api, 'openai');
    assert.equal(rec.operation, 'chat');
    assert.equal(rec.target, 'gpt');
    assert.equal(rec.status, 200);
    const metrics = await (await fetch(`${rig.gw.managementUrl}/metrics`)).text();
    assert.match(metrics, /sipp_gateway_requests_total\{api="openai",operation="chat"\} [1-9]/);
    assert.match(metrics, /sipp_gateway_requests_total\{api="openai",operation="embed"\} [1-9]/);
    const logs = rig.gw.logs.join('\n');
    for (const s of rig.secrets) assert.ok(!logs.includes(s), 'a log line leaks a secret');
  });
});
