import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, postJson } from '../support/http.js';

const TOKEN = 'tok-mgmt-0123456789';

describe('management listener', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-xyz-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('health says ok and readiness says ready once targets are loaded', async () => {
    assert.deepEqual(await getText(`${gw.managementUrl}/healthz`).then((r) => [r.status, r.text]), [200, 'ok']);
    assert.deepEqual(await getText(`${gw.managementUrl}/readyz`).then((r) => [r.status, r.text]), [200, 'ready']);
  });

  it('index lists capabilities, version, routes and targets without secrets', async () => {
    const r = await fetch(`${gw.managementUrl}/`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const doc = JSON.parse(text);
    assert.deepEqual(doc.capabilities, ['query', 'chat', 'embed']);
    assert.equal(doc.name, 'sipp-gateway');
    assert.match(doc.version, /^\d+\.\d+\.\d+/);
    assert.equal(doc.routes.public.chat, '/v1/chat');
    assert.deepEqual(doc.apis, ['sipp', 'openai', 'anthropic']);
    assert.equal(doc.routes.public.openai_chat, '/v1/chat/completions');
    assert.equal(doc.routes.public.openai_models, '/v1/models');
    assert.equal(doc.routes.public.anthropic_messages, '/v1/messages');
    assert.equal(doc.routes.public.openai_responses, '/v1/responses');
    assert.equal(doc.routes.management.metrics, '/metrics');
    assert.deepEqual(doc.targets, [{ name: 'chat', type: 'openai_compatible', operations: ['query', 'chat', 'embed'] }]);
    for (const secret of [TOKEN, upstream.apiKey, 'pw-admin-xyz-0123456789']) assert.ok(!text.includes(secret));
  });

  it('never serves public routes on the management listener', async () => {
    for (const p of ['/v1/query', '/v1/chat', '/v1/embed']) {
      const r = await postJson(`${gw.managementUrl}${p}`, { model: 'chat', prompt: 'x' }, { token: TOKEN });
      assert.equal(r.status, 404, p);
    }
  });

  it('exports the documented metric names with low-cardinality labels', async () => {
    await postJson(`${gw.publicUrl}/v1/query`, { model: 'chat', prompt: 'hi' }, { token: TOKEN });
    await postJson(`${gw.publicUrl}/v1/query`, { model: 'chat', prompt: 'hi' }, { token: TOKEN });
    await postJson(`${gw.publicUrl}/v1/chat`, { model: 'chat' }, { token: TOKEN });
    await postJson(`${gw.publicUrl}/v1/chat`, { model: 'chat' }, { token: 'wrong-token' });
    gw.gateway.controls.blocklist.add('127.0.0.1');
    await postJson(`${gw.publicUrl}/v1/chat`, {}, {});
    gw.gateway.controls.blocklist.remove('127.0.0.1');
    gw.gateway.controls.rateLimiter.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
    await postJson(`${gw.publicUrl}/v1/embed`, {}, {});
    await postJson(`${gw.publicUrl}/v1/embed`, {}, {});
    gw.gateway.controls.rateLimiter.configure({ enabled: false, requestsPerMinute: 1, burst: 1 });

    const r = await fetch(`${gw.managementUrl}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/plain/);
    const text = await r.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `missing ${series}`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(value('sipp_gateway_requests_total{api="sipp",operation="query"}'), 2);
    assert.equal(value('sipp_gateway_requests_total{api="sipp",operation="chat"}'), 3);
    assert.equal(value('sipp_gateway_requests_total{api="sipp",operation="embed"}'), 2);
    assert.equal(value('sipp_gateway_errors_total{api="sipp",operation="chat"}'), 3);
    assert.equal(value('sipp_gateway_errors_total{api="sipp",operation="query"}'), 0);
    assert.equal(value('sipp_gateway_rate_limit_hits_total'), 1);
    assert.equal(value('sipp_gateway_blocklist_hits_total'), 1);
    assert.equal(value('sipp_gateway_active_requests'), 0);
    assert.equal(value('sipp_gateway_responses_total{status_class="2xx"}'), 2);
    assert.ok(value('sipp_gateway_responses_total{status_class="4xx"}') >= 5);
    assert.equal(value('sipp_gateway_input_tokens_total{target="chat"}'), 16);
    assert.equal(value('sipp_gateway_output_tokens_total{target="chat"}'), 6);
    assert.equal(value('sipp_gateway_request_duration_seconds_count{api="sipp",operation="query"}'), 2);
    // Labels only from fixed sets (routing adds outcome, group and circuit state): no caller, IP, token or request id in any series.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
      for (const m of labels.matchAll(/(\w+)="/g))
        assert.ok(
          ['api', 'operation', 'status_class', 'target', 'le', 'outcome', 'group', 'to'].includes(m[1]!),
          `label ${m[1]} in ${line}`,
        );
    }
    for (const secret of [TOKEN, upstream.apiKey, 'pw-admin-xyz-0123456789', '127.0.0.1'])
      assert.ok(!text.includes(secret), secret);
  });

  it('readiness flips to 503 while draining', async () => {
    const other = await startTestGateway({
      toml: chatGatewayToml(upstream.url),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-xyz-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
      graceMs: 3000,
    });
    upstream.setBehavior({ kind: 'slow', gapMs: 150 });
    const res = await fetch(`${other.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const streamText = res.text();
    const stopping = other.stop();
    const ready = await getText(`${other.managementUrl}/readyz`);
    assert.equal(ready.status, 503);
    const refused = await postJson(
      `${other.publicUrl}/v1/chat`,
      { model: 'chat', messages: [{ role: 'user', content: 'x' }] },
      { token: TOKEN },
    );
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'shutting_down');
    // The in-flight stream still finishes cleanly.
    assert.match(await streamText, /event: done/);
    await stopping;
    upstream.setBehavior({ kind: 'normal' });
  });
});
