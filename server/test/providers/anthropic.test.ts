/**
 * anthropic targets against a real fake Messages API over loopback HTTP:
 * request mapping (system lifting, role merging, max_tokens default), the
 * streaming event translation, stop reasons, embed rejection, faults, timeouts
 * and client aborts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe } from 'node:test';
import type { AnthropicTargetConfig } from '../../src/config/schema.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS } from '../../src/targets/providers/anthropic-wire.js';
import { createProviderTarget } from '../../src/targets/providers/index.js';
import type { Target, TextRequest } from '../../src/targets/target.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import {
  assertGatewayError,
  assertNoSecretIn,
  assertUpstreamError,
  closedPort,
  collect,
  collectUntilError,
  makeCtx,
  makeDeps,
  itScanningLogs,
  rejection,
  statusMessage,
  tokensOf,
  type CapturedDeps,
} from './harness.js';

const QUERY: TextRequest = { operation: 'query', prompt: 'Say hi', options: {} };

function config(baseUrl: string, extra: Partial<AnthropicTargetConfig> = {}): AnthropicTargetConfig {
  return {
    name: 'claude',
    type: 'anthropic',
    model: 'claude-test',
    api_key_env: 'ANTHROPIC_KEY',
    base_url: baseUrl,
    version: '2023-06-01',
    timeout_seconds: 5,
    ...extra,
  };
}

describe('anthropic target', () => {
  let fake: FakeAnthropic;
  let deps: CapturedDeps;
  let target: Target;
  let secrets: string[];

  before(async () => {
    fake = await startFakeAnthropic({ apiKey: 'sk-ant-secret-value-77' });
    secrets = [fake.apiKey];
  });
  after(async () => {
    await target.close();
    await fake.close();
  });
  const it = itScanningLogs(
    () => deps,
    () => secrets,
  );
  beforeEach(async () => {
    if (target) await target.close();
    fake.setBehavior({ kind: 'normal' });
    fake.setReply({});
    fake.requests.length = 0;
    deps = makeDeps({ ANTHROPIC_KEY: fake.apiKey });
    target = createProviderTarget(config(fake.url), deps);
  });

  it('reads its key once and describes itself without it; operations exclude embed', () => {
    assert.deepEqual(deps.asked, ['ANTHROPIC_KEY']);
    const d = target.describe();
    assert.deepEqual(d, {
      name: 'claude',
      type: 'anthropic',
      model: 'claude-test',
      operations: ['query', 'chat'],
      baseUrl: fake.url,
    });
    assert.ok(!JSON.stringify(d).includes(fake.apiKey));
    assert.equal(target.operations.has('embed'), false);
  });

  it('maps a query to one user message on /v1/messages with x-api-key, anthropic-version and a default max_tokens', async () => {
    const result = await target.complete(QUERY, makeCtx(deps));
    assert.deepEqual(result, {
      id: 'msg_fake_01',
      text: 'Hello from Claude',
      finishReason: 'stop',
      usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
    });
    const r = fake.requests[0]!;
    assert.equal(r.path, '/v1/messages');
    assert.equal(r.headers['x-api-key'], fake.apiKey);
    assert.equal(r.headers['anthropic-version'], '2023-06-01');
    assert.equal(r.headers.authorization, undefined);
    assert.deepEqual(r.body, {
      model: 'claude-test',
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: 'Say hi' }],
    });
  });

  it('sends the configured version and honours a base URL path prefix', async () => {
    const t = createProviderTarget(config(`${fake.url}/proxy/`, { version: '2024-10-22' }), deps);
    try {
      // The fake serves /v1/messages only: a prefixed path is a 404 → upstream.
      assertGatewayError(await rejection(t.complete(QUERY, makeCtx(deps))), 'upstream', statusMessage(404));
      assert.equal(fake.requests[0]!.path, '/proxy/v1/messages');
      assert.equal(fake.requests[0]!.headers['anthropic-version'], '2024-10-22');
    } finally {
      await t.close();
    }
  });

  it('lifts system messages into system, merges consecutive same-role messages and maps options', async () => {
    const req: TextRequest = {
      operation: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'user', content: 'Are you there?' },
        { role: 'system', content: 'Answer in English.' },
        { role: 'assistant', content: 'Yes.' },
        { role: 'user', content: 'Good' },
      ],
      options: { maxTokens: 64, temperature: 0.5, topP: 0.8, stop: ['###'] },
    };
    await target.complete(req, makeCtx(deps));
    assert.deepEqual(fake.requests[0]!.body, {
      model: 'claude-test',
      max_tokens: 64,
      system: 'Be brief.\n\nAnswer in English.',
      messages: [
        { role: 'user', content: 'Hi\n\nAre you there?' },
        { role: 'assistant', content: 'Yes.' },
        { role: 'user', content: 'Good' },
      ],
      temperature: 0.5,
      top_p: 0.8,
      stop_sequences: ['###'],
    });
  });

  it('rejects a chat with only system messages as invalid_request, without calling upstream', async () => {
    const req: TextRequest = { operation: 'chat', messages: [{ role: 'system', content: 'x' }], options: {} };
    assertGatewayError(await rejection(target.complete(req, makeCtx(deps))), 'invalid_request');
    assertGatewayError(await rejection(collect(target.stream(req, makeCtx(deps)))), 'invalid_request');
    assert.equal(fake.requests.length, 0);
  });

  it('translates the streaming event sequence (with ping) into tokens and one end chunk', async () => {
    const chunks = await collect(target.stream(QUERY, makeCtx(deps)));
    assert.deepEqual(chunks, [
      { type: 'token', text: 'Hello' },
      { type: 'token', text: ' from' },
      { type: 'token', text: ' Claude' },
      { type: 'end', finishReason: 'stop', usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 }, id: 'msg_fake_01' },
    ]);
    assert.equal(fake.requests[0]!.body.stream, true);
  });

  for (const [raw, normalized] of [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'pause_turn'],
  ] as const) {
    it(`normalizes stop_reason ${raw} → ${normalized} (finite and stream)`, async () => {
      fake.setReply({ stopReason: raw, outputTokens: 7 });
      const finite = await target.complete(QUERY, makeCtx(deps));
      assert.equal(finite.finishReason, normalized);
      const end = (await collect(target.stream(QUERY, makeCtx(deps)))).at(-1)!;
      assert.deepEqual(end, {
        type: 'end',
        finishReason: normalized,
        usage: { input_tokens: 12, output_tokens: 7, total_tokens: 19 },
        id: 'msg_fake_01',
      });
    });
  }

  it('rejects embed with invalid_request naming the target, without calling upstream', async () => {
    const err = await rejection(target.embed({ inputs: ['text'] }, makeCtx(deps)));
    const gw = assertGatewayError(err, 'invalid_request', 'target "claude" (anthropic) does not support embed');
    assert.equal(gw.status, 400);
    assert.equal(fake.requests.length, 0);
  });

  it('forwards the request id under the configured correlation header', async () => {
    const t = createProviderTarget(config(fake.url, { correlation_header: 'x-request-id' }), deps);
    try {
      await collect(t.stream(QUERY, makeCtx(deps, undefined, 'req-anth-9')));
      assert.equal(fake.requests[0]!.headers['x-request-id'], 'req-anth-9');
    } finally {
      await t.close();
    }
  });

  it("passes upstream HTTP 400 back as invalid_request with Anthropic's message, the key removed", async () => {
    fake.setBehavior({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        type: 'error',
        error: { type: 'invalid_request_error', message: `messages.0: key ${fake.apiKey} and\nmore` },
      }),
    });
    const detail = { phase: 'status' as const, upstreamStatus: 400 };
    const message = 'upstream rejected the request (HTTP 400): messages.0: key [redacted] and more';
    assert.equal(
      assertUpstreamError(await rejection(target.complete(QUERY, makeCtx(deps))), 'invalid_request', message, detail, secrets)
        .status,
      400,
    );
    assertUpstreamError(
      await rejection(collect(target.stream(QUERY, makeCtx(deps)))),
      'invalid_request',
      message,
      detail,
      secrets,
    );
  });

  for (const status of [529, 500, 401]) {
    it(`maps upstream HTTP ${status} to 502 upstream naming the status, without the upstream body`, async () => {
      fake.setBehavior({
        kind: 'status',
        status,
        body: JSON.stringify({ type: 'error', error: { message: `key ${fake.apiKey} rejected` } }),
      });
      const detail = { phase: 'status' as const, upstreamStatus: status };
      assertUpstreamError(
        await rejection(target.complete(QUERY, makeCtx(deps))),
        'upstream',
        statusMessage(status),
        detail,
        secrets,
      );
      assertUpstreamError(
        await rejection(collect(target.stream(QUERY, makeCtx(deps)))),
        'upstream',
        statusMessage(status),
        detail,
        secrets,
      );
    });
  }

  it('maps upstream HTTP 429 to 429 upstream_rate_limited with its Retry-After (finite and stream)', async () => {
    fake.setBehavior({
      kind: 'status',
      status: 429,
      body: JSON.stringify({ type: 'error', error: { message: `key ${fake.apiKey}` } }),
      headers: { 'retry-after': '12' },
    });
    for (const run of [() => target.complete(QUERY, makeCtx(deps)), () => collect(target.stream(QUERY, makeCtx(deps)))]) {
      const e = assertUpstreamError(
        await rejection(run()),
        'upstream_rate_limited',
        /HTTP 429/,
        { phase: 'status', upstreamStatus: 429, retryAfterMs: 12_000 },
        secrets,
      );
      assert.deepEqual(e.headers, { 'retry-after': '12' });
    }
  });

  it('maps a wrong key (the fake answers 401) to upstream', async () => {
    const wrong = makeDeps({ ANTHROPIC_KEY: 'sk-ant-wrong' });
    const t = createProviderTarget(config(fake.url), wrong);
    try {
      assertGatewayError(await rejection(t.complete(QUERY, makeCtx(wrong))), 'upstream', statusMessage(401), ['sk-ant-wrong']);
      assertNoSecretIn(wrong.lines, ['sk-ant-wrong']);
    } finally {
      await t.close();
    }
  });

  it('maps an error event mid-stream to upstream, naming only its type', async () => {
    fake.setBehavior({ kind: 'provider-error', afterChunks: 4 });
    const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
    assert.deepEqual(tokensOf(chunks), ['Hello']);
    assertUpstreamError(
      error,
      'upstream',
      'upstream reported an error mid-stream (overloaded_error)',
      { phase: 'stream' },
      secrets,
    );
  });

  it('maps malformed JSON and malformed SSE data to upstream', async () => {
    fake.setBehavior({ kind: 'malformed', afterChunks: 5 });
    assertGatewayError(
      await rejection(target.complete(QUERY, makeCtx(deps))),
      'upstream',
      'upstream sent malformed JSON',
      secrets,
    );
    const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
    assert.deepEqual(tokensOf(chunks), ['Hello', ' from']);
    assertGatewayError(error, 'upstream', 'upstream sent malformed stream data', secrets);
  });

  it('maps a stream that ends before message_stop / stop_reason to upstream', async () => {
    fake.setBehavior({ kind: 'truncate', afterChunks: 6 }); // up to content_block_stop
    const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
    assert.deepEqual(tokensOf(chunks), ['Hello', ' from', ' Claude']);
    assertGatewayError(error, 'upstream', 'upstream stream ended unexpectedly', secrets);
  });

  it('maps a reset mid-stream and mid-body to upstream', async () => {
    fake.setBehavior({ kind: 'reset', afterChunks: 4 });
    const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
    assert.deepEqual(tokensOf(chunks), ['Hello']);
    assertGatewayError(error, 'upstream', 'upstream stream ended unexpectedly', secrets);
    assertGatewayError(
      await rejection(target.complete(QUERY, makeCtx(deps))),
      'upstream',
      'upstream response ended unexpectedly',
      secrets,
    );
  });

  it('maps a refused connection to upstream', async () => {
    const t = createProviderTarget(config(`http://127.0.0.1:${await closedPort()}`), deps);
    try {
      assertGatewayError(await rejection(t.complete(QUERY, makeCtx(deps))), 'upstream', 'upstream connection failed', secrets);
    } finally {
      await t.close();
    }
  });

  it('maps a response without content blocks to upstream', async () => {
    fake.setBehavior({ kind: 'status', status: 200, body: JSON.stringify({ id: 'msg', type: 'message' }) });
    assertGatewayError(
      await rejection(target.complete(QUERY, makeCtx(deps))),
      'upstream',
      'upstream sent an unexpected response',
      secrets,
    );
  });

  it('times out stalled headers and a stream stalled after some tokens', async () => {
    const t = createProviderTarget(config(fake.url, { timeout_seconds: 0.25 }), deps);
    // The stream's first tokens must arrive before the timeout: 2 s leaves a loaded machine room.
    const patient = createProviderTarget(config(fake.url, { timeout_seconds: 2 }), deps);
    try {
      fake.setBehavior({ kind: 'stall-headers' });
      assertGatewayError(
        await rejection(t.complete(QUERY, makeCtx(deps))),
        'upstream_timeout',
        'upstream did not answer within 0.25 s',
        secrets,
      );
      fake.setBehavior({ kind: 'stall', afterChunks: 5 });
      const { chunks, error } = await collectUntilError(patient.stream(QUERY, makeCtx(deps)));
      assert.deepEqual(tokensOf(chunks), ['Hello', ' from']);
      assertGatewayError(error, 'upstream_timeout', undefined, secrets);
    } finally {
      await t.close();
      await patient.close();
    }
  });

  it('aborts the upstream request at once when the client goes away mid-stream', async () => {
    fake.setBehavior({ kind: 'stall', afterChunks: 4 });
    const controller = new AbortController();
    const before = fake.abortedCount;
    const iteration = (async () => {
      for await (const c of target.stream(QUERY, makeCtx(deps, controller.signal))) {
        if (c.type === 'token') setImmediate(() => controller.abort());
      }
    })();
    const err = await rejection(iteration);
    assert.equal((err as Error).name, 'AbortError');
    await fake.waitForAborts(before + 1);
  });
});
