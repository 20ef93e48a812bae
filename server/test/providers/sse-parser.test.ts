import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, type SseEvent } from '../../src/targets/providers/sse-parser.js';

const enc = new TextEncoder();

function parseChunks(chunks: Array<string | Uint8Array>): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(typeof c === 'string' ? enc.encode(c) : c));
  out.push(...p.end());
  return out;
}

describe('SseParser', () => {
  it('parses data-only events and named events', () => {
    assert.deepEqual(parseChunks(['data: {"a":1}\n\nevent: ping\ndata: {}\n\n']), [
      { event: 'message', data: '{"a":1}' },
      { event: 'ping', data: '{}' },
    ]);
  });

  it('handles lines and events split across chunks at every position', () => {
    const text = 'event: delta\ndata: {"text":"héllo ✓"}\n\ndata: [DONE]\n\n';
    const bytes = enc.encode(text);
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(parseChunks([bytes.subarray(0, i), bytes.subarray(i)]), [
        { event: 'delta', data: '{"text":"héllo ✓"}' },
        { event: 'message', data: '[DONE]' },
      ], `split at ${i}`);
    }
  });

  it('accepts CRLF and CR line endings, including a CRLF split between chunks', () => {
    assert.deepEqual(parseChunks(['data: a\r\n\r\ndata: b\r\r']), [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
    assert.deepEqual(parseChunks(['data: a\r', '\n\r', '\ndata: b\n\n']), [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
  });

  it('joins multi-line data, ignores comments, id/retry and unknown fields, keeps values without a space', () => {
    assert.deepEqual(parseChunks([': keep-alive\nid: 7\nretry: 10\nfoo: bar\ndata:x\ndata: y\n\n']), [{ event: 'message', data: 'x\ny' }]);
  });

  it('dispatches nothing for an event without data and drops an unterminated trailing event', () => {
    assert.deepEqual(parseChunks(['event: lonely\n\ndata: complete\n\ndata: partial']), [{ event: 'message', data: 'complete' }]);
  });

  it('resets the event name after each event', () => {
    assert.deepEqual(parseChunks(['event: a\ndata: 1\n\ndata: 2\n\n']), [
      { event: 'a', data: '1' },
      { event: 'message', data: '2' },
    ]);
  });
});
