import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseEventTooLarge, SseParser, type SseEvent } from '../../src/targets/providers/sse-parser.js';

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
      assert.deepEqual(
        parseChunks([bytes.subarray(0, i), bytes.subarray(i)]),
        [
          { event: 'delta', data: '{"text":"héllo ✓"}' },
          { event: 'message', data: '[DONE]' },
        ],
        `split at ${i}`,
      );
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
    assert.deepEqual(parseChunks([': keep-alive\nid: 7\nretry: 10\nfoo: bar\ndata:x\ndata: y\n\n']), [
      { event: 'message', data: 'x\ny' },
    ]);
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

  it('examines each byte once: a line arriving in many chunks costs work linear in its length', () => {
    // Counted work, not wall time: 2 MiB in 4 KiB chunks must scan 2 MiB, not the ~512 MiB a re-scan of the joined line would.
    const p = new SseParser({ maxEventBytes: 4 * 1_048_576 });
    const chunk = enc.encode('x'.repeat(4096));
    p.push(enc.encode('data: '));
    for (let i = 0; i < 512; i++) assert.deepEqual(p.push(chunk), []);
    assert.deepEqual(p.push(enc.encode('\n\n')), [{ event: 'message', data: 'x'.repeat(512 * 4096) }]);
    assert.equal(p.scannedBytes, 6 + 512 * 4096 + 2);
  });

  it('a 16 MiB line in 16,384 pieces completes (any per-piece re-join or re-scan would be ~10^11 byte operations)', () => {
    // No wall-clock assertion: linear work finishes at once; quadratic work would not finish within the test timeout.
    const p = new SseParser({ maxEventBytes: 32 * 1_048_576 });
    const piece = enc.encode('y'.repeat(1024));
    p.push(enc.encode('data: '));
    for (let i = 0; i < 16_384; i++) p.push(piece);
    const [event] = p.push(enc.encode('\n\n'));
    assert.equal(event?.data.length, 16 * 1_048_576);
  });

  it('refuses a line or event over maxEventBytes (bytes, not characters) as soon as it is crossed', () => {
    const p = new SseParser({ maxEventBytes: 64 });
    assert.deepEqual(
      p.push(enc.encode(`data: ${'a'.repeat(58)}\n\n`)),
      [{ event: 'message', data: 'a'.repeat(58) }],
      'exactly 64 bytes is allowed',
    );
    p.push(enc.encode('data: '));
    // 20 three-byte characters: 60 bytes, 20 characters.
    assert.throws(
      () => p.push(enc.encode('✓'.repeat(20))),
      (e) => e instanceof SseEventTooLarge && e.limit === 64,
    );
    // Several lines of one event count together; a comment line does not add to the event.
    const q = new SseParser({ maxEventBytes: 64 });
    assert.deepEqual(q.push(enc.encode(`: ${'c'.repeat(60)}\ndata: ${'b'.repeat(30)}\n`)), []);
    assert.throws(() => q.push(enc.encode(`data: ${'b'.repeat(30)}\n`)), SseEventTooLarge);
  });

  it('strips one leading byte-order mark only', () => {
    assert.deepEqual(parseChunks([new Uint8Array([0xef, 0xbb, 0xbf]), 'data: a\n\n']), [{ event: 'message', data: 'a' }]);
    assert.deepEqual(parseChunks(['data: \ufeffb\n\n']), [{ event: 'message', data: '\ufeffb' }]);
  });
});
