import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOKEN = 'tok-cors-0123456789';
const ALLOWED = 'https://app.example.com';

describe('CORS on the public listener', () => {
  let upstream: FakeOpenAI;
  let withCors: TestGateway;
  let without: TestGateway;
  const env = () => ({ TEST_ADMIN_PASSWORD: 'pw-admin-xyz-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey });
  const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

  before(async () => {
    upstream = await startFakeOpenAI();
    withCors = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { top: `allowed_origins = ["${ALLOWED}"]` }),
      env: env(),
    });
    without = await startTestGateway({ toml: chatGatewayToml(upstream.url, { top: 'allowed_origins = []' }), env: env() });
  });
  after(async () => {
    await withCors?.stop();
    await without?.stop();
    await upstream?.close();
  });

  const preflight = (base: string, origin: string) =>
    fetch(`${base}/v1/chat`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('answers a preflight from an allowed origin with exact-origin headers', async () => {
    const r = await preflight(withCors.publicUrl, ALLOWED);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(r.headers.get('access-control-allow-methods')!, /POST/);
    assert.match(r.headers.get('access-control-allow-methods')!, /OPTIONS/);
    // GET for the OpenAI model list and stored responses; DELETE only for `DELETE /v1/responses/{id}`.
    assert.match(r.headers.get('access-control-allow-methods')!, /GET/);
    assert.match(r.headers.get('access-control-allow-methods')!, /DELETE/);
    assert.doesNotMatch(r.headers.get('access-control-allow-methods')!, /PUT|PATCH/);
    const allowHeaders = r.headers.get('access-control-allow-headers')!.toLowerCase();
    // x-api-key and anthropic-version: what the Anthropic SDK sends from a browser.
    for (const h of ['authorization', 'content-type', 'x-request-id', 'x-api-key', 'anthropic-version'])
      assert.ok(allowHeaders.includes(h), h);
    assert.match(r.headers.get('vary') ?? '', /origin/i);
  });

  it('adds CORS headers to the actual request from an allowed origin', async () => {
    const r = await fetch(`${withCors.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { origin: ALLOWED, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(r.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    assert.match(r.headers.get('access-control-expose-headers') ?? '', /x-sipp-target/);
  });

  it('refuses other origins: no CORS headers on preflight or request, never a wildcard', async () => {
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.io', 'http://app.example.com']) {
      const p = await preflight(withCors.publicUrl, origin);
      assert.equal(p.headers.get('access-control-allow-origin'), null, origin);
      const r = await fetch(`${withCors.publicUrl}/v1/chat`, {
        method: 'POST',
        headers: { origin, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  it('has no CORS layer at all when allowed_origins is empty', async () => {
    const p = await preflight(without.publicUrl, ALLOWED);
    assert.equal(p.headers.get('access-control-allow-origin'), null);
    assert.equal(p.headers.get('access-control-allow-methods'), null);
  });

  it('never adds CORS to the management listener', async () => {
    const r = await fetch(`${withCors.managementUrl}/healthz`, { headers: { origin: ALLOWED } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });
});
