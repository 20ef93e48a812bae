/**
 * The router engine with scripted attempts (no HTTP): retries per member,
 * fallback order, circuits skipping members, all-open 503, final errors,
 * unsupported operations, and a disconnect during backoff. Clock, jitter and
 * sleeps are injected: nothing here waits on a real timer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operation } from '@sipp/shared';
import pino from 'pino';
import { GatewayError, type UpstreamDetail } from '../../src/errors.js';
import { Router, type AttemptOutcome, type GroupDefinition, type RouteTrace } from '../../src/routing/router.js';
import type { Target } from '../../src/targets/target.js';

function target(name: string, operations: Operation[] = ['query', 'chat', 'embed']): Target {
  return { name, type: 'openai', operations: new Set(operations) } as unknown as Target;
}

const fault = (upstream: UpstreamDetail) => new GatewayError('upstream', 'upstream failed', undefined, upstream);
const ALL_ON = new Set(['connect', 'timeout', '429', '5xx', 'busy'] as const);

function setup(
  o: {
    group?: Partial<GroupDefinition>;
    circuits?: Record<string, { failureThreshold: number; openMs: number }>;
    targets?: Target[];
  } = {},
) {
  const targets = o.targets ?? [target('a'), target('b'), target('c')];
  const clock = { t: 0 };
  const sleeps: number[] = [];
  const attempts: Array<[string, AttemptOutcome]> = [];
  const fallbacks: string[] = [];
  const logs: any[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
  const group: GroupDefinition = {
    name: 'g',
    strategy: 'fallback',
    targets: targets.map((t) => t.name),
    retry: { attempts: 1, backoffMs: 100, maxBackoffMs: 1000, on: ALL_ON },
    ...o.group,
  };
  const router = new Router({
    targets: new Map(targets.map((t) => [t.name, t])),
    groups: [group],
    circuits: new Map(Object.entries(o.circuits ?? {})),
    log,
    metrics: { attempt: (t, out) => void attempts.push([t, out]), fallback: (g) => void fallbacks.push(g), transition: () => {} },
    now: () => clock.t,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { router, clock, sleeps, attempts, fallbacks, logs };
}

const trace = (): RouteTrace => ({ target: null, group: null, attempts: [], upstreamStatus: null, reason: null });

/** An attempt function that fails per target as scripted (a queue of errors per name), else answers its name. */
function scripted(script: Record<string, unknown[]>) {
  const calls: string[] = [];
  const fn = async (t: Target) => {
    calls.push(t.name);
    const next = script[t.name]?.shift();
    if (next) throw next;
    return t.name;
  };
  return { calls, fn };
}

describe('router', () => {
  it('retries a member `attempts` times with backoff, then falls over to the next', async () => {
    const { router, sleeps, attempts, fallbacks, logs } = setup({
      group: { retry: { attempts: 3, backoffMs: 100, maxBackoffMs: 1000, on: ALL_ON } },
    });
    const s = scripted({
      a: [
        fault({ phase: 'status', upstreamStatus: 500 }),
        fault({ phase: 'status', upstreamStatus: 502 }),
        fault({ phase: 'connect' }),
      ],
    });
    const tr = trace();
    const served = await router.run(router.resolve('g', 'chat'), new AbortController().signal, tr, s.fn);
    assert.equal(served.value, 'b');
    assert.deepEqual(s.calls, ['a', 'a', 'a', 'b']);
    assert.deepEqual(sleeps, [50, 100]);
    // Every call in time order, the served one last; the record's upstream status is the served attempt's (none).
    assert.deepEqual(
      tr.attempts.map((a) => [a.target, a.status, a.upstreamStatus, a.backoffMs, a.error]),
      [
        ['a', 502, 500, 0, 'upstream'],
        ['a', 502, 502, 50, 'upstream'],
        ['a', 502, null, 100, 'upstream'],
        ['b', 200, null, 0, null],
      ],
    );
    assert.ok(tr.attempts.every((a) => a.latencyMs >= 0));
    assert.deepEqual([tr.target, tr.group, tr.upstreamStatus, tr.reason], ['b', 'g', null, null]);
    assert.deepEqual(
      attempts.map((a) => a[1]),
      ['retryable_error', 'retryable_error', 'retryable_error', 'success'],
    );
    assert.deepEqual(fallbacks, ['g']);
    const line = logs.find((l) => l.msg === 'fallback');
    assert.deepEqual([line.group, line.from, line.to, line.reason], ['g', 'a', 'b', 'connect']);
  });

  it('does not retry or fall over on a final error (400 from the provider)', async () => {
    const { router, attempts } = setup({ group: { retry: { attempts: 3, backoffMs: 1, maxBackoffMs: 1, on: ALL_ON } } });
    const s = scripted({ a: [fault({ phase: 'status', upstreamStatus: 400 })] });
    await assert.rejects(router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), s.fn), /upstream failed/);
    assert.deepEqual(s.calls, ['a']);
    assert.deepEqual(attempts, [['a', 'error']]);
  });

  it('only failure kinds listed in `on` are retried', async () => {
    const { router } = setup({ group: { retry: { attempts: 2, backoffMs: 1, maxBackoffMs: 1, on: new Set(['5xx'] as const) } } });
    const s = scripted({ a: [fault({ phase: 'connect' })] });
    await assert.rejects(router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), s.fn));
    assert.deepEqual(s.calls, ['a']);
  });

  it('rethrows the last error when every member failed', async () => {
    const { router } = setup();
    const s = scripted({
      a: [fault({ phase: 'connect' })],
      b: [fault({ phase: 'connect' })],
      c: [fault({ phase: 'status', upstreamStatus: 503 })],
    });
    await assert.rejects(
      router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), s.fn),
      (e: GatewayError) => e.upstream?.upstreamStatus === 503,
    );
    assert.deepEqual(s.calls, ['a', 'b', 'c']);
  });

  it('a long Retry-After moves on at once; a short one replaces the backoff', async () => {
    const { router, sleeps } = setup({ group: { retry: { attempts: 2, backoffMs: 100, maxBackoffMs: 1000, on: ALL_ON } } });
    const s = scripted({
      a: [fault({ phase: 'status', upstreamStatus: 429, retryAfterMs: 30_000 })],
      b: [fault({ phase: 'status', upstreamStatus: 429, retryAfterMs: 300 })],
    });
    const served = await router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), s.fn);
    assert.equal(served.value, 'b');
    assert.deepEqual(s.calls, ['a', 'b', 'b']);
    assert.deepEqual(sleeps, [300]);
  });

  it('skips a member whose circuit is open and sends it nothing until it half-opens', async () => {
    const { router, clock } = setup({ circuits: { a: { failureThreshold: 2, openMs: 5000 } } });
    const s = scripted({ a: [fault({ phase: 'connect' }), fault({ phase: 'connect' })] });
    const signal = new AbortController().signal;
    await router.run(router.resolve('g', 'chat'), signal, trace(), s.fn);
    await router.run(router.resolve('g', 'chat'), signal, trace(), s.fn);
    assert.equal(router.breaker('a')!.snapshot().state, 'open');
    await router.run(router.resolve('g', 'chat'), signal, trace(), s.fn);
    assert.deepEqual(s.calls, ['a', 'b', 'a', 'b', 'b']);
    clock.t += 5000;
    const served = await router.run(router.resolve('g', 'chat'), signal, trace(), s.fn);
    assert.equal(served.value, 'a', 'the probe succeeds');
    assert.equal(router.breaker('a')!.snapshot().state, 'closed');
  });

  it('all members open → 503 unavailable with Retry-After until the first half-open', async () => {
    const c = { failureThreshold: 1, openMs: 10_000 };
    const { router, clock } = setup({ circuits: { a: c, b: c, c: c } });
    const s = scripted({ a: [fault({ phase: 'connect' })], b: [fault({ phase: 'connect' })] });
    const signal = new AbortController().signal;
    clock.t = 0;
    await assert.rejects(
      router.run(router.resolve('g', 'chat'), signal, trace(), async (t) => {
        if (t.name === 'c') clock.t = 4000;
        return s.fn(t).then(() => {
          throw fault({ phase: 'connect' });
        });
      }),
    );
    clock.t = 6500;
    const calls = s.calls.length;
    const refused = trace();
    await assert.rejects(router.run(router.resolve('g', 'chat'), signal, refused, s.fn), (e: GatewayError) => {
      assert.equal(e.code, 'unavailable');
      assert.equal(e.status, 503);
      assert.equal(e.headers?.['retry-after'], '4'); // a and b half-open at 10 000 ms: 3.5 s → 4
      return true;
    });
    assert.equal(s.calls.length, calls, 'no member was called');
    assert.deepEqual([refused.reason, refused.attempts, refused.target], ['no_member', [], null]);
  });

  it('a direct target with an open circuit is refused with reason circuit_open (not drained)', async () => {
    const { router } = setup({ circuits: { a: { failureThreshold: 1, openMs: 10_000 } } });
    const s = scripted({ a: [fault({ phase: 'connect' })] });
    const first = trace();
    await assert.rejects(router.run(router.resolve('a', 'chat'), new AbortController().signal, first, s.fn));
    assert.equal(first.reason, null, 'a call that failed is no refusal');
    assert.deepEqual(
      first.attempts.map((a) => [a.target, a.error]),
      [['a', 'upstream']],
    );
    const tr = trace();
    await assert.rejects(router.run(router.resolve('a', 'chat'), new AbortController().signal, tr, s.fn), {
      code: 'unavailable',
    });
    assert.equal(tr.reason, 'circuit_open');
  });

  it('a drained direct target answers 503 unavailable; released, it serves again', async () => {
    const { router } = setup();
    router.breaker('a')!.drain();
    const s = scripted({});
    const tr = trace();
    await assert.rejects(router.run(router.resolve('a', 'chat'), new AbortController().signal, tr, s.fn), {
      code: 'unavailable',
    });
    assert.deepEqual(s.calls, []);
    assert.deepEqual([tr.reason, tr.attempts], ['drained', []]);
    router.breaker('a')!.release();
    assert.equal((await router.run(router.resolve('a', 'chat'), new AbortController().signal, trace(), s.fn)).value, 'a');
  });

  it('skips members that do not support the operation; none → 400', async () => {
    const { router } = setup({ targets: [target('a', ['chat']), target('b', ['chat', 'embed'])] });
    const s = scripted({});
    assert.equal((await router.run(router.resolve('g', 'embed'), new AbortController().signal, trace(), s.fn)).value, 'b');
    const none = setup({ targets: [target('a', ['chat'])] });
    assert.throws(() => none.router.resolve('g', 'embed'), { code: 'invalid_request' });
  });

  it("skips members the caller's capability check refuses; all refused → the first refusal", async () => {
    const { router } = setup();
    const noTools = (t: Target) =>
      t.name === 'b' ? null : new GatewayError('invalid_request', `tools: target "${t.name}" cannot call tools`);
    const route = router.resolve('g', 'chat', noTools);
    assert.deepEqual(
      route.members.map((t) => t.name),
      ['b'],
    );
    const s = scripted({});
    assert.equal((await router.run(route, new AbortController().signal, trace(), s.fn)).value, 'b');
    assert.throws(() => router.resolve('g', 'chat', (t) => new GatewayError('invalid_request', `tools: ${t.name}`)), /tools: a/);
    assert.throws(() => router.resolve('a', 'chat', noTools), /target "a" cannot call tools/);
    assert.throws(() => router.resolve('nope', 'chat'), { code: 'resolution' });
  });

  it('asks only non-last attempts not to wait in a local queue (busy spillover)', async () => {
    const { router } = setup({ targets: [target('a'), target('b')] });
    const seen: Array<[string, boolean]> = [];
    await router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), async (t, o) => {
      seen.push([t.name, o.noWait]);
      if (t.name === 'a') throw fault({ phase: 'busy' });
      return 1;
    });
    assert.deepEqual(seen, [
      ['a', true],
      ['b', false],
    ]);
    assert.equal(router.breaker('a')!.snapshot().consecutiveFailures, 0, 'busy is load, not a circuit failure');
  });

  it('waits in the local queue when every later member is drained or open', async () => {
    const { router } = setup({ targets: [target('a'), target('b')] });
    router.breaker('b')!.drain();
    const seen: boolean[] = [];
    await router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), async (_t, o) => {
      seen.push(o.noWait);
      return 1;
    });
    assert.deepEqual(seen, [false]);
  });

  it('a client disconnect during backoff stops further attempts', async () => {
    const targets = [target('a'), target('b')];
    const controller = new AbortController();
    const calls: string[] = [];
    const router = new Router({
      targets: new Map(targets.map((t) => [t.name, t])),
      groups: [
        {
          name: 'g',
          strategy: 'fallback',
          targets: ['a', 'b'],
          retry: { attempts: 3, backoffMs: 100, maxBackoffMs: 100, on: ALL_ON },
        },
      ],
      circuits: new Map(),
      log: pino({ level: 'silent' }),
      random: () => 0.5,
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('sleep aborted')), { once: true });
          controller.abort(new Error('client disconnected'));
        }),
    });
    await assert.rejects(
      router.run(router.resolve('g', 'chat'), controller.signal, trace(), async (t) => {
        calls.push(t.name);
        throw fault({ phase: 'connect' });
      }),
      /client disconnected/,
    );
    assert.deepEqual(calls, ['a']);
  });

  it('least_busy routes around the member holding a request', async () => {
    const { router } = setup({ group: { strategy: 'least_busy' }, targets: [target('a'), target('b')] });
    const signal = new AbortController().signal;
    const first = await router.run(router.resolve('g', 'chat'), signal, trace(), async (t) => t.name);
    assert.equal(first.value, 'a');
    assert.equal(router.load('a'), 1);
    const second = await router.run(router.resolve('g', 'chat'), signal, trace(), async (t) => t.name);
    assert.equal(second.value, 'b');
    first.done();
    first.done();
    assert.equal(router.load('a'), 0, 'done() is idempotent');
    assert.equal((await router.run(router.resolve('g', 'chat'), signal, trace(), async (t) => t.name)).value, 'a');
  });

  it('done() lets its own request leave once, however often it is called', async () => {
    const { router } = setup({ targets: [target('a')] });
    const signal = new AbortController().signal;
    const first = await router.run(router.resolve('a', 'chat'), signal, trace(), async (t) => t.name);
    await router.run(router.resolve('a', 'chat'), signal, trace(), async (t) => t.name);
    assert.equal(router.load('a'), 2);
    first.done();
    first.done();
    assert.equal(router.load('a'), 1, 'the other request is still on a');
  });

  it('a locally raised error (no UpstreamDetail) or a protocol bound is final: no retry, no fallback, the circuit does not move', async () => {
    const local = [
      new RangeError('Maximum call stack size exceeded'),
      new TypeError('Converting circular structure to JSON'),
      new GatewayError('internal', 'internal error while calling the upstream'),
      new GatewayError('upstream_protocol', 'upstream sent an event larger than 1048576 bytes', undefined, { phase: 'protocol' }),
      new GatewayError('upstream_too_large', 'upstream answer larger than 65536 bytes', undefined, { phase: 'protocol' }),
    ];
    for (const err of local) {
      const { router, fallbacks } = setup({
        group: { retry: { attempts: 3, backoffMs: 0, maxBackoffMs: 0, on: ALL_ON } },
        circuits: { a: { failureThreshold: 1, openMs: 60_000 } },
      });
      const s = scripted({ a: [err] });
      await assert.rejects(
        router.run(router.resolve('g', 'chat'), new AbortController().signal, trace(), s.fn),
        (e) => e === err,
      );
      assert.deepEqual(s.calls, ['a'], `${err.message}: tried once`);
      assert.deepEqual(fallbacks, [], `${err.message}: no fallback`);
      const snap = router.breaker('a')!.snapshot();
      assert.equal(snap.state, 'closed', err.message);
      assert.equal(snap.consecutiveFailures, 0, err.message);
      assert.equal(snap.lastFailure, null, err.message);
    }
  });
});
