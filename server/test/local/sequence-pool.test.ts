/** The bounded FIFO pool that hands sequences to requests. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { SequencePool } from '../../src/targets/local/sequence-pool.js';

const live = () => new AbortController().signal;

describe('SequencePool', () => {
  it('hands out free items, then queues waiters in FIFO order', async () => {
    const pool = new SequencePool(['a', 'b'], 4, 'test');
    const l1 = await pool.acquire(live());
    const l2 = await pool.acquire(live());
    assert.deepEqual([l1.item, l2.item].sort(), ['a', 'b']);
    assert.equal(pool.busy, 2);
    const order: string[] = [];
    const w1 = pool.acquire(live()).then((l) => (order.push('w1'), l));
    const w2 = pool.acquire(live()).then((l) => (order.push('w2'), l));
    assert.equal(pool.queued, 2);
    l2.release();
    const g1 = await w1;
    assert.equal(g1.item, l2.item);
    l1.release();
    const g2 = await w2;
    assert.deepEqual(order, ['w1', 'w2']);
    assert.equal(pool.queued, 0);
    g1.release();
    g2.release();
    assert.equal(pool.busy, 0);
  });

  it('rejects with 429 admission when the queue is full', async () => {
    const pool = new SequencePool(['only'], 1, 'local target "t"');
    const held = await pool.acquire(live());
    const waiting = pool.acquire(live());
    await assert.rejects(pool.acquire(live()), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'admission');
      assert.equal(err.status, 429);
      assert.match(err.message, /local target "t" is busy/);
      return true;
    });
    held.release();
    (await waiting).release();
  });

  it('a queue size of 0 refuses as soon as every item is busy', async () => {
    const pool = new SequencePool(['x'], 0, 't');
    const held = await pool.acquire(live());
    await assert.rejects(pool.acquire(live()), { code: 'admission' });
    held.release();
    (await pool.acquire(live())).release();
  });

  it('an aborted waiter leaves the queue and does not receive an item', async () => {
    const pool = new SequencePool(['x'], 2, 't');
    const held = await pool.acquire(live());
    const ac = new AbortController();
    const gone = pool.acquire(ac.signal);
    const next = pool.acquire(live());
    ac.abort(new Error('client left'));
    await assert.rejects(gone, /client left/);
    assert.equal(pool.queued, 1);
    held.release();
    const lease = await next;
    assert.equal(lease.item, 'x');
    lease.release();
  });

  it('refuses an already aborted signal', async () => {
    const pool = new SequencePool(['x'], 2, 't');
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await assert.rejects(pool.acquire(ac.signal), /gone/);
    assert.equal(pool.busy, 0);
  });

  it('release is idempotent', async () => {
    const pool = new SequencePool(['x', 'y'], 2, 't');
    const lease = await pool.acquire(live());
    lease.release();
    lease.release();
    assert.equal(pool.busy, 0);
    const a = await pool.acquire(live());
    const b = await pool.acquire(live());
    assert.notEqual(a.item, b.item);
  });

  it('rejectWaiters fails every waiter (shutdown)', async () => {
    const pool = new SequencePool(['x'], 3, 't');
    await pool.acquire(live());
    const w = pool.acquire(live());
    pool.rejectWaiters(new GatewayError('shutting_down', 'bye'));
    await assert.rejects(w, { code: 'shutting_down' });
    assert.equal(pool.queued, 0);
  });

  it('noWait: a free item is handed out, none free fails busy at once without queueing', async () => {
    const pool = new SequencePool(['only'], 4, 'local target "t"');
    const held = await pool.acquire(live(), { noWait: true });
    await assert.rejects(pool.acquire(live(), { noWait: true }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'admission');
      assert.deepEqual(err.upstream, { phase: 'busy' });
      return true;
    });
    assert.equal(pool.queued, 0, 'nothing waits in the queue');
    held.release();
    (await pool.acquire(live(), { noWait: true })).release();
  });

  it('marks a full queue as busy for routing', async () => {
    const pool = new SequencePool(['only'], 0, 'local target "t"');
    const held = await pool.acquire(live());
    await assert.rejects(pool.acquire(live()), (err: unknown) => (err as GatewayError).upstream?.phase === 'busy');
    held.release();
  });
});
