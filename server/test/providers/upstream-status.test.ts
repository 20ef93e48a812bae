/** The provider-status mapping: which wait a provider asked for, and what the client is told. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  providerMessage,
  retryAfterHeader,
  retryAfterMs,
  upstreamStatusError,
} from '../../src/targets/providers/upstream-status.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

describe('provider Retry-After', () => {
  it('reads delay-seconds, HTTP dates (relative to now) and retry-after-ms, preferring retry-after-ms', () => {
    assert.equal(retryAfterMs({ 'retry-after': '7' }, NOW), 7000);
    assert.equal(retryAfterMs({ 'retry-after': ' 0 ' }, NOW), 0);
    assert.equal(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 12:00:42 GMT' }, NOW), 42_000);
    assert.equal(retryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 12:00:00 GMT' }, NOW), 0, 'a date in the past means now');
    assert.equal(retryAfterMs({ 'retry-after-ms': '1200.5', 'retry-after': '9' }, NOW), 1200.5);
    assert.equal(
      retryAfterMs({ 'retry-after-ms': 'soon', 'retry-after': '9' }, NOW),
      9000,
      'an unreadable retry-after-ms falls back',
    );
  });

  it('keeps long waits exact (routing compares them with its own limits) and caps only the client header at 300 s', () => {
    assert.equal(retryAfterMs({ 'retry-after': '301' }, NOW), 301_000);
    assert.equal(retryAfterMs({ 'retry-after-ms': '300001' }, NOW), 300_001);
    assert.equal(retryAfterMs({ 'retry-after': 'Fri, 02 Jan 2026 12:00:00 GMT' }, NOW), 86_400_000);
    assert.equal(retryAfterHeader(300_000), '300');
    assert.equal(retryAfterHeader(300_001), '300');
    assert.equal(retryAfterHeader(86_400_000), '300');
    assert.deepEqual(upstreamStatusError(429, 86_400_000).headers, { 'retry-after': '300' });
    assert.equal(upstreamStatusError(429, 86_400_000).upstream?.retryAfterMs, 86_400_000);
  });

  it('ignores absent and unreadable values', () => {
    assert.equal(retryAfterMs({}, NOW), undefined);
    for (const v of ['-1', '1.5', 'soon', '', '7 seconds']) assert.equal(retryAfterMs({ 'retry-after': v }, NOW), undefined, v);
    assert.equal(retryAfterMs({ 'retry-after-ms': '-3' }, NOW), undefined);
  });

  it('rounds a wait up to whole seconds for the client', () => {
    assert.equal(retryAfterHeader(0), '0');
    assert.equal(retryAfterHeader(1), '1');
    assert.equal(retryAfterHeader(1000), '1');
    assert.equal(retryAfterHeader(1001), '2');
  });
});

describe('provider status errors', () => {
  it('429 → upstream_rate_limited (429) with Retry-After when the provider sent a wait', () => {
    const e = upstreamStatusError(429, 1500);
    assert.equal(e.code, 'upstream_rate_limited');
    assert.equal(e.status, 429);
    assert.deepEqual(e.headers, { 'retry-after': '2' });
    assert.deepEqual(e.upstream, { phase: 'status', upstreamStatus: 429, retryAfterMs: 1500 });
    assert.equal(upstreamStatusError(429, undefined).headers, undefined);
  });

  it('other statuses → upstream (502) naming the status, never passing a wait on', () => {
    for (const [status, message] of [
      [401, 'upstream rejected the request (HTTP 401)'],
      [404, 'upstream rejected the request (HTTP 404)'],
      [500, 'upstream failed (HTTP 500)'],
      [503, 'upstream failed (HTTP 503)'],
      [302, 'upstream returned an unexpected status (HTTP 302)'],
    ] as const) {
      const e = upstreamStatusError(status, 5000);
      assert.equal(e.code, 'upstream');
      assert.equal(e.status, 502);
      assert.equal(e.message, message);
      assert.equal(e.headers, undefined);
      assert.deepEqual(e.upstream, { phase: 'status', upstreamStatus: status, retryAfterMs: 5000 });
    }
  });
});

describe('provider rejections of the request itself (400, 413, 422)', () => {
  it('become 400 invalid_request / 413 payload_too_large carrying the provider message', () => {
    for (const [status, code, httpStatus] of [
      [400, 'invalid_request', 400],
      [422, 'invalid_request', 400],
      [413, 'payload_too_large', 413],
    ] as const) {
      const e = upstreamStatusError(status, undefined, 'tool_choice: no such tool');
      assert.equal(e.code, code);
      assert.equal(e.status, httpStatus);
      assert.equal(e.message, `upstream rejected the request (HTTP ${status}): tool_choice: no such tool`);
      assert.deepEqual(e.upstream, { phase: 'status', upstreamStatus: status });
    }
    assert.equal(upstreamStatusError(400, undefined).message, 'upstream rejected the request (HTTP 400)');
  });

  it('take the message from the provider error shapes, cleaned and without credentials', () => {
    const key = 'sk-proj-abcdefghijklmnop';
    assert.equal(
      providerMessage(JSON.stringify({ error: { message: 'Invalid image', type: 'invalid_request_error' } }), [key]),
      'Invalid image',
    );
    assert.equal(
      providerMessage(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'bad\r\n\tinput' } }), []),
      'bad input',
    );
    assert.equal(providerMessage(JSON.stringify({ detail: 'vLLM says no' }), []), 'vLLM says no');
    assert.equal(providerMessage(JSON.stringify({ message: `uses ${key}` }), [key]), 'uses [redacted]');
    assert.equal(
      providerMessage(JSON.stringify({ message: 'key sk-other-0123456789 and Bearer abc.def' }), []),
      'key [redacted] and Bearer [redacted]',
    );
    assert.equal(providerMessage(JSON.stringify({ message: 'x'.repeat(1000) }), [])!.length, 300);
    assert.equal(providerMessage('<html>Bad Request</html>', []), undefined);
    assert.equal(providerMessage(JSON.stringify({ error: { code: 400 } }), []), undefined);
  });
});
