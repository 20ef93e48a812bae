/**
 * openai and openai_compatible targets against a real fake OpenAI server over
 * loopback HTTP: request mapping, responses, streaming, embeddings, every
 * upstream fault, timeouts, client aborts and secret hygiene.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe } from 'node:test';
import type { CompatibleTargetConfig, OpenAITargetConfig } from '../../src/config/schema.js';
import { createProviderTarget } from '../../src/targets/providers/index.js';
import type { Target, TextRequest } from '../../src/targets/target.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { until } from '../support/wait.js';
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
const CHAT: TextRequest = {
  operation: 'chat',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ],
  options: {},
};

type Flavor = 'openai' | 'openai_compatible';

function config(
  flavor: Flavor,
  baseUrl: string,
  extra: { timeout_seconds?: number; correlation_header?: string } = {},
): OpenAITargetConfig | CompatibleTargetConfig {
  const common = {
    name: `${flavor}-t`,
    model: 'served-model',
    base_url: baseUrl,
    timeout_seconds: extra.timeout_seconds ?? 5,
    correlation_header: extra.correlation_header,
  };
  return flavor === 'openai'
    ? { ...common, type: 'openai', api_key_env: 'OPENAI_KEY' }
    : { ...common, type: 'openai_compatible', token_env: 'PROVIDER_TOKEN' };
}

for (const flavor of ['openai', 'openai_compatible'] as const) {
  describe(`${flavor} target`, () => {
    let fake: FakeOpenAI;
    let deps: CapturedDeps;
    let target: Target;
    let secrets: string[];

    before(async () => {
      fake = await startFakeOpenAI({ apiKey: `sk-${flavor}-secret-value-42` });
      secrets = [fake.apiKey];
    });
    after(async () => {
      await fake.close();
    });
    beforeEach(async () => {
      if (target) await target.close();
      fake.setBehavior({ kind: 'normal' });
      fake.setReply({});
      fake.requests.length = 0;
      deps = makeDeps({ OPENAI_KEY: fake.apiKey, PROVIDER_TOKEN: fake.apiKey });
      target = createProviderTarget(config(flavor, fake.url), deps);
    });
    after(async () => {
      await target.close();
    });
    const it = itScanningLogs(
      () => deps,
      () => secrets,
    );

    it('reads its credential once, from the configured env var', () => {
      assert.deepEqual(deps.asked, [flavor === 'openai' ? 'OPENAI_KEY' : 'PROVIDER_TOKEN']);
    });

    it('describes itself without credentials', async () => {
      await target.load();
      const d = target.describe();
      assert.deepEqual(d, {
        name: `${flavor}-t`,
        type: flavor,
        model: 'served-model',
        operations: ['query', 'chat', 'embed'],
        baseUrl: fake.url,
      });
      assert.ok(!JSON.stringify(d).includes(fake.apiKey));
      assert.deepEqual([...target.operations], ['query', 'chat', 'embed']);
    });

    it('maps a query to one user message on /chat/completions under the base path, with the bearer credential', async () => {
      const result = await target.complete(QUERY, makeCtx(deps));
      assert.deepEqual(result, {
        id: 'chatcmpl-fake-1',
        text: 'Gateway ready',
        finishReason: 'stop',
        usage: { input_tokens: 8, output_tokens: 3, total_tokens: 11 },
      });
      assert.equal(fake.requests.length, 1);
      const r = fake.requests[0]!;
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/v1/chat/completions');
      assert.equal(r.headers.authorization, `Bearer ${fake.apiKey}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-request-id'], undefined, 'no correlation header unless configured');
      assert.deepEqual(r.body, { model: 'served-model', messages: [{ role: 'user', content: 'Say hi' }] });
    });

    it('maps chat messages and generation options, and nothing else', async () => {
      const req: TextRequest = {
        operation: 'chat',
        // An extra field on a message (tolerated by the public schema) must not be forwarded.
        messages: [
          ...CHAT.messages,
          { role: 'assistant', content: 'Hello!', name: 'x' } as never,
          { role: 'user', content: 'Again' },
        ],
        options: { maxTokens: 32, temperature: 0.2, topP: 0.9, stop: ['\n\n', 'END'] },
      };
      await target.complete(req, makeCtx(deps));
      const maxField = flavor === 'openai' ? 'max_completion_tokens' : 'max_tokens';
      assert.deepEqual(fake.requests[0]!.body, {
        model: 'served-model',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
          { role: 'user', content: 'Again' },
        ],
        [maxField]: 32,
        temperature: 0.2,
        top_p: 0.9,
        stop: ['\n\n', 'END'],
      });
    });

    it('forwards the request id under the configured correlation header', async () => {
      const t = createProviderTarget(config(flavor, fake.url, { correlation_header: 'X-Correlation-Id' }), deps);
      try {
        await t.complete(QUERY, makeCtx(deps, undefined, 'req-abc-123'));
        const chunks = await collect(t.stream(QUERY, makeCtx(deps, undefined, 'req-def-456')));
        assert.equal(chunks.at(-1)!.type, 'end');
        assert.equal(fake.requests[0]!.headers['x-correlation-id'], 'req-abc-123');
        assert.equal(fake.requests[1]!.headers['x-correlation-id'], 'req-def-456');
      } finally {
        await t.close();
      }
    });

    it('streams tokens then one end chunk with finish reason, usage and upstream id', async () => {
      const chunks = await collect(target.stream(CHAT, makeCtx(deps)));
      assert.deepEqual(chunks, [
        { type: 'token', text: 'Gate' },
        { type: 'token', text: 'way' },
        { type: 'token', text: ' ready' },
        {
          type: 'end',
          finishReason: 'stop',
          usage: { input_tokens: 8, output_tokens: 3, total_tokens: 11 },
          id: 'chatcmpl-fake-1',
        },
      ]);
      const body = fake.requests[0]!.body;
      assert.equal(body.stream, true);
      assert.deepEqual(body.stream_options, { include_usage: true });
    });

    it('ends a stream whose upstream sends no usage with an end chunk without usage', async () => {
      fake.setReply({ omitUsage: true });
      const chunks = await collect(target.stream(CHAT, makeCtx(deps)));
      assert.deepEqual(chunks.at(-1), { type: 'end', finishReason: 'stop', id: 'chatcmpl-fake-1' });
      assert.deepEqual(tokensOf(chunks), ['Gate', 'way', ' ready']);
    });

    for (const [raw, normalized] of [
      ['length', 'length'],
      ['content_filter', 'content_filter'],
      ['tool_calls', 'tool_calls'],
      ['function_call', 'tool_calls'],
      ['some_new_reason', 'some_new_reason'],
      ['Not A Reason!', 'stop'],
    ] as const) {
      it(`normalizes finish_reason ${JSON.stringify(raw)} → ${normalized} (finite and stream)`, async () => {
        fake.setReply({ finishReason: raw });
        assert.equal((await target.complete(QUERY, makeCtx(deps))).finishReason, normalized);
        const end = (await collect(target.stream(QUERY, makeCtx(deps)))).at(-1)!;
        assert.equal(end.type === 'end' && end.finishReason, normalized);
      });
    }

    it('embeds through /embeddings and returns the first vector', async () => {
      fake.setReply({ embedding: [1, -2.5, 0.003], promptTokens: 4 });
      const result = await target.embed({ inputs: ['some text'] }, makeCtx(deps));
      assert.deepEqual(result, { embeddings: [[1, -2.5, 0.003]], usage: { input_tokens: 4, output_tokens: 0, total_tokens: 4 } });
      const r = fake.requests[0]!;
      assert.equal(r.path, '/v1/embeddings');
      assert.equal(r.headers.authorization, `Bearer ${fake.apiKey}`);
      assert.deepEqual(r.body, { model: 'served-model', input: 'some text' });
    });

    it('reuses one keep-alive connection for sequential requests', async () => {
      // undici frees a connection a tick after the body ended; back-to-back
      // calls may open a second one, so leave that tick between them.
      const tick = () => new Promise((r) => setImmediate(r));
      await target.complete(QUERY, makeCtx(deps));
      await tick();
      await collect(target.stream(QUERY, makeCtx(deps)));
      await tick();
      await target.embed({ inputs: ['x'] }, makeCtx(deps));
      await tick();
      await target.complete(QUERY, makeCtx(deps));
      const ids = fake.requests.map((r) => r.connection);
      assert.equal(new Set(ids).size, 1, `connections used: ${ids.join(',')}`);
    });

    const calls = () => [
      () => target.complete(QUERY, makeCtx(deps)),
      () => collect(target.stream(QUERY, makeCtx(deps))),
      () => target.embed({ inputs: ['x'] }, makeCtx(deps)),
    ];
    const leakyBody = () => JSON.stringify({ error: { message: `bad key ${fake.apiKey}` } });

    for (const [status, code] of [
      [400, 'invalid_request'],
      [422, 'invalid_request'],
      [413, 'payload_too_large'],
    ] as const) {
      it(`passes upstream HTTP ${status} back as ${code} with the provider's message, credential removed (finite, stream, embed)`, async () => {
        fake.setBehavior({ kind: 'status', status, body: leakyBody(), headers: { 'retry-after': '5', 'x-echo': fake.apiKey } });
        for (const run of calls()) {
          const e = assertUpstreamError(
            await rejection(run()),
            code,
            `upstream rejected the request (HTTP ${status}): bad key [redacted]`,
            { phase: 'status', upstreamStatus: status, retryAfterMs: 5000 },
            secrets,
          );
          assert.equal(e.status, status === 413 ? 413 : 400);
          assert.equal(e.headers, undefined, 'only a 429 passes Retry-After on');
        }
      });
    }

    for (const status of [500, 503, 401, 404]) {
      it(`maps upstream HTTP ${status} to 502 upstream naming the status, without the upstream body (finite, stream, embed)`, async () => {
        fake.setBehavior({ kind: 'status', status, body: leakyBody(), headers: { 'retry-after': '5', 'x-echo': fake.apiKey } });
        for (const run of calls()) {
          const err = await rejection(run());
          const e = assertUpstreamError(
            err,
            'upstream',
            statusMessage(status),
            { phase: 'status', upstreamStatus: status, retryAfterMs: 5000 },
            secrets,
          );
          assert.equal(e.status, 502);
          assert.equal(e.headers, undefined, 'only a 429 passes Retry-After on');
        }
      });
    }

    for (const [label, headers, retryAfterMs, header] of [
      ['Retry-After in seconds', { 'retry-after': '7' }, 7000, '7'],
      ['retry-after-ms, rounded up to whole seconds', { 'retry-after-ms': '1500.5' }, 1500.5, '2'],
      ['retry-after-ms before Retry-After', { 'retry-after-ms': '250', 'retry-after': '9' }, 250, '1'],
      ['Retry-After in seconds, capped at 300 s for the client', { 'retry-after': '86400' }, 86_400_000, '300'],
      ['Retry-After as a date in the past', { 'retry-after': 'Thu, 01 Jan 1970 00:00:00 GMT' }, 0, '0'],
    ] as const) {
      it(`maps upstream HTTP 429 to 429 upstream_rate_limited passing ${label} on`, async () => {
        fake.setBehavior({ kind: 'status', status: 429, body: leakyBody(), headers });
        for (const run of calls()) {
          const e = assertUpstreamError(
            await rejection(run()),
            'upstream_rate_limited',
            /HTTP 429/,
            { phase: 'status', upstreamStatus: 429, retryAfterMs },
            secrets,
          );
          assert.equal(e.status, 429);
          assert.deepEqual(e.headers, { 'retry-after': header });
        }
      });
    }

    it('maps upstream HTTP 429 with Retry-After as an HTTP date to Retry-After in seconds, capped at 300 s', async () => {
      fake.setBehavior({
        kind: 'status',
        status: 429,
        headers: { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() },
      });
      const e = assertGatewayError(
        await rejection(target.complete(QUERY, makeCtx(deps))),
        'upstream_rate_limited',
        /HTTP 429/,
        secrets,
      );
      assert.deepEqual(e.headers, { 'retry-after': '300' });
      assert.ok(
        e.upstream!.retryAfterMs! > 3_500_000 && e.upstream!.retryAfterMs! <= 3_600_000,
        String(e.upstream!.retryAfterMs),
      );
    });

    for (const [label, headers] of [
      ['no wait', {}],
      ['an unreadable wait', { 'retry-after': 'soon', 'retry-after-ms': '-5' }],
    ] as const) {
      it(`maps upstream HTTP 429 with ${label} to 429 upstream_rate_limited without Retry-After`, async () => {
        fake.setBehavior({ kind: 'status', status: 429, headers });
        const e = assertUpstreamError(
          await rejection(target.complete(QUERY, makeCtx(deps))),
          'upstream_rate_limited',
          undefined,
          { phase: 'status', upstreamStatus: 429 },
          secrets,
        );
        assert.equal(e.headers, undefined);
      });
    }

    it('maps a wrong credential (the fake answers 401) to upstream', async () => {
      const wrong = makeDeps({ OPENAI_KEY: 'sk-wrong-key', PROVIDER_TOKEN: 'sk-wrong-key' });
      const t = createProviderTarget(config(flavor, fake.url), wrong);
      try {
        assertGatewayError(await rejection(t.complete(QUERY, makeCtx(wrong))), 'upstream', statusMessage(401), ['sk-wrong-key']);
        assertNoSecretIn(wrong.lines, ['sk-wrong-key']);
      } finally {
        await t.close();
      }
    });

    it('maps malformed JSON to upstream', async () => {
      fake.setBehavior({ kind: 'malformed' });
      assertUpstreamError(
        await rejection(target.complete(QUERY, makeCtx(deps))),
        'upstream',
        'upstream sent malformed JSON',
        { phase: 'stream' },
        secrets,
      );
      assertGatewayError(
        await rejection(target.embed({ inputs: ['x'] }, makeCtx(deps))),
        'upstream',
        'upstream sent malformed JSON',
        secrets,
      );
    });

    it('maps malformed SSE data mid-stream to upstream after the good tokens', async () => {
      fake.setBehavior({ kind: 'malformed', afterChunks: 2 });
      const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
      assert.deepEqual(tokensOf(chunks), ['Gate']);
      assertUpstreamError(error, 'upstream', 'upstream sent malformed stream data', { phase: 'stream' }, secrets);
    });

    it('maps an in-stream error object to upstream', async () => {
      fake.setBehavior({ kind: 'provider-error', afterChunks: 3 });
      const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
      assert.deepEqual(tokensOf(chunks), ['Gate', 'way']);
      assertUpstreamError(error, 'upstream', 'upstream reported an error mid-stream', { phase: 'stream' }, secrets);
    });

    it('maps a stream that ends cleanly before finishing to upstream', async () => {
      fake.setBehavior({ kind: 'truncate', afterChunks: 2 });
      const { error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
      assertGatewayError(error, 'upstream', 'upstream stream ended unexpectedly', secrets);
    });

    it('maps a connection reset mid-stream to upstream after the good tokens', async () => {
      fake.setBehavior({ kind: 'reset', afterChunks: 3 });
      const { chunks, error } = await collectUntilError(target.stream(QUERY, makeCtx(deps)));
      assert.deepEqual(tokensOf(chunks), ['Gate', 'way']);
      assertGatewayError(error, 'upstream', 'upstream stream ended unexpectedly', secrets);
    });

    it('maps a connection reset mid-body (finite) to upstream', async () => {
      fake.setBehavior({ kind: 'reset' });
      assertUpstreamError(
        await rejection(target.complete(QUERY, makeCtx(deps))),
        'upstream',
        'upstream response ended unexpectedly',
        { phase: 'stream' },
        secrets,
      );
    });

    it('maps a refused connection to upstream', async () => {
      const port = await closedPort();
      const t = createProviderTarget(config(flavor, `http://127.0.0.1:${port}/v1`), deps);
      try {
        assertUpstreamError(
          await rejection(t.complete(QUERY, makeCtx(deps))),
          'upstream',
          'upstream connection failed',
          { phase: 'connect' },
          secrets,
        );
        assertGatewayError(
          await rejection(collect(t.stream(QUERY, makeCtx(deps)))),
          'upstream',
          'upstream connection failed',
          secrets,
        );
      } finally {
        await t.close();
      }
    });

    it('maps an unexpected response shape to upstream', async () => {
      fake.setBehavior({ kind: 'status', status: 200, body: JSON.stringify({ object: 'list', nothing: true }) });
      assertUpstreamError(
        await rejection(target.complete(QUERY, makeCtx(deps))),
        'upstream',
        'upstream sent an unexpected response',
        { phase: 'stream' },
        secrets,
      );
      assertGatewayError(
        await rejection(target.embed({ inputs: ['x'] }, makeCtx(deps))),
        'upstream',
        'upstream sent an unexpected response',
        secrets,
      );
    });

    describe('timeouts', () => {
      // `fast` (0.3 s) only meets upstreams that never answer, so the timeout fires whatever the machine's speed.
      // Where a test needs bytes to arrive before the timeout, `patient` (2 s) leaves a loaded machine room:
      // its gaps are a fraction of the timeout and only their sum exceeds it.
      let fast: Target;
      let patient: Target;
      beforeEach(() => {
        fast = createProviderTarget(config(flavor, fake.url, { timeout_seconds: 0.3 }), deps);
        patient = createProviderTarget(config(flavor, fake.url, { timeout_seconds: 2 }), deps);
      });
      after(async () => {
        await fast?.close();
        await patient?.close();
      });

      it('times out when the headers never come (finite, stream, embed) and closes the upstream request', async () => {
        fake.setBehavior({ kind: 'stall-headers' });
        const before = fake.abortedCount;
        assertUpstreamError(
          await rejection(fast.complete(QUERY, makeCtx(deps))),
          'upstream_timeout',
          undefined,
          { phase: 'timeout' },
          secrets,
        );
        assertGatewayError(await rejection(collect(fast.stream(QUERY, makeCtx(deps)))), 'upstream_timeout', undefined, secrets);
        assertGatewayError(await rejection(fast.embed({ inputs: ['x'] }, makeCtx(deps))), 'upstream_timeout', undefined, secrets);
        await fake.waitForAborts(before + 3);
        await fast.close();
      });

      it('times out when a finite body stalls after the headers', async () => {
        fake.setBehavior({ kind: 'stall' });
        assertGatewayError(
          await rejection(fast.complete(QUERY, makeCtx(deps))),
          'upstream_timeout',
          'upstream did not answer within 0.3 s',
          secrets,
        );
        await fast.close();
      });

      it('bounds a slow finite answer as a whole', async () => {
        fake.setBehavior({ kind: 'delay', ms: 600 });
        assertGatewayError(await rejection(fast.complete(QUERY, makeCtx(deps))), 'upstream_timeout', undefined, secrets);
        await fast.close();
      });

      it('times out a stream that stalls after some tokens', async () => {
        fake.setBehavior({ kind: 'stall', afterChunks: 2 });
        const { chunks, error } = await collectUntilError(patient.stream(QUERY, makeCtx(deps)));
        assert.deepEqual(tokensOf(chunks), ['Gate']);
        assertGatewayError(error, 'upstream_timeout', undefined, secrets);
        await patient.close();
      });

      it('lets a stream run longer than the timeout while every gap stays below it', async () => {
        fake.setBehavior({ kind: 'slow', gapMs: 400 }); // 7 frames: ~2.8 s in total, gaps of 400 ms
        const chunks = await collect(patient.stream(QUERY, makeCtx(deps)));
        assert.deepEqual(tokensOf(chunks), ['Gate', 'way', ' ready']);
        await patient.close();
      });

      it('does not count time the consumer holds a chunk as upstream silence', async () => {
        const chunks = [];
        for await (const c of patient.stream(QUERY, makeCtx(deps))) {
          chunks.push(c);
          await new Promise((r) => setTimeout(r, 600)); // 4 × 600 ms > 2 s timeout
        }
        assert.equal(chunks.at(-1)!.type, 'end');
        await patient.close();
      });
    });

    describe('client abort', () => {
      it('aborts the upstream request mid-stream and stops the iteration with the abort reason', async () => {
        fake.setBehavior({ kind: 'stall', afterChunks: 2 });
        const controller = new AbortController();
        const before = fake.abortedCount;
        const seen: string[] = [];
        const iteration = (async () => {
          for await (const c of target.stream(QUERY, makeCtx(deps, controller.signal))) {
            if (c.type === 'token') {
              seen.push(c.text);
              setImmediate(() => controller.abort());
            }
          }
        })();
        const err = await rejection(iteration);
        assert.equal((err as Error).name, 'AbortError', `got ${String(err)}`);
        assert.deepEqual(seen, ['Gate']);
        await fake.waitForAborts(before + 1);
      });

      it('aborts a finite request waiting for headers', async () => {
        fake.setBehavior({ kind: 'stall-headers' });
        const controller = new AbortController();
        const before = fake.abortedCount;
        const seen = fake.requests.length;
        const p = target.complete(QUERY, makeCtx(deps, controller.signal));
        // Abort once the upstream has the request (not after a fixed delay, which a loaded machine can outlast).
        await until(() => fake.requests.length > seen, 'the upstream to receive the request');
        controller.abort();
        const err = await rejection(p);
        assert.equal((err as Error).name, 'AbortError');
        await fake.waitForAborts(before + 1);
      });

      it('closes the upstream connection when the consumer stops iterating early', async () => {
        fake.setBehavior({ kind: 'stall', afterChunks: 2 });
        const before = fake.abortedCount;
        for await (const c of target.stream(QUERY, makeCtx(deps))) {
          assert.equal(c.type, 'token');
          break;
        }
        await fake.waitForAborts(before + 1);
      });

      it('never sends a request when the signal is already aborted', async () => {
        const controller = new AbortController();
        controller.abort();
        const err = await rejection(target.complete(QUERY, makeCtx(deps, controller.signal)));
        assert.equal((err as Error).name, 'AbortError');
        assert.equal(fake.requests.length, 0);
      });
    });

    it('close() releases the pooled connections', async () => {
      await target.complete(QUERY, makeCtx(deps));
      assert.ok(fake.openConnections >= 1);
      await target.close();
      const deadline = Date.now() + 30_000; // a bound against hanging, not a speed claim
      while (fake.openConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(fake.openConnections, 0);
    });
  });
}
