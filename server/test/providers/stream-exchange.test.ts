/**
 * StreamExchange: how a provider's stream is read through undici's dispatch
 * handler (docs/architecture.md#streams). undici calls the handler's methods
 * as a real exchange does; the reader's side is driven as upstream-client.ts
 * drives it. Through the gateway, every stream test (through-gateway,
 * upstream-bounds, client-aborts, passthrough-raw…) runs this path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamExchange } from '../../src/targets/providers/upstream-client.js';

const KiB = 1024;

describe('StreamExchange (undici dispatch handler of a stream)', () => {
  it('pauses the upstream past 64 KiB queued and resumes it once the reader has taken them', () => {
    const ex = new StreamExchange();
    let resumed = 0;
    ex.onConnect(() => {});
    assert.equal(
      ex.onHeaders(200, [], () => resumed++),
      true,
    );
    // Nobody waits: chunks queue; the one that reaches 64 KiB asks undici to pause the socket.
    for (let i = 0; i < 3; i++) assert.equal(ex.onData(Buffer.alloc(16 * KiB)), true, `chunk ${i}`);
    assert.equal(ex.onData(Buffer.alloc(16 * KiB)), false);
    assert.equal(resumed, 0);
    // Taking one chunk brings the queue under the mark: undici is told to read on, once.
    assert.equal(ex.take()?.length, 16 * KiB);
    assert.equal(resumed, 1);
    ex.take();
    assert.equal(resumed, 1);
    assert.equal(ex.onData(Buffer.alloc(16 * KiB)), true);
  });

  it('hands a chunk to a waiting reader at once, then the end; a failure rejects the reader', async () => {
    const ex = new StreamExchange();
    ex.onConnect(() => {});
    ex.onHeaders(100, [], () => {}); // 1xx: still waiting for the answer
    ex.onHeaders(200, [Buffer.from('Retry-After'), Buffer.from('3')], () => {});
    assert.equal(await ex.head, 200);
    assert.deepEqual(ex.headers(), { 'retry-after': '3' });
    assert.equal(ex.take(), undefined);
    const waiting = ex.next();
    assert.equal(ex.onData(Buffer.from('data: 1\n\n')), true);
    assert.equal((await waiting)?.toString(), 'data: 1\n\n');
    const end = ex.next();
    ex.onComplete();
    assert.equal(await end, null);

    const failing = new StreamExchange();
    failing.onConnect(() => {});
    failing.onHeaders(200, [], () => {});
    const reading = failing.next();
    const err = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    failing.onError(err);
    await assert.rejects(reading, (e) => e === err);
    await assert.rejects(failing.next(), (e) => e === err);
  });

  it('a failure before the headers rejects `head`; a cancel before undici connects aborts at connect, once', async () => {
    const ex = new StreamExchange();
    const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    ex.onError(err);
    await assert.rejects(ex.head, (e) => e === err);

    const early = new StreamExchange();
    const reason = new Error('client left');
    early.cancel(reason);
    const aborted: unknown[] = [];
    early.onConnect((e) => aborted.push(e));
    assert.deepEqual(aborted, [reason]);
    early.cancel(new Error('again'));
    assert.equal(aborted.length, 1);

    // A finished exchange is not aborted (its connection goes back to the pool).
    const done = new StreamExchange();
    const calls: unknown[] = [];
    done.onConnect((e) => calls.push(e));
    done.onHeaders(200, [], () => {});
    done.onComplete();
    done.cancel(new Error('stream closed by the gateway'));
    assert.deepEqual(calls, []);
  });

  it('stop(): an open exchange is aborted with a reason; a finished one is left alone, and no Error is made for it', () => {
    const open = new StreamExchange();
    const aborted: unknown[] = [];
    open.onConnect((e) => aborted.push(e));
    open.onHeaders(200, [], () => {});
    open.stop();
    assert.equal(aborted.length, 1);
    assert.match((aborted[0] as Error).message, /stream closed by the gateway/);

    const done = new StreamExchange();
    const calls: unknown[] = [];
    done.onConnect((e) => calls.push(e));
    done.onHeaders(200, [], () => {});
    done.onComplete();
    // Every stream that ends well is stopped: its reason (an Error, with its stack trace) must not be built.
    const made: unknown[] = [];
    const Original = globalThis.Error;
    globalThis.Error = class extends Original {
      constructor(message?: string) {
        super(message);
        made.push(message);
      }
    } as ErrorConstructor;
    try {
      done.stop();
    } finally {
      globalThis.Error = Original;
    }
    assert.deepEqual(calls, []);
    assert.deepEqual(made, []);
  });
});
