/**
 * The in-place rename of pass-through bodies and frames (json-splice.ts,
 * docs/api.md#pass-through): only the member at the path changes; key order,
 * whitespace, escapes, unknown fields and a `model` anywhere else stay as they were.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spliceBytes, spliceString, stringSpans } from '../../src/targets/providers/json-splice.js';

describe('json-splice', () => {
  it('renames the top-level member only, every other byte as it was', () => {
    const text =
      '{ "z": 1, "metadata": {"model": "inner"}, "input": "say \\"model\\": \\"x\\"", "model" : "oa",\n "caf\\u00e9": "\\ud83d\\ude00", "n": [1.0, 1e2, {"model":"y"}] }';
    const out = spliceString(text, ['model'], 'up-model');
    assert.equal(out, text.replace('"model" : "oa"', '"model" : "up-model"'));
    assert.deepEqual(JSON.parse(out!), { ...JSON.parse(text), model: 'up-model' });
  });

  it('finds a key written with escapes and every duplicate; a string with escaped quotes and backslashes is skipped whole', () => {
    assert.equal(
      spliceString('{"mod\\u0065l":"a","x":"\\\\","model":"b"}', ['model'], 'm'),
      '{"mod\\u0065l":"m","x":"\\\\","model":"m"}',
    );
    assert.equal(spliceString('{"x":"\\\\\\"model\\":1","model":"a"}', ['model'], 'm'), '{"x":"\\\\\\"model\\":1","model":"m"}');
  });

  it('renames a nested path (a Responses or Anthropic frame) and leaves the top level alone', () => {
    const frame = '{"type":"response.created","model":"keep","response":{"id":"r","model":"up","output":[]},"sequence_number":0}';
    assert.equal(spliceString(frame, ['response', 'model'], 'native'), frame.replace('"model":"up"', '"model":"native"'));
  });

  it('answers null when it cannot say: no such member, not a string, not an object, trailing text, unterminated', () => {
    for (const text of [
      '{"a":1}',
      '{"model":1}',
      '{"model":null}',
      '[{"model":"a"}]',
      '{"model":"a"} x',
      '{"model":"a',
      '"model"',
      '{"model" "a"}',
    ]) {
      assert.equal(stringSpans(text, ['model']), null, text);
    }
    assert.equal(spliceString('{"response":"x"}', ['response', 'model'], 'm'), null);
  });

  it('bytes: the top-level member only, beside a nested model, an escaped key, a value "model"', () => {
    const cases: Array<[string, string]> = [
      [
        '{"messages":[{"role":"user","content":"hi"}],"model":"oa","stream":true}',
        '{"messages":[{"role":"user","content":"hi"}],"model":"m","stream":true}',
      ],
      ['{"metadata":{"model":"x"},"mod\\u0065l":"oa"}', '{"metadata":{"model":"x"},"mod\\u0065l":"m"}'],
      ['{"role":"model","model" : "oa"}', '{"role":"model","model" : "m"}'],
      ['{"a":"\\\\u","x":{"model":"keep"},"model":"oa"}', '{"a":"\\\\u","x":{"model":"keep"},"model":"m"}'],
    ];
    for (const [text, want] of cases) assert.equal(spliceBytes(Buffer.from(text), 'model', 'm')!.toString(), want, text);
  });

  it('splices UTF-8 bytes: multi-byte text before and after keeps its bytes, a non-ASCII model name is encoded', () => {
    const raw = Buffer.from('{"input":"héllo ✓ 😀","model":"oa","tail":"ü"}', 'utf8');
    const out = spliceBytes(raw, 'model', 'módel');
    assert.equal(out!.toString('utf8'), '{"input":"héllo ✓ 😀","model":"módel","tail":"ü"}');
  });
});
