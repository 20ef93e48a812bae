/**
 * The gateway's request and routing counters (src/telemetry/metrics.ts): the
 * hot path adds to plain tallies that reach prom-client when the registry is
 * read, so every read must show each request exactly once, and a value a
 * prom-client counter refuses is refused when it is counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '@sipp/shared';
import { createMetrics, createRoutingMetrics } from '../../src/telemetry/metrics.js';

const record: RequestRecord = {
  requestId: 'r1',
  time: 1_700_000_000_000,
  api: 'openai',
  operation: 'chat',
  model: 'chat',
  target: 'chat',
  group: null,
  attempts: [],
  upstreamStatus: null,
  reason: null,
  caller: 'team',
  client: '127.0.0.1',
  status: 200,
  code: null,
  durationMs: 12,
  ttftMs: null,
  inputTokens: 20,
  outputTokens: 5,
  stream: false,
  ignored: [],
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};

describe('gateway metrics', () => {
  it('shows each request once however often the registry is read', async () => {
    const m = createMetrics({ targetNames: ['chat'], activeRequests: () => 0, processMetrics: false });
    const routing = createRoutingMetrics(m.registry, ['chat'], []);
    const value = async (name: string, labels: Record<string, string> = {}) => {
      const metric = await m.registry.getSingleMetric(name)!.get();
      const found = metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
      return found?.value;
    };
    const read = async () => ({
      requests: await value('sipp_gateway_requests_total', { api: 'openai', operation: 'chat' }),
      errors: await value('sipp_gateway_errors_total', { api: 'openai', operation: 'chat' }),
      ok: await value('sipp_gateway_responses_total', { status_class: '2xx' }),
      refused: await value('sipp_gateway_responses_total', { status_class: '4xx' }),
      rateLimited: await value('sipp_gateway_rate_limit_hits_total'),
      input: await value('sipp_gateway_input_tokens_total', { target: 'chat' }),
      output: await value('sipp_gateway_output_tokens_total', { target: 'chat' }),
      attempts: await value('sipp_gateway_upstream_attempts_total', { target: 'chat', outcome: 'success' }),
    });
    assert.deepEqual(await read(), {
      requests: 0,
      errors: 0,
      ok: undefined,
      refused: undefined,
      rateLimited: 0,
      input: 0,
      output: 0,
      attempts: 0,
    });

    m.onRequest(record);
    routing.attempt('chat', 'success');
    const once = { requests: 1, errors: 0, ok: 1, refused: undefined, rateLimited: 0, input: 20, output: 5, attempts: 1 };
    assert.deepEqual(await read(), once);
    assert.deepEqual(await read(), once, 'a second read counts nothing again');

    m.onRequest(record);
    m.onRequest({ ...record, status: 429, code: 'rate_limited', inputTokens: 0, outputTokens: 0 });
    routing.attempt('chat', 'success');
    assert.deepEqual(await read(), {
      requests: 3,
      errors: 1,
      ok: 2,
      refused: 1,
      rateLimited: 1,
      input: 40,
      output: 10,
      attempts: 2,
    });
    assert.match(await m.registry.metrics(), /^sipp_gateway_requests_total\{api="openai",operation="chat"\} 3$/m);
  });

  it('refuses token counts a counter cannot take, as prom-client does', () => {
    const m = createMetrics({ targetNames: ['chat'], activeRequests: () => 0, processMetrics: false });
    assert.throws(() => m.onRequest({ ...record, inputTokens: -1 }), /not possible to decrease a counter/);
    assert.throws(() => m.onRequest({ ...record, outputTokens: Infinity }), /not a valid number/);
  });
});
