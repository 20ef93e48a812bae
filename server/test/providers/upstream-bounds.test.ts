/**
 * What one faulty upstream or one hostile body can do to everyone else, behind
 * a real gateway: an endless SSE line, an oversized finite answer, a stream of
 * keep-alives only, and bodies nested deep enough to overflow the stack. Each
 * is bounded (configured small here), answered with its documented error on
 * every surface, and none of them moves a circuit that is not the target's.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { GatewayError } from '../../src/errors.js';
import { isTransportFault, UpstreamClient } from '../../src/targets/providers/upstream-client.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, parseSse, postJson } from '../support/http.js';
import { makeCtx, makeDeps, rejection } from './harness.js';

const TOKEN = 'tok-upstream-bounds-123456';
const MiB = 1_048_576;
/** Generous bound on any one answer: the machine may be loaded, but nothing here may hang. */
const ANSWER_WITHIN_MS = 90_000;

/** An object nested `levels` deep below the value it is placed in: {"a":{"a":…{}}}. */
function nest(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

const DEEP = '\u0000deep\u0000';
/**
 * The JSON text of `body` with every DEEP placeholder replaced by an object
 * nested `levels` deep: written as text, since JSON.stringify of such a value
 * overflows the stack (which is the point).
 */
function deepJson(body: unknown, levels: number): string {
  return JSON.stringify(body).replaceAll(JSON.stringify(DEEP), `${'{"a":'.repeat(levels)}{}${'}'.repeat(levels)}`);
}

const circuit = `[targets.circuit]
failure_threshold = 1
open_seconds = 600`;

function providerTargets(openaiUrl: string, anthropicUrl: string): string {
  return `
[[targets]]
name = "oa"
type = "openai_compatible"
model = "m"
base_url = "${openaiUrl}"
token_env = "UPSTREAM_KEY"
timeout_seconds = 60
max_response_bytes = 65536
${circuit}
[[targets]]
name = "oaping"
type = "openai_compatible"
model = "m"
base_url = "${openaiUrl}"
token_env = "UPSTREAM_KEY"
timeout_seconds = 60
keepalive_timeout_seconds = 1
${circuit}
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropicUrl}"
timeout_seconds = 60
max_response_bytes = 65536
${circuit}
[[targets]]
name = "claudeping"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropicUrl}"
timeout_seconds = 60
keepalive_timeout_seconds = 1
${circuit}
`;
}

describe('upstream bounds and failure classes through the gateway', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gw: TestGateway;
  let oaSdk: OpenAI;
  let antSdk: Anthropic;
  const url = (op: string) => `${gw.publicUrl}/v1/${op}`;
  const post = (op: string, body: unknown) =>
    postJson(url(op), body, { token: TOKEN, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });
  /** The target's circuit is still closed: a normal request to it alone is served (threshold 1: one counted failure opens it). */
  const assertServed = async (model: string) => {
    openai.setBehavior({ kind: 'normal' });
    anthropic.setBehavior({ kind: 'normal' });
    const r = await post('chat', chat(model));
    assert.equal(r.status, 200, `${model} still serves (its circuit did not open): ${r.text}`);
  };

  before(async () => {
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
${providerTargets(openai.url, anthropic.url)}`,
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-upstream-bounds-1',
        T: TOKEN,
        UPSTREAM_KEY: openai.apiKey,
        ANTHROPIC_KEY: anthropic.apiKey,
      },
    });
    oaSdk = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: ANSWER_WITHIN_MS });
    antSdk = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0, timeout: ANSWER_WITHIN_MS });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await anthropic?.close();
  });
  beforeEach(() => {
    openai.setBehavior({ kind: 'normal' });
    anthropic.setBehavior({ kind: 'normal' });
    openai.setReply({});
  });

  describe('one huge SSE line (max_event_bytes, default 1 MiB)', () => {
    it('is cut at the cap: 502 upstream_protocol before the first frame, /healthz answering while the line is in flight', async () => {
      let healthz = 0;
      openai.setBehavior({
        kind: 'huge-line',
        bytes: 32 * MiB,
        chunkBytes: 16 * 1024,
        afterChunks: 0,
        // Half the cap is out: the gateway holds an unterminated line; the management listener must still answer.
        midway: { atBytes: MiB / 2, then: async () => void (healthz = (await getText(`${gw.managementUrl}/healthz`)).status) },
      });
      const aborted = openai.abortedCount;
      const r = await post('chat', chat('oa', { stream: true }));
      assert.equal(r.status, 502, r.text);
      assert.equal(healthz, 200, '/healthz answered while the line was arriving');
      assert.equal(r.status, 502, r.text);
      assert.equal(r.body.error.code, 'upstream_protocol');
      assert.match(r.body.error.message, /larger than 1048576 bytes/);
      // The gateway stopped reading (closed the connection) instead of buffering the rest.
      await openai.waitForAborts(aborted + 1, ANSWER_WITHIN_MS);
      assert.ok(openai.lastBulkBytes < 32 * MiB, `the fake could not send the whole line (${openai.lastBulkBytes} bytes)`);
      await assertServed('oa');
    });

    it('after the stream began: the OpenAI surface ends it with its error frame (OpenAI SDK)', async () => {
      openai.setBehavior({ kind: 'huge-line', bytes: 8 * MiB, chunkBytes: 16 * 1024, afterChunks: 2 });
      const stream = await oaSdk.chat.completions.create({
        model: 'oa',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      const err = await rejection(
        (async () => {
          for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
        })(),
      );
      assert.equal(text, 'Gate');
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.code, 'upstream_protocol');
    });

    it('after the stream began: the Anthropic surface ends it with its error event (Anthropic SDK)', async () => {
      openai.setBehavior({ kind: 'huge-line', bytes: 8 * MiB, chunkBytes: 16 * 1024, afterChunks: 2 });
      const stream = antSdk.messages.stream({ model: 'oa', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
      const err = await rejection(stream.finalMessage());
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.match(err.message, /upstream_protocol/);
    });

    it('from an Anthropic provider, on the Sipp surface: the error frame after the first tokens', async () => {
      anthropic.setBehavior({ kind: 'huge-line', bytes: 8 * MiB, chunkBytes: 16 * 1024, afterChunks: 4 });
      const r = await post('chat', chat('claude', { stream: true }));
      assert.equal(r.status, 200);
      const frames = parseSse(r.text);
      assert.deepEqual(frames.at(-1), {
        event: 'error',
        data: { error: { code: 'upstream_protocol', message: 'upstream sent an event larger than 1048576 bytes' } },
      });
      await assertServed('claude');
    });
  });

  describe('finite answers (max_response_bytes)', () => {
    for (const model of ['oa', 'claude']) {
      it(`${model}: an answer over the cap is 502 upstream_too_large, read no further, and the circuit stays closed`, async () => {
        const fake = model === 'oa' ? openai : anthropic;
        fake.setBehavior({ kind: 'oversize', bytes: 4 * MiB });
        const aborted = fake.abortedCount;
        const r = await post('chat', chat(model));
        assert.equal(r.status, 502, r.text);
        assert.equal(r.body.error.code, 'upstream_too_large');
        assert.equal(r.body.error.message, 'upstream answer larger than 65536 bytes');
        await fake.waitForAborts(aborted + 1, ANSWER_WITHIN_MS);
        assert.ok(fake.lastBulkBytes < 4 * MiB);
        await assertServed(model);
      });
    }
  });

  describe('keep-alives only (keepalive_timeout_seconds)', () => {
    it('SSE comments alone do not keep a stream alive: event: error upstream_timeout after the first tokens', async () => {
      openai.setBehavior({ kind: 'pings', everyMs: 20, afterChunks: 2 });
      const r = await post('chat', chat('oaping', { stream: true }));
      assert.equal(r.status, 200);
      const frames = parseSse(r.text);
      assert.deepEqual(frames[0], { event: 'token', data: { text: 'Gate', sequence: 0 } });
      assert.deepEqual(frames.at(-1), {
        event: 'error',
        data: { error: { code: 'upstream_timeout', message: 'upstream sent only keep-alives for 1 s' } },
      });
    });

    it("Anthropic's ping events count as keep-alives too: 504 before any content", async () => {
      anthropic.setBehavior({ kind: 'pings', everyMs: 20, afterChunks: 0, pingEvents: true });
      const r = await post('chat', chat('claudeping', { stream: true }));
      assert.equal(r.status, 504, r.text);
      assert.equal(r.body.error.code, 'upstream_timeout');
      assert.equal(r.body.error.message, 'upstream sent only keep-alives for 1 s');
    });
  });

  describe('nesting depth (max_json_depth, default 64)', () => {
    /** tools[0].function.parameters is at level 5; `extra` more levels below it. */
    const toolsAt = (extra: number) =>
      chat('oa', { tools: [{ type: 'function', function: { name: 'f', parameters: nest(extra) } }] });

    it('accepts exactly 64 levels and refuses 65 with 400 invalid_request naming the field, before any upstream call', async () => {
      const sent = openai.requests.length;
      assert.equal((await post('chat/completions', toolsAt(59))).status, 200);
      assert.equal(openai.requests.length, sent + 1);
      const r = await post('chat/completions', toolsAt(60));
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.equal(r.body.error.param, 'tools[0].function.parameters.a.a');
      assert.match(
        r.body.error.message,
        /^tools\[0\]\.function\.parameters\.a\.a: nested deeper than 64 levels \(max_json_depth\)$/,
      );
      assert.equal(openai.requests.length, sent + 1, 'nothing was sent upstream');
    });

    it('names the field for response_format, metadata and an Anthropic tool_use input', async () => {
      const deep = DEEP;
      const cases: Array<[string, unknown, RegExp]> = [
        [
          'chat/completions',
          chat('oa', { response_format: { type: 'json_schema', json_schema: { name: 's', schema: deep } } }),
          /^response_format\.json_schema\.schema\.a\.a\.a: /,
        ],
        ['chat/completions', chat('oa', { metadata: deep }), /^metadata\.a\.a\.a\.a\.a: /],
        [
          'messages',
          {
            model: 'oa',
            max_tokens: 10,
            messages: [
              { role: 'user', content: 'hi' },
              { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: deep }] },
              { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
            ],
          },
          /^invalid_request: messages\[1\]\.content\[0\]\.input\.a: /,
        ],
      ];
      const sent = openai.requests.length;
      for (const [op, body, message] of cases) {
        const r = await postJson(url(op), deepJson(body, 10_000), {
          headers: { 'x-api-key': TOKEN, authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(r.status, 400, `${op}: ${r.text}`);
        assert.match(r.body.error.message, message);
      }
      assert.equal(openai.requests.length, sent);
      await assertServed('oa');
    });
  });
});

describe('a failure to build the upstream request is the gateway’s own (never the target’s)', () => {
  let openai: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    openai = await startFakeOpenAI();
    // The depth limit is lifted here so that a deep body reaches the upstream client and overflows JSON.stringify there.
    gw = await startTestGateway({
      toml: `max_json_depth = 1000000
${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
[[groups]]
name = "g"
strategy = "fallback"
targets = ["x", "y"]
[groups.retry]
attempts = 3
backoff_ms = 0
max_backoff_ms = 0
[[targets]]
name = "x"
type = "openai_compatible"
model = "m"
base_url = "${openai.url}"
token_env = "UPSTREAM_KEY"
${circuit}
[[targets]]
name = "y"
type = "openai_compatible"
model = "m"
base_url = "${openai.url}"
token_env = "UPSTREAM_KEY"
${circuit}
`,
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-upstream-bounds-2', T: TOKEN, UPSTREAM_KEY: openai.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
  });

  for (const stream of [false, true]) {
    it(`${stream ? 'stream' : 'finite'}: 500 internal, no upstream call, no retry, no fallback, circuits closed, the cause logged`, async () => {
      const sent = openai.requests.length;
      const logFrom = gw.logs.length;
      const body = {
        model: 'g',
        stream,
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ name: 'f', parameters: DEEP }],
      };
      // The Sipp route translates, so the gateway builds the upstream body (a pass-through route sends the client's bytes as they are).
      const r = await postJson(`${gw.publicUrl}/v1/chat`, deepJson(body, 100_000), {
        token: TOKEN,
        signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
      });
      assert.equal(r.status, 500, r.text);
      assert.equal(r.body.error.code, 'internal');
      assert.equal(openai.requests.length, sent, 'nothing reached the upstream');
      const lines = gw.logs.slice(logFrom).map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.filter((l) => l.msg === 'fallback' || l.msg === 'circuit transition'),
        [],
      );
      const request = lines.find((l) => l.msg === 'request');
      assert.equal(request.attempts.length, 1, 'tried once');
      const failure = lines.find((l) => l.level === 'error' && l.cause?.message === 'Maximum call stack size exceeded');
      assert.ok(failure, `an error line carries the cause: ${JSON.stringify(lines)}`);
      assert.equal(failure.cause.name, 'RangeError');
      assert.equal(failure.stage, 'build');
      assert.equal(failure.phase, undefined, 'not reported as an upstream phase (connect)');
      // Both circuits are closed (threshold 1): x serves the group's next request.
      const ok = await postJson(
        `${gw.publicUrl}/v1/chat/completions`,
        { model: 'g', messages: [{ role: 'user', content: 'hi' }] },
        { token: TOKEN },
      );
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers.get('x-sipp-target'), 'x');
    });
  }
});

describe('UpstreamClient: local faults and transport faults', () => {
  let openai: FakeOpenAI;
  before(async () => {
    openai = await startFakeOpenAI();
  });
  after(async () => {
    await openai?.close();
  });

  it('a body that cannot be serialized is 500 internal without UpstreamDetail, logged with its cause, and sends nothing', async () => {
    const deps = makeDeps({});
    const client = new UpstreamClient({
      baseUrl: openai.url,
      timeoutMs: 30_000,
      headers: { authorization: `Bearer ${openai.apiKey}` },
      targetName: 't',
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const sent = openai.requests.length;
    for (const call of [
      () => client.postJson(client.path('/chat/completions'), cyclic, makeCtx(deps)),
      () => client.postSse(client.path('/chat/completions'), cyclic, makeCtx(deps)).next(),
    ]) {
      const err = await rejection(call());
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'internal');
      assert.equal(err.upstream, undefined, 'no UpstreamDetail: routing cannot count it against the target');
    }
    assert.equal(openai.requests.length, sent);
    const lines = deps.lines.map((l) => JSON.parse(l));
    assert.equal(
      lines.filter(
        (l) => l.level === 50 && l.stage === 'build' && l.cause?.name === 'TypeError' && /circular/i.test(l.cause.message),
      ).length,
      2,
    );
    await client.close();
  });

  it('tells the host’s faults from the gateway’s own', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ENOTFOUND',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'HPE_INVALID_CONSTANT',
    ]) {
      assert.equal(isTransportFault(Object.assign(new Error('x'), { code })), true, code);
    }
    for (const err of [
      new TypeError('x'),
      new RangeError('Maximum call stack size exceeded'),
      Object.assign(new TypeError('x'), { code: 'ERR_INVALID_ARG_TYPE' }),
      Object.assign(new Error('x'), { code: 'UND_ERR_INVALID_ARG' }),
      null,
      'x',
    ]) {
      assert.equal(isTransportFault(err), false, String(err));
    }
  });
});
