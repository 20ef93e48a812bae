/**
 * Target groups through a real gateway against fake providers with their own
 * fault switches: retries and fallbacks before the first byte, streams that
 * fail after it, circuits (open, one probe, close), all-open 503, strategies'
 * distributions, least_busy, operation support per member, token allowlists
 * naming a group, a disconnect during backoff, metrics, log lines and the
 * admin drain. The router's clock and sleep are fakes: nothing waits for
 * open_seconds or a backoff.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AdminClient, findSecrets, type Seen } from '../admin/admin-client.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, parseSse, postJson } from '../support/http.js';
import { until } from '../support/wait.js';

const TOKEN = 'tok-routing-groups-0123456789';
const RESTRICTED = 'tok-routing-restricted-98765';
const PASSWORD = 'admin-pw-routing-Quokka-77';

function openaiTarget(name: string, url: string, extra = '', timeoutSeconds = 5): string {
  return `[[targets]]
name = "${name}"
type = "openai"
model = "m-${name}"
api_key_env = "OPENAI_KEY"
base_url = "${url}"
timeout_seconds = ${timeoutSeconds}
${extra}
`;
}

function group(name: string, strategy: string, targets: string[], extra = ''): string {
  return `[[groups]]
name = "${name}"
strategy = "${strategy}"
targets = [${targets.map((t) => `"${t}"`).join(', ')}]
${extra}
`;
}

describe('target groups through the gateway', () => {
  let a: FakeOpenAI;
  let b: FakeOpenAI;
  let x: FakeOpenAI;
  let y: FakeOpenAI;
  let c: FakeAnthropic;
  let gw: TestGateway;
  let admin: AdminClient;
  const seen: Seen[] = [];
  const clock = { t: 1_800_000_000_000 };
  const sleeps: number[] = [];
  let sleepHook: ((ms: number, signal: AbortSignal) => Promise<void>) | null = null;
  let env: Record<string, string>;

  const chat = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });
  const send = (model: string, o: { stream?: boolean; token?: string; id?: string; signal?: AbortSignal } = {}) =>
    postJson(`${gw.publicUrl}/v1/chat`, chat(model, o.stream ? { stream: true } : {}), {
      token: o.token ?? TOKEN,
      headers: o.id ? { 'x-request-id': o.id } : {},
      signal: o.signal,
    });
  const requestLine = (id: string) => gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.reqId === id);
  const metrics = async () => (await getText(`${gw.managementUrl}/metrics`)).text;

  before(async () => {
    [a, b, x, y] = await Promise.all([
      startFakeOpenAI({ apiKey: 'sk-routing-openai-secret-1' }),
      startFakeOpenAI({ apiKey: 'sk-routing-openai-secret-1' }),
      startFakeOpenAI({ apiKey: 'sk-routing-openai-secret-1' }),
      startFakeOpenAI({ apiKey: 'sk-routing-openai-secret-1' }),
    ]);
    c = await startFakeAnthropic({ apiKey: 'sk-ant-routing-secret-2' });
    // Port 1: nothing listens there, and unlike a port free a moment ago no other test's server can take it meanwhile.
    const deadUrl = 'http://127.0.0.1:1/v1';
    env = { TEST_ADMIN_PASSWORD: PASSWORD, T: TOKEN, R: RESTRICTED, OPENAI_KEY: a.apiKey, ANTHROPIC_KEY: c.apiKey };
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tester"
[[tokens]]
env = "R"
caller = "restricted"
targets = ["chat"]
${openaiTarget('a', a.url)}
${openaiTarget('a-quick', a.url, '', 0.3)}
${openaiTarget('b', b.url)}
${openaiTarget('dead', deadUrl)}
${openaiTarget('x', x.url, '[targets.circuit]\nfailure_threshold = 2\nopen_seconds = 30')}
${openaiTarget('y', y.url)}
[[targets]]
name = "c"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${c.url}"
${group('chat', 'fallback', ['a', 'b'], '[groups.retry]\nattempts = 2\nbackoff_ms = 100\nmax_backoff_ms = 2000')}
${group('quick', 'fallback', ['a-quick', 'b'], '[groups.retry]\nattempts = 2')}
${group('via-dead', 'fallback', ['dead', 'b'])}
${group('only-5xx', 'fallback', ['a', 'b'], '[groups.retry]\non = ["5xx"]')}
${group('cb', 'fallback', ['x', 'y'])}
${group('cb-x', 'fallback', ['x'])}
${group('rr', 'round_robin', ['a', 'b', 'c'])}
${group('w', 'weighted', ['a', 'b', 'c'], 'weights = [1, 3, 1]')}
${group('lb', 'least_busy', ['a', 'b'])}
${group('emb', 'fallback', ['c', 'b'])}
${group('claude-only', 'fallback', ['c'])}
${group('slow-retry', 'fallback', ['a', 'b'], '[groups.retry]\nattempts = 3\nbackoff_ms = 5000\nmax_backoff_ms = 5000')}
`,
      env,
      routing: {
        now: () => clock.t,
        random: () => 0.5,
        sleep: (ms, signal) => {
          sleeps.push(ms);
          return sleepHook ? sleepHook(ms, signal) : Promise.resolve();
        },
      },
    });
    admin = new AdminClient(`${gw.managementUrl}/admin`, seen);
    assert.equal((await admin.login(PASSWORD)).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([a, b, x, y, c].map((f) => f?.close()));
    assert.deepEqual(findSecrets(Object.values(env), seen, gw.logs), []);
  });
  beforeEach(() => {
    for (const f of [a, b, x, y, c]) {
      f.setBehavior({ kind: 'normal' });
      f.requests.length = 0;
    }
    sleeps.length = 0;
    sleepHook = null;
  });

  it('primary 5xx: retried `attempts` times with backoff, then served by the second member', async () => {
    a.setBehavior({ kind: 'status', status: 503 });
    const r = await send('chat', { id: 'rt-5xx' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-sipp-target'), 'b');
    assert.equal(r.body.model, 'chat', 'the response keeps the asked name');
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 1);
    assert.deepEqual(sleeps, [50], 'full jitter: random 0.5 × backoff_ms 100');
    const line = requestLine('rt-5xx');
    assert.deepEqual(
      [line.model, line.group, line.target, line.attempts.length, line.upstreamStatus, line.reason, line.status],
      ['chat', 'chat', 'b', 3, null, null, 200],
    );
    // The story of the request: two failed tries on a (the second after the backoff), then b served.
    assert.deepEqual(
      line.attempts.map((x: any) => [x.target, x.status, x.upstreamStatus, x.backoffMs, x.error]),
      [
        ['a', 502, 503, 0, 'upstream'],
        ['a', 502, 503, 50, 'upstream'],
        ['b', 200, null, 0, null],
      ],
    );
    const fallback = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'fallback' && l.reqId === 'rt-5xx');
    assert.deepEqual([fallback.from, fallback.to, fallback.reason], ['a', 'b', '5xx']);
  });

  it('a direct target request names its target and is not retried', async () => {
    a.setBehavior({ kind: 'status', status: 503 });
    const r = await send('a');
    assert.equal(r.status, 502);
    assert.equal(r.headers.get('x-sipp-target'), 'a');
    assert.equal(a.requests.length, 1);
    a.setBehavior({ kind: 'normal' });
    const ok = await send('a');
    assert.equal(ok.headers.get('x-sipp-target'), 'a');
    assert.equal(ok.body.model, 'a');
  });

  it('connection refused falls over to the next member', async () => {
    const r = await send('via-dead', { id: 'rt-refused' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-sipp-target'), 'b');
    assert.equal(requestLine('rt-refused').attempts.length, 2);
  });

  it('a member that stalls past timeout_seconds is retried, then falls over', async () => {
    a.setBehavior({ kind: 'stall-headers' });
    const r = await send('quick');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-sipp-target'), 'b');
    assert.equal(a.requests.length, 2);
  });

  it('a provider 429 with a short Retry-After is retried after it; a long one falls over at once', async () => {
    a.queueBehaviors({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const short = await send('chat');
    assert.equal(short.headers.get('x-sipp-target'), 'a');
    assert.equal(a.requests.length, 2);
    assert.deepEqual(sleeps, [1000]);

    sleeps.length = 0;
    a.queueBehaviors({ kind: 'status', status: 429, headers: { 'retry-after': '60' } });
    const long = await send('chat');
    assert.equal(long.headers.get('x-sipp-target'), 'b');
    assert.equal(a.requests.length, 3);
    assert.deepEqual(sleeps, []);
  });

  it('client errors from the provider (400) are final: no retry, no fallback', async () => {
    a.setBehavior({ kind: 'status', status: 400 });
    const r = await send('chat');
    assert.equal(r.status, 400, "the client's own mistake, passed back (docs/api.md#errors)");
    assert.deepEqual(r.body.error, {
      code: 'invalid_request',
      message: 'upstream rejected the request (HTTP 400): fake upstream error 400',
    });
    assert.equal(r.headers.get('x-sipp-target'), 'a');
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
  });

  it('failure kinds not listed in retry.on are final', async () => {
    // A reset before the response ends is a `connect` failure: "chat" (default `on`) falls over…
    a.queueBehaviors({ kind: 'reset' }, { kind: 'reset' });
    assert.equal((await send('chat')).headers.get('x-sipp-target'), 'b');
    b.requests.length = 0;
    // …"only-5xx" (on = ["5xx"]) does not.
    a.queueBehaviors({ kind: 'reset' });
    const r = await send('only-5xx');
    assert.equal(r.status, 502);
    assert.equal(r.headers.get('x-sipp-target'), 'a');
    assert.equal(b.requests.length, 0);
  });

  it('streams: a failure before the first token falls over; the SSE response names the member', async () => {
    a.setBehavior({ kind: 'status', status: 500 });
    const r = await send('chat', { stream: true });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(r.headers.get('x-sipp-target'), 'b');
    const events = parseSse(r.text);
    assert.equal(events.at(-1)!.event, 'done');
    assert.equal(a.requests.length, 2);
  });

  it('streams: a failure after the first token ends the stream with event: error and no second upstream call', async () => {
    a.setBehavior({ kind: 'reset', afterChunks: 2 });
    const r = await send('chat', { stream: true });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-sipp-target'), 'a');
    const events = parseSse(r.text);
    assert.equal(events[0]!.event, 'token');
    assert.equal(events.at(-1)!.event, 'error');
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
  });

  it('circuit: opens after failure_threshold, sends nothing while open, one probe when half-open, closes on success', async () => {
    x.setBehavior({ kind: 'status', status: 500 });
    for (let i = 0; i < 2; i++) assert.equal((await send('cb')).headers.get('x-sipp-target'), 'y');
    assert.equal(x.requests.length, 2);
    for (let i = 0; i < 3; i++) assert.equal((await send('cb')).headers.get('x-sipp-target'), 'y');
    assert.equal(x.requests.length, 2, 'the open circuit sends the failing upstream nothing');
    assert.match(await metrics(), /sipp_gateway_circuit_state\{target="x"\} 2/);

    const unavailable = await send('cb-x');
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.body.error.code, 'unavailable');
    assert.equal(unavailable.headers.get('retry-after'), '30');
    const direct = await send('x');
    assert.equal(direct.status, 503);
    assert.equal(direct.headers.get('retry-after'), '30');

    clock.t += 20_000;
    assert.equal((await send('cb-x')).headers.get('retry-after'), '10');

    // Half-open: the probe hangs; a second request meanwhile skips x.
    clock.t += 10_000;
    assert.match(await metrics(), /sipp_gateway_circuit_state\{target="x"\} 1/, 'half-open as soon as open_seconds are over');
    x.setBehavior({ kind: 'stall-headers' });
    const controller = new AbortController();
    const probe = send('cb', { signal: controller.signal }).catch(() => null);
    await until(() => x.requests.length === 3, 'the probe to reach x');
    const during = await send('cb');
    assert.equal(during.headers.get('x-sipp-target'), 'y');
    assert.equal(x.requests.length, 3, 'exactly one probe');
    controller.abort();
    await probe;
    await until(() => x.abortedCount >= 1, 'the probe to be aborted at x');

    // The abandoned probe leaves the circuit half-open: the next request probes and succeeds.
    x.setBehavior({ kind: 'normal' });
    const closing = await send('cb');
    assert.equal(closing.headers.get('x-sipp-target'), 'x');
    const targets = (await admin.request('GET', '/api/targets')).body.targets;
    const circuit = targets.find((t: any) => t.name === 'x').circuit;
    assert.equal(circuit.state, 'closed');
    assert.equal(circuit.consecutiveFailures, 0);
    assert.equal(circuit.lastFailure.code, '5xx');
    assert.deepEqual(circuit.settings, { failureThreshold: 2, openSeconds: 30 });
    assert.ok(circuit.successRate5m > 0 && circuit.successRate5m < 1);

    const lines = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'circuit transition' && l.target === 'x');
    assert.deepEqual(
      lines.map((l) => [l.from, l.to]),
      [
        ['closed', 'open'],
        ['open', 'half_open'],
        ['half_open', 'closed'],
      ],
    );
    assert.ok(lines.every((l) => typeof l.reason === 'string' && l.reason.length > 0));
    const text = await metrics();
    assert.match(text, /sipp_gateway_circuit_state\{target="x"\} 0/);
    assert.match(text, /sipp_gateway_circuit_transitions_total\{target="x",to="open"\} 1/);
    assert.match(text, /sipp_gateway_circuit_transitions_total\{target="x",to="closed"\} 1/);
  });

  it('round_robin and weighted spread 1,000 requests within ±10% of the weights', async () => {
    for (const [name, weights] of [
      ['rr', [1, 1, 1]],
      ['w', [1, 3, 1]],
    ] as const) {
      const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
      for (let batch = 0; batch < 50; batch++) {
        const rs = await Promise.all(Array.from({ length: 20 }, () => send(name)));
        for (const r of rs) {
          assert.equal(r.status, 200);
          counts[r.headers.get('x-sipp-target')!]! += 1;
        }
      }
      const total = weights.reduce((p, q) => p + q, 0);
      ['a', 'b', 'c'].forEach((t, i) => {
        const expected = (1000 * weights[i]!) / total;
        assert.ok(Math.abs(counts[t]! - expected) <= expected * 0.1, `${name}: ${t} served ${counts[t]}, expected ≈${expected}`);
      });
    }
  });

  it('least_busy sends the next request to the member with fewer in-flight requests', async () => {
    // Only the first request to `a` stalls: were the busy member picked, it would answer at once
    // (rather than time out and fall over to `b`, which would hide the wrong pick).
    a.queueBehaviors({ kind: 'stall', afterChunks: 2 });
    const controller = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat('lb', { stream: true })),
      signal: controller.signal,
    });
    assert.equal(res.headers.get('x-sipp-target'), 'a');
    const [aBefore, bBefore] = [a.requests.length, b.requests.length];
    const next = await send('lb');
    assert.equal(next.status, 200);
    assert.equal(next.headers.get('x-sipp-target'), 'b');
    assert.deepEqual([a.requests.length - aBefore, b.requests.length - bBefore], [0, 1], 'the busy member was never tried');
    controller.abort();
    await until(() => a.abortedCount >= 1, 'the stalled stream to close');
    await until(async () => (await send('lb')).headers.get('x-sipp-target') === 'a', 'a to be least busy again');
  });

  it('embed skips members that cannot embed; a group where none can answers 400', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/embed`, { model: 'emb', input: 'hello' }, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-sipp-target'), 'b');
    assert.equal(r.body.model, 'emb');
    assert.equal(c.requests.length, 0);
    const none = await postJson(`${gw.publicUrl}/v1/embed`, { model: 'claude-only', input: 'hello' }, { token: TOKEN });
    assert.equal(none.status, 400);
    assert.equal(none.body.error.code, 'invalid_request');
  });

  it('a token allowlist may name a group (members need not be listed)', async () => {
    assert.equal((await send('chat', { token: RESTRICTED })).status, 200);
    const member = await send('b', { token: RESTRICTED });
    assert.equal(member.status, 403);
    assert.equal(member.body.error.code, 'authorization');
  });

  it('a client disconnect during backoff stops further attempts', async () => {
    a.setBehavior({ kind: 'status', status: 503 });
    let entered!: () => void;
    const inBackoff = new Promise<void>((resolve) => (entered = resolve));
    let sleepAborted = false;
    sleepHook = (_ms, signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          sleepAborted = true;
          reject(signal.reason);
        });
        entered();
      });
    const controller = new AbortController();
    const pending = send('slow-retry', { id: 'rt-disconnect', signal: controller.signal }).catch(() => null);
    await inBackoff;
    controller.abort();
    await pending;
    await until(() => requestLine('rt-disconnect') !== undefined, 'the request line');
    assert.equal(sleepAborted, true);
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    const line = requestLine('rt-disconnect');
    assert.equal(line.status, 499);
    assert.equal(line.attempts.length, 1);
  });

  it('drain forces a target open until released, through the admin API with CSRF', async () => {
    assert.equal((await admin.request('POST', '/api/targets/a/drain', { csrf: false })).status, 403);
    assert.equal((await admin.request('POST', '/api/targets/nope/drain')).status, 404);
    const drained = await admin.request('POST', '/api/targets/a/drain');
    assert.equal(drained.status, 200);
    const view = drained.body.targets.find((t: any) => t.name === 'a').circuit;
    assert.equal(view.state, 'open');
    assert.equal(view.drained, true);

    assert.equal((await send('chat')).headers.get('x-sipp-target'), 'b');
    const direct = await send('a');
    assert.equal(direct.status, 503);
    assert.equal(direct.body.error.code, 'unavailable');
    assert.equal(a.requests.length, 0);

    assert.equal((await admin.request('DELETE', '/api/targets/a/drain', { csrf: false })).status, 403);
    const released = await admin.request('DELETE', '/api/targets/a/drain');
    assert.equal(released.body.targets.find((t: any) => t.name === 'a').circuit.state, 'closed');
    assert.equal((await send('chat')).headers.get('x-sipp-target'), 'a');
    const logs = gw.logs.map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.msg === 'admin drained a target' && l.target === 'a'));
    assert.ok(
      logs.some(
        (l) => l.msg === 'circuit transition' && l.target === 'a' && l.to === 'open' && l.reason === 'drained by operator',
      ),
    );
  });

  it('the routes view lists groups with strategy, members and weights', async () => {
    const r = await admin.request('GET', '/api/routes');
    const w = r.body.groups.find((g: any) => g.name === 'w');
    assert.deepEqual(w, {
      name: 'w',
      strategy: 'weighted',
      targets: ['a', 'b', 'c'],
      weights: [1, 3, 1],
      retry: { attempts: 1, backoffMs: 100, maxBackoffMs: 2000, on: ['connect', 'timeout', '429', '5xx', 'busy'] },
    });
  });

  it('exports attempts and fallbacks with bounded labels', async () => {
    a.setBehavior({ kind: 'status', status: 503 });
    await send('chat');
    const text = await metrics();
    assert.match(text, /sipp_gateway_upstream_attempts_total\{target="a",outcome="retryable_error"\} [1-9]/);
    assert.match(text, /sipp_gateway_upstream_attempts_total\{target="b",outcome="success"\} [1-9]/);
    assert.match(text, /sipp_gateway_fallbacks_total\{group="chat"\} [1-9]/);
    assert.match(text, /sipp_gateway_fallbacks_total\{group="w"\} 0/);
  });
});
