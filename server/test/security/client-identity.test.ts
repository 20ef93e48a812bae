/**
 * Client identity through the real gateway: forwarded headers are honoured
 * only from trusted proxies; spoofed headers from anyone else are ignored.
 * All test traffic comes from 127.0.0.1, so "trusted" means 127.0.0.0/8 is listed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClientIdentifier } from '../../src/security/client-identity.js';
import { normalizeIp } from '../../src/security/blocklist.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';

const TOKEN = 'tok-identity-0123456789';

describe('client identity', () => {
  let upstream: FakeOpenAI;
  const gateways: TestGateway[] = [];
  const start = async (clientIp: string) => {
    const gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url, { security: `[security.client_ip]\n${clientIp}` }),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-xyz-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
    gateways.push(gw);
    return gw;
  };
  const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

  before(async () => {
    upstream = await startFakeOpenAI();
  });
  after(async () => {
    for (const g of gateways) await g.stop();
    await upstream?.close();
  });

  it('x_forwarded_for from a trusted proxy identifies the client (blocklist applies to it)', async () => {
    const gw = await start('source = "x_forwarded_for"\ntrusted_proxy_cidrs = ["127.0.0.0/8"]');
    gw.gateway.controls.blocklist.add('203.0.113.9');
    const blocked = await postJson(`${gw.publicUrl}/v1/chat`, chat, {
      token: TOKEN,
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error.code, 'blocked');
    // The right-most untrusted hop is the client; earlier hops are client-controlled.
    const viaChain = await postJson(`${gw.publicUrl}/v1/chat`, chat, {
      token: TOKEN,
      headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.4, 127.0.0.2' },
    });
    assert.equal(viaChain.status, 200);
    const other = await postJson(`${gw.publicUrl}/v1/chat`, chat, {
      token: TOKEN,
      headers: { 'x-forwarded-for': '198.51.100.4' },
    });
    assert.equal(other.status, 200);
    assert.ok(gw.logs.some((l) => l.includes('"client":"198.51.100.4"')));
  });

  it('ignores x-forwarded-for from an untrusted peer (no spoofing past the blocklist)', async () => {
    const gw = await start('source = "x_forwarded_for"\ntrusted_proxy_cidrs = ["10.0.0.0/8"]');
    gw.gateway.controls.blocklist.add('127.0.0.1');
    const spoofed = await postJson(`${gw.publicUrl}/v1/chat`, chat, {
      token: TOKEN,
      headers: { 'x-forwarded-for': '198.51.100.77' },
    });
    assert.equal(spoofed.status, 403, 'the peer address is still the identity');
    gw.gateway.controls.blocklist.remove('127.0.0.1');
    gw.gateway.controls.blocklist.add('198.51.100.77');
    const ok = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-forwarded-for': '198.51.100.77' } });
    assert.equal(ok.status, 200);
  });

  it('x_real_ip from a trusted proxy identifies the client; spoofed per-client rate limits do not reset', async () => {
    const trusted = await start('source = "x_real_ip"\ntrusted_proxy_cidrs = ["127.0.0.1/32"]');
    trusted.gateway.controls.rateLimiter.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
    for (const ip of ['192.0.2.1', '192.0.2.2']) {
      const r = await postJson(`${trusted.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-real-ip': ip } });
      assert.equal(r.status, 200, `${ip} has its own bucket`);
    }
    const again = await postJson(`${trusted.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-real-ip': '192.0.2.1' } });
    assert.equal(again.status, 429);

    const untrusted = await start('source = "x_real_ip"\ntrusted_proxy_cidrs = ["10.1.0.0/16"]');
    untrusted.gateway.controls.rateLimiter.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
    assert.equal(
      (await postJson(`${untrusted.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-real-ip': '192.0.2.1' } })).status,
      200,
    );
    const spoof = await postJson(`${untrusted.publicUrl}/v1/chat`, chat, { token: TOKEN, headers: { 'x-real-ip': '192.0.2.2' } });
    assert.equal(spoof.status, 429, 'a new x-real-ip from an untrusted peer does not buy a new bucket');
  });

  it('falls back to the peer when the forwarded header is missing or garbage', () => {
    const id = createClientIdentifier('x_forwarded_for', ['10.0.0.0/8']);
    assert.equal(id('10.0.0.5', {}), '10.0.0.5');
    assert.equal(id('10.0.0.5', { 'x-forwarded-for': 'not-an-ip' }), '10.0.0.5');
    assert.equal(id('::ffff:10.0.0.5', { 'x-forwarded-for': '2001:db8::1' }), '2001:db8::1');
    assert.equal(id('10.0.0.5', { 'x-forwarded-for': '10.0.0.9, 10.0.0.8' }), '10.0.0.9', 'all hops trusted: the left-most');
    const real = createClientIdentifier('x_real_ip', ['10.0.0.0/8']);
    assert.equal(real('10.0.0.5', { 'x-real-ip': 'garbage' }), '10.0.0.5');
  });

  it('normalizes IP text forms', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(normalizeIp('[::1]'), '::1');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp('nope'), null);
    assert.equal(normalizeIp('1.2.3.256'), null);
  });
});
