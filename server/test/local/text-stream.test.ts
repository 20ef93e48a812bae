/** UTF-8 hold-back across tokens and stop-string matching. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IncrementalDetokenizer, StopMatcher } from '../../src/targets/local/text-stream.js';

/** A byte-level vocabulary: token id = one byte, decoded like llama.cpp byte tokens (invalid → U+FFFD). */
const byteDetok = (tokens: readonly number[]) => new TextDecoder().decode(Uint8Array.from(tokens));
const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

describe('IncrementalDetokenizer', () => {
  it('holds back partial multi-byte characters until they are complete', () => {
    const d = new IncrementalDetokenizer(byteDetok, []);
    const out: Array<{ text: string; tokens: number }> = [];
    for (const b of bytes('aé日😀')) out.push(d.push(b));
    out.push(d.flush());
    const pieces = out.filter((p) => p.text);
    assert.deepEqual(
      pieces.map((p) => p.text),
      ['a', 'é', '日', '😀'],
    );
    assert.deepEqual(
      pieces.map((p) => p.tokens),
      [1, 2, 3, 4],
    );
    for (const p of pieces) assert.ok(!p.text.includes('\uFFFD'));
  });

  it('gives up holding after 4 tokens (invalid bytes become U+FFFD, never stall)', () => {
    const d = new IncrementalDetokenizer(byteDetok, []);
    const texts = [0xe6, 0xe6, 0xe6, 0xe6].map((b) => d.push(b).text);
    assert.equal(texts.slice(0, 3).join(''), '');
    assert.ok(texts[3]!.includes('\uFFFD'));
  });

  it('flush returns whatever is still held', () => {
    const d = new IncrementalDetokenizer(byteDetok, []);
    assert.equal(d.push(0xc3).text, '');
    const rest = d.flush();
    assert.equal(rest.tokens, 1);
    assert.equal(rest.text, '\uFFFD');
    assert.deepEqual(d.flush(), { text: '', tokens: 0 });
  });

  it('passes the preceding tokens as context (leading-space rules)', () => {
    const seen: number[][] = [];
    const d = new IncrementalDetokenizer((t, last) => (seen.push([...last]), byteDetok(t)), [1, 2, 3]);
    d.push(65);
    d.push(66);
    assert.deepEqual(seen, [
      [1, 2, 3],
      [1, 2, 3, 65],
    ]);
  });
});

describe('StopMatcher', () => {
  it('passes text through without stop strings', () => {
    const m = new StopMatcher([]);
    assert.deepEqual(m.push('hello'), { emit: 'hello', stopped: false });
  });

  it('stops before a stop string inside one piece and never emits it', () => {
    const m = new StopMatcher(['END']);
    assert.deepEqual(m.push('abcENDdef'), { emit: 'abc', stopped: true, matched: 'END' });
  });

  it('matches a stop string split across pieces, holding back the possible prefix', () => {
    const m = new StopMatcher(['</answer>']);
    assert.deepEqual(m.push('result </an'), { emit: 'result ', stopped: false });
    assert.deepEqual(m.push('swer> tail'), { emit: '', stopped: true, matched: '</answer>' });
  });

  it('releases held text when it turns out not to be a stop string', () => {
    const m = new StopMatcher(['STOP']);
    assert.deepEqual(m.push('go ST'), { emit: 'go ', stopped: false });
    assert.deepEqual(m.push('ART'), { emit: 'START', stopped: false });
    assert.deepEqual(m.push('ST'), { emit: '', stopped: false });
    assert.equal(m.flush(), 'ST');
  });

  it('picks the earliest of several stop strings and says which one matched', () => {
    const m = new StopMatcher(['zz', 'b']);
    assert.deepEqual(m.push('abczz'), { emit: 'a', stopped: true, matched: 'b' });
  });
});
