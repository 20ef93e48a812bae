/**
 * The named pipeline stages (src/public/stages.ts) through a real gateway:
 * modules registered after the built-in ones run in their stage, a beforeRun
 * hook can short-circuit the run, errors in the request stages become the
 * answer (and release what earlier modules hold), aroundAttempt wraps every
 * attempt, and a failing afterFinish hook is logged by name without touching
 * the answer or the other observers.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import type { PipelineModule } from '../../src/public/stages.js';
import { composeStages } from '../../src/public/stages.js';
import { rateLimitCheck } from '../../src/public/modules/checks.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';

const TOKEN = 'tok-stages-test-1234567890';
const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

describe('pipeline stages', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  const seen: string[] = [];
  const attempts: Array<{ target: string; number: number; caller: string | null }> = [];
  const finished: Array<{ status: number; code: string | null; caller: string | null }> = [];

  const probe: PipelineModule = {
    name: 'probe',
    beforeBody(rc) {
      // Registered after the token module: the caller is known, the body is not.
      seen.push(`beforeBody caller=${rc.caller?.label} request=${rc.request === null ? 'none' : 'parsed'}`);
      if (rc.headers['x-test'] === 'reject-body') throw new GatewayError('rate_limited', 'probe says no', { 'retry-after': '7' });
    },
    async beforeRun(rc) {
      seen.push(`beforeRun model=${rc.request.model} route=${rc.route?.members.map((t) => t.name).join(',')}`);
      await Promise.resolve();
      if (rc.headers['x-test'] === 'reject-run') throw new GatewayError('authorization', 'probe budget exhausted');
      if (rc.headers['x-test'] === 'crash-run') throw new Error('probe bug');
      if (rc.headers['x-test'] === 'cache-hit') {
        return {
          served: 'cache',
          outcome: {
            kind: 'text',
            result: { text: 'from cache', finishReason: 'stop', usage: { input_tokens: 2, output_tokens: 3, total_tokens: 5 } },
          },
        };
      }
    },
    async aroundAttempt(attempt, next) {
      attempts.push({ target: attempt.target.name, number: attempt.number, caller: attempt.rc.caller?.label ?? null });
      return next();
    },
    afterFinish(record) {
      finished.push({ status: record.status, code: record.code, caller: record.caller });
    },
  };
  const broken: PipelineModule = {
    name: 'broken_observer',
    afterFinish: async () => {
      throw new Error('observer bug');
    },
  };

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { top: 'max_concurrent_requests = 4', caller: 'stage-caller' }),
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-stages-42', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
      modules: [probe, broken],
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });
  beforeEach(() => {
    seen.length = 0;
    attempts.length = 0;
    finished.length = 0;
  });

  it('runs each stage in order with the typed context, one attempt per target call', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(seen, ['beforeBody caller=stage-caller request=none', 'beforeRun model=chat route=chat']);
    assert.deepEqual(attempts, [{ target: 'chat', number: 1, caller: 'stage-caller' }]);
    assert.deepEqual(finished, [{ status: 200, code: null, caller: 'stage-caller' }]);
  });

  it('wraps a streamed attempt too', async () => {
    const res = await fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    const frames = parseSse(await res.text());
    assert.equal(frames.at(-1)!.event, 'done');
    assert.deepEqual(attempts, [{ target: 'chat', number: 1, caller: 'stage-caller' }]);
    assert.equal(gw.gateway.controls.admission.inFlight, 0);
  });

  it('a beforeRun short-circuit answers without running a target', async () => {
    const before = upstream.requests.length;
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-test': 'cache-hit' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.text, 'from cache');
    assert.equal(r.headers.get('x-sipp-target'), 'cache');
    assert.equal(upstream.requests.length, before, 'the upstream was not called');
    assert.deepEqual(attempts, []);
    assert.equal(gw.gateway.controls.admission.inFlight, 0, 'the admission slot is released');
  });

  it('a beforeBody error is the answer, before the body stage', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-test': 'reject-body' } });
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'rate_limited');
    assert.equal(r.headers.get('retry-after'), '7');
    assert.deepEqual(finished, [{ status: 429, code: 'rate_limited', caller: 'stage-caller' }]);
  });

  it('a beforeRun error after admission is the answer and releases the slot', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-test': 'reject-run' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'authorization');
    assert.deepEqual(attempts, []);
    assert.equal(gw.gateway.controls.admission.inFlight, 0);
    const crash = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-test': 'crash-run' } });
    assert.equal(crash.status, 500);
    assert.equal(crash.body.error.code, 'internal');
    assert.equal(gw.gateway.controls.admission.inFlight, 0);
  });

  it('a failing afterFinish hook is logged by module name; the answer and the other observers are unaffected', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(finished.length, 1);
    const logs = gw.logs.map((l) => JSON.parse(l));
    const failed = logs.find((l) => l.msg === 'afterFinish hook failed');
    assert.equal(failed?.module, 'broken_observer');
    assert.equal(failed?.err?.message, 'observer bug');
  });
});

describe('composeStages', () => {
  const quiet = { error() {} } as never;

  it('refuses two modules of one name', () => {
    assert.throws(() => composeStages([{ name: 'a' }, { name: 'a' }], quiet), /registered twice/);
  });

  it('wraps attempts first-registered outermost, and stops a stage at the first short-circuit', async () => {
    const order: string[] = [];
    const wrap = (name: string): PipelineModule => ({
      name,
      async aroundAttempt(_a, next) {
        order.push(`${name} in`);
        const out = await next();
        order.push(`${name} out`);
        return out;
      },
      beforeRun: () => {
        order.push(`${name} run`);
        return name === 'a' ? { served: 'x', outcome: { kind: 'embed', result: { embeddings: [] } } } : undefined;
      },
    });
    const stages = composeStages([wrap('a'), wrap('b')], quiet);
    await stages.attempt({} as never, async () => {
      order.push('call');
      return { kind: 'embed', result: { embeddings: [] } };
    });
    assert.deepEqual(order, ['a in', 'b in', 'call', 'b out', 'a out']);
    order.length = 0;
    assert.equal((await stages.beforeRun({} as never))?.served, 'x');
    assert.deepEqual(order, ['a run']);
  });

  it('beforeBody and beforeRun run every hook in order across an asynchronous one; all synchronous, no promise', async () => {
    const order: string[] = [];
    const hook = (name: string, async: boolean, fail = false): PipelineModule => {
      const step = (stage: string) => {
        order.push(`${name} ${stage}`);
        if (fail) throw new GatewayError('blocked', `${name} says no`);
      };
      return {
        name,
        beforeBody: async ? () => Promise.resolve().then(() => step('body')) : () => step('body'),
        beforeRun: async ? () => Promise.resolve().then(() => step('run')) : () => step('run'),
      };
    };
    const mixed = composeStages([hook('a', false), hook('b', true), hook('c', false), hook('d', true)], quiet);
    await mixed.beforeBody({} as never);
    assert.equal(await mixed.beforeRun({} as never), null);
    assert.deepEqual(order, ['a body', 'b body', 'c body', 'd body', 'a run', 'b run', 'c run', 'd run']);

    order.length = 0;
    const sync = composeStages([hook('a', false), hook('c', false)], quiet);
    assert.equal(sync.beforeBody({} as never), undefined);
    assert.equal(sync.beforeRun({} as never), null);
    assert.deepEqual(order, ['a body', 'c body', 'a run', 'c run']);

    // A refusal after an asynchronous hook still rejects, and the hooks after it do not run.
    order.length = 0;
    const refusing = composeStages([hook('b', true), hook('c', false, true), hook('e', false)], quiet);
    await assert.rejects(async () => refusing.beforeBody({} as never), /c says no/);
    await assert.rejects(async () => refusing.beforeRun({} as never), /c says no/);
    assert.deepEqual(order, ['b body', 'c body', 'b run', 'c run']);
  });

  it('says whether any module wraps attempts (the pipeline builds no Attempt when none does)', () => {
    assert.equal(composeStages([{ name: 'a', beforeRun: () => {} }], quiet).wrapsAttempts, false);
    assert.equal(composeStages([{ name: 'a' }, { name: 'b', aroundAttempt: (_a, next) => next() }], quiet).wrapsAttempts, true);
  });

  it('the rate limit refuses on a decision that arrives asynchronously (a shared bucket store) as on one at once', async () => {
    const refusal = { ok: false as const, retryAfterSeconds: 3 };
    const rc = { state: { client: '10.0.0.1' } } as never;
    const later = rateLimitCheck({ admit: () => Promise.resolve(refusal) });
    await assert.rejects(
      async () => later.beforeBody!(rc),
      (err: GatewayError) => err.code === 'rate_limited' && err.headers?.['retry-after'] === '3',
    );
    assert.equal(await rateLimitCheck({ admit: () => Promise.resolve({ ok: true }) }).beforeBody!(rc), undefined);
    assert.throws(() => rateLimitCheck({ admit: () => refusal }).beforeBody!(rc), /rate limit exceeded/);
    assert.equal(rateLimitCheck({ admit: () => ({ ok: true }) }).beforeBody!(rc), undefined);
  });

  it('afterFinish returns a promise only while an async hook runs, and waits for it', async () => {
    let finish!: () => void;
    const sync = composeStages([{ name: 's', afterFinish: () => {} }], quiet);
    assert.equal(sync.afterFinish({} as never, {} as never), undefined);
    const gate = new Promise<void>((r) => (finish = r));
    let done = false;
    const async = composeStages([{ name: 'a', afterFinish: () => gate.then(() => void (done = true)) }], quiet);
    const p = async.afterFinish({} as never, {} as never);
    assert.ok(p instanceof Promise);
    finish();
    await p;
    assert.equal(done, true);
  });
});
