/**
 * OpenTelemetry traces (docs/operations.md#traces) against a real OTLP/HTTP
 * receiver that decodes the exported protobuf (or JSON): span shape and
 * attributes, parent/child, trace context in from the client and out to the
 * provider, streams, fallbacks as events, sampling, linking, and no prompt,
 * completion or secret in any attribute unless capture_content is on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TracesSchema } from '../../src/config/telemetry.js';
import { tracingSettings } from '../../src/telemetry/tracing.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';

const TOKEN = 'tracing-test-token-8c2f7e1d';
const ADMIN = 'tracing-test-admin-password-3b9a';
const UPSTREAM_KEY = 'sk-fake-openai-key-0123456789';
const env = { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, UPSTREAM_KEY };
const PROMPT = 'a prompt that must never be exported 4711';
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const SERVER = 2;
const CLIENT = 3;

const traces = (receiver: OtlpReceiver, more = '') =>
  `[telemetry.traces]\nenabled = true\nendpoint = "${receiver.url}"\nexport_delay_ms = 20\n${more}`;
const chat = (gw: TestGateway, headers: Record<string, string> = {}, stream = false) =>
  postJson(
    `${gw.publicUrl}/v1/chat/completions`,
    {
      model: 'chat',
      messages: [{ role: 'user', content: PROMPT }],
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    },
    { token: TOKEN, headers },
  );

function byTrace(spans: ReceivedSpan[], traceId: string) {
  const mine = spans.filter((s) => s.traceId === traceId);
  return { server: mine.filter((s) => s.kind === SERVER), client: mine.filter((s) => s.kind === CLIENT) };
}

describe('traces: defaults (protobuf, honour the client, no content)', () => {
  let fake: FakeOpenAI;
  let receiver: OtlpReceiver;
  let gw: TestGateway;
  before(async () => {
    [fake, receiver] = await Promise.all([startFakeOpenAI(), startOtlpReceiver()]);
    gw = await startTestGateway({ toml: chatGatewayToml(fake.url, { extra: traces(receiver) }), env });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([fake?.close(), receiver?.close()]);
  });

  test('a client traceparent is continued: server span, attempt span and the upstream traceparent form one trace', async () => {
    const res = await chat(gw, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    assert.equal(res.status, 200);
    await receiver.waitForSpans(2);
    const { server, client } = byTrace(receiver.spans, CLIENT_TRACE);
    assert.equal(server.length, 1);
    assert.equal(client.length, 1);
    const s = server[0]!;
    const c = client[0]!;
    assert.equal(s.name, 'POST /v1/chat/completions');
    assert.equal(s.parentSpanId, CLIENT_SPAN, "the client's span is the parent");
    assert.equal(s.attributes['http.request.method'], 'POST');
    assert.equal(s.attributes['http.route'], '/v1/chat/completions');
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['sipp.request_id'], res.headers.get('x-request-id'));
    assert.equal(s.resource['service.name'], 'sipp-gateway');

    assert.equal(c.parentSpanId, s.spanId, 'the attempt is a child of the server span');
    assert.equal(c.name, 'chat m');
    assert.equal(c.attributes['gen_ai.operation.name'], 'chat');
    assert.equal(c.attributes['gen_ai.provider.name'], 'openai');
    assert.equal(c.attributes['gen_ai.request.model'], 'm');
    assert.equal(c.attributes['server.address'], '127.0.0.1');
    assert.ok(Number(c.attributes['gen_ai.usage.input_tokens']) > 0);
    assert.ok(Number(c.attributes['gen_ai.usage.output_tokens']) > 0);
    assert.deepEqual(c.attributes['gen_ai.response.finish_reasons'], ['stop']);

    const upstream = fake.requests.at(-1)!;
    assert.equal(
      upstream.headers.traceparent,
      `00-${CLIENT_TRACE}-${c.spanId}-01`,
      'the provider joins the trace under the attempt span',
    );
  });

  test('the trace id is in the request log line and the request record', async () => {
    const res = await chat(gw);
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.reqId === id);
    assert.match(line?.traceId ?? '', /^[0-9a-f]{32}$/);
    await receiver.waitForSpans(4);
    assert.ok(receiver.spans.some((s) => s.traceId === line.traceId && s.kind === SERVER));
  });

  test('a stream: the attempt span records the time to first token and ends with the usage', async () => {
    const res = await chat(gw, {}, true);
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    const spans = await receiver.waitForSpans(6);
    const server = spans.find((s) => s.kind === SERVER && s.attributes['sipp.request_id'] === id)!;
    const attempt = spans.find((s) => s.kind === CLIENT && s.parentSpanId === server.spanId)!;
    assert.ok(Number(attempt.attributes['sipp.time_to_first_token_ms']) >= 0);
    assert.ok(Number(attempt.attributes['gen_ai.usage.output_tokens']) > 0);
    assert.deepEqual(attempt.attributes['gen_ai.response.finish_reasons'], ['stop']);
  });

  test('a refused request still has its server span, marked by its error code', async () => {
    const res = await postJson(`${gw.publicUrl}/v1/chat/completions`, { model: 'chat' }, { token: 'wrong-token-wrong-token' });
    assert.equal(res.status, 401);
    const id = res.headers.get('x-request-id')!;
    await receiver.waitForSpans(7);
    const s = receiver.spans.find((x) => x.attributes['sipp.request_id'] === id)!;
    assert.equal(s.attributes['http.response.status_code'], 401);
    assert.equal(s.attributes['error.type'], 'authentication');
    assert.equal(s.status.code, 0, 'a 4xx is the client’s error, not the server span’s');
  });

  test('each route its own server span name (the names are made once per route)', async () => {
    const res = await postJson(
      `${gw.publicUrl}/v1/chat`,
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
      { token: TOKEN },
    );
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    await receiver.waitForSpans(9);
    const s = receiver.spans.find((x) => x.kind === SERVER && x.attributes['sipp.request_id'] === id)!;
    assert.equal(s.name, 'POST /v1/chat');
    assert.equal(s.attributes['http.route'], '/v1/chat');
  });

  test('no prompt, completion or secret was exported', () => {
    const all = Buffer.concat(receiver.rawBodies);
    for (const secret of [PROMPT, TOKEN, UPSTREAM_KEY, ADMIN, 'Hello from the fake'])
      assert.equal(all.indexOf(secret), -1, `not exported: ${secret}`);
    assert.ok(receiver.contentTypes.every((t) => t === 'application/x-protobuf'));
  });
});

describe('traces: JSON, linked client context, captured content, fallback events', () => {
  let fake: FakeOpenAI;
  let receiver: OtlpReceiver;
  let gw: TestGateway;
  before(async () => {
    [fake, receiver] = await Promise.all([startFakeOpenAI(), startOtlpReceiver()]);
    const toml = `admin_password_env = "TEST_ADMIN_PASSWORD"
[security]
${traces(receiver, 'protocol = "http/json"\ncapture_content = true\nclient_context = "link"')}
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "down"
type = "openai_compatible"
model = "down-model"
base_url = "http://127.0.0.1:9/v1"
token_env = "UPSTREAM_KEY"
[[targets]]
name = "chat"
type = "openai_compatible"
model = "m"
base_url = "${fake.url}"
token_env = "UPSTREAM_KEY"
[[groups]]
name = "g"
targets = ["down", "chat"]
`;
    gw = await startTestGateway({ toml, env });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([fake?.close(), receiver?.close()]);
  });

  test('link: a new trace that links to the client span; content captured; the fallback is an event', async () => {
    const res = await postJson(
      `${gw.publicUrl}/v1/chat/completions`,
      { model: 'g', messages: [{ role: 'user', content: PROMPT }] },
      { token: TOKEN, headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` } },
    );
    assert.equal(res.status, 200);
    const spans = await receiver.waitForSpans(3);
    const server = spans.find((s) => s.kind === SERVER)!;
    assert.notEqual(server.traceId, CLIENT_TRACE);
    assert.equal(server.parentSpanId, '');
    assert.deepEqual(server.links, [{ traceId: CLIENT_TRACE, spanId: CLIENT_SPAN }]);
    const attempts = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === server.spanId);
    assert.deepEqual(attempts.map((a) => a.attributes['sipp.target']).sort(), ['chat', 'down']);
    const failed = attempts.find((a) => a.attributes['sipp.target'] === 'down')!;
    assert.equal(failed.status.code, 2, 'the failed attempt is an error');
    // Each attempt names its own target's server (the base URLs are parsed once each).
    assert.equal(failed.attributes['server.port'], 9);
    assert.equal(
      attempts.find((a) => a.attributes['sipp.target'] === 'chat')!.attributes['server.port'],
      Number(new URL(fake.url).port),
    );
    assert.ok(failed.attributes['error.type']);
    assert.ok(server.events.some((e) => e.name === 'fallback' && e.attributes['sipp.target'] === 'chat'));
    const served = attempts.find((a) => a.attributes['sipp.target'] === 'chat')!;
    assert.match(String(served.attributes['gen_ai.input.messages']), new RegExp(PROMPT));
    assert.ok(String(served.attributes['gen_ai.output.messages']).length > 0);
    assert.ok(receiver.contentTypes.every((t) => t.startsWith('application/json')));
    const all = Buffer.concat(receiver.rawBodies);
    for (const secret of [TOKEN, UPSTREAM_KEY, ADMIN])
      assert.equal(all.indexOf(secret), -1, 'secrets never, even with capture_content');
  });
});

describe('traces: sampling', () => {
  let fake: FakeOpenAI;
  let receiver: OtlpReceiver;
  before(async () => {
    [fake, receiver] = await Promise.all([startFakeOpenAI(), startOtlpReceiver()]);
  });
  after(async () => {
    await Promise.all([fake?.close(), receiver?.close()]);
  });

  test('ratio 0 keeps no new trace, but a sampled client parent is honoured', async () => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, { extra: traces(receiver, 'sampling_ratio = 0') }),
      env,
    });
    let unsampledId: string;
    try {
      const a = await chat(gw);
      unsampledId = a.headers.get('x-request-id')!;
      assert.equal((await chat(gw, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })).status, 200);
    } finally {
      await gw.stop(); // flushes every finished span
    }
    assert.deepEqual([...new Set(receiver.spans.map((s) => s.traceId))], [CLIENT_TRACE]);
    assert.equal(receiver.spans.length, 2);
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.reqId === unsampledId);
    assert.equal(line.traceId, undefined, 'an unsampled request names no trace');
  });

  test('an unsampled request still sends the provider a traceparent of its trace (unsampled, a span id of its own) and the tracestate', async () => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(fake.url, { extra: traces(receiver, 'sampling_ratio = 0') }),
      env,
    });
    const before = receiver.spans.length;
    const upstream: Array<Record<string, unknown>> = [];
    try {
      assert.equal((await chat(gw)).status, 200);
      upstream.push(fake.requests.at(-1)!.headers);
      assert.equal((await chat(gw)).status, 200);
      upstream.push(fake.requests.at(-1)!.headers);
      const res = await chat(gw, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00`, tracestate: 'vendor=v1,other=x' });
      assert.equal(res.status, 200);
      upstream.push(fake.requests.at(-1)!.headers);
    } finally {
      await gw.stop();
    }
    const [a, b, c] = upstream.map((h) => String(h.traceparent).split('-'));
    for (const p of [a!, b!]) {
      assert.equal(p.length, 4);
      assert.equal(p[0], '00');
      assert.match(p[1]!, /^[0-9a-f]{32}$/);
      assert.notEqual(p[1], '0'.repeat(32));
      assert.match(p[2]!, /^[0-9a-f]{16}$/);
      assert.notEqual(p[2], '0'.repeat(16));
      assert.equal(p[3], '00', 'not sampled');
    }
    assert.notEqual(a![1], b![1], 'each new trace has its own id');
    assert.equal(upstream[0]!.tracestate, undefined);
    assert.deepEqual([c![0], c![1], c![3]], ['00', CLIENT_TRACE, '00'], "the client's unsampled trace continues");
    assert.match(c![2]!, /^[0-9a-f]{16}$/);
    assert.notEqual(c![2], CLIENT_SPAN, 'under a span id of the attempt');
    assert.equal(upstream[2]!.tracestate, 'vendor=v1,other=x');
    assert.equal(receiver.spans.length, before, 'nothing exported');
  });
});

describe('tracing settings from the environment', () => {
  const off = TracesSchema.parse({});
  test('off unless enabled or an OTLP endpoint variable is set', () => {
    assert.equal(tracingSettings(off, {}), null);
    assert.equal(tracingSettings(off, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })?.endpoint, 'http://c:4318/v1/traces');
    assert.equal(
      tracingSettings(off, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' })?.endpoint,
      'http://c:4318/custom',
    );
    assert.equal(tracingSettings(TracesSchema.parse({ enabled: true }), { OTEL_SDK_DISABLED: 'true' }), null);
    assert.equal(
      tracingSettings(TracesSchema.parse({ enabled: true, endpoint: 'http://x:1/' }), {})?.endpoint,
      'http://x:1/v1/traces',
    );
  });
  test('protocol, sampler, service name and headers', () => {
    const on = TracesSchema.parse({ enabled: true, headers_env: 'OTLP_HEADERS' });
    const s = tracingSettings(on, {
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_SERVICE_NAME: 'edge-gw',
      OTLP_HEADERS: 'x-honeycomb-team=abc%3D,x-other=1',
    })!;
    assert.equal(s.protocol, 'http/json');
    assert.deepEqual(s.sampler, { kind: 'ratio', ratio: 0.1, parentBased: true });
    assert.equal(s.serviceName, 'edge-gw');
    assert.deepEqual(s.headers, { 'x-honeycomb-team': 'abc=', 'x-other': '1' });
    assert.deepEqual(tracingSettings(on, { OTEL_TRACES_SAMPLER: 'always_off' })!.sampler, {
      kind: 'always_off',
      ratio: 0,
      parentBased: false,
    });
    assert.equal(tracingSettings(on, {})!.protocol, 'http/protobuf');
  });
});
