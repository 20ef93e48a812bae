/**
 * The nesting bound (src/public/json-depth.ts) on its own: the exact limit for
 * objects and arrays alike, every member walked (not only the first or the
 * last), and the error naming the first field found too deep. The gateway's
 * answer to a deep body is pinned in test/providers/upstream-bounds.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidFieldError } from '../../src/errors.js';
import { checkJsonDepth } from '../../src/public/json-depth.js';

/** `levels` levels of `{ a: … }` below the value itself (a leaf at the bottom). */
const objects = (levels: number): unknown => (levels === 0 ? 'leaf' : { a: objects(levels - 1) });
const arrays = (levels: number): unknown => (levels === 0 ? 1 : [arrays(levels - 1)]);

function refused(body: object, max: number): InvalidFieldError {
  try {
    checkJsonDepth(body, max);
  } catch (err) {
    assert.ok(err instanceof InvalidFieldError, String(err));
    return err;
  }
  assert.fail('not refused');
}

describe('checkJsonDepth', () => {
  it('allows exactly max levels and refuses one more, for objects and for arrays', () => {
    // The body is level 1: `{ x: <n levels> }` is n + 1 levels deep (a scalar leaf is no level).
    checkJsonDepth({ x: objects(3) }, 4);
    checkJsonDepth({ x: arrays(3) }, 4);
    assert.equal(refused({ x: objects(4) }, 4).param, 'x.a.a.a');
    assert.equal(refused({ x: arrays(4) }, 4).param, 'x[0][0][0]');
  });

  it('walks every member of an object and every element of an array', () => {
    const deep = objects(10);
    assert.equal(refused({ first: deep, b: 1, c: null, last: 'x' }, 5).param, 'first.a.a.a.a');
    assert.equal(refused({ a: 1, b: null, last: deep }, 5).param, 'last.a.a.a.a');
    assert.equal(refused({ m: [1, null, 'x', {}, deep] }, 5).param, 'm[4].a.a.a');
    assert.equal(refused({ m: [deep, 1, 2] }, 5).param, 'm[0].a.a.a');
  });

  it('names the first deep field found, with up to six steps', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'text', meta: objects(20) }] }] };
    const err = refused(body, 8);
    assert.equal(err.param, 'messages[0].content[0].meta.a');
    assert.equal(err.message, 'messages[0].content[0].meta.a: nested deeper than 8 levels (max_json_depth)');
  });

  it('walks only the body’s own members, and a JSON.parse `__proto__` member like any other', () => {
    checkJsonDepth(JSON.parse('{"__proto__": {"a": 1}}') as object, 2);
    assert.equal(refused(JSON.parse('{"__proto__": {"a": {"b": {}}}}') as object, 3).param, '__proto__.a.b');
  });
});
