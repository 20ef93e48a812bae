/**
 * DNS-rebinding defence: the management listener answers only requests whose
 * Host names it (localhost, loopback addresses, its bind address, the address
 * the connection arrived on, management_allowed_hosts), on every route.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hostOf, isAllowedHost } from '../../src/management/host-allowlist.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { RawConnection, requestHead } from '../support/raw-http.js';

const PASSWORD = 'pw-admin-host-check';
const ROUTES: Array<[string, string]> = [
  ['GET', '/'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/admin/'],
  ['GET', '/admin/api/session'],
  ['POST', '/admin/api/session'],
];

/** One request with this exact Host header (null: none at all, as HTTP/1.0 allows). */
function withHost(url: string, method: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const body = method === 'POST' ? JSON.stringify({ password: PASSWORD }) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        setHost: false,
        headers: { host, connection: 'close', ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('management Host check', () => {
  let gw: TestGateway;
  let port: string;

  before(async () => {
    gw = await startTestGateway({
      toml: chatGatewayToml('http://127.0.0.1:9/v1', { top: 'management_allowed_hosts = ["gateway-admin.internal"]' }),
      env: { TEST_ADMIN_PASSWORD: PASSWORD, T: 'tok-host-check-0123456789', UPSTREAM_KEY: 'sk-host-check-0123456789' },
    });
    port = new URL(gw.managementUrl).port;
  });
  after(async () => {
    await gw?.stop();
  });

  it('accepts localhost, loopback addresses (IPv4 and IPv6, with or without port) and the allowed hosts, on every route', async () => {
    const hosts = [
      'localhost',
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      '127.9.8.7',
      `[::1]:${port}`,
      '[::1]',
      'LOCALHOST:19090',
      'gateway-admin.internal',
      'Gateway-Admin.Internal:443',
      'localhost.',
    ];
    for (const host of hosts) {
      for (const [method, path] of ROUTES) {
        const r = await withHost(gw.managementUrl, method, path, host);
        assert.notEqual(r.status, 421, `${method} ${path} Host ${host}: ${r.body}`);
        assert.ok(r.status < 500, `${method} ${path} Host ${host}: ${r.status}`);
      }
    }
  });

  it('refuses every other Host with 421 and a message that says what to do, on every route', async () => {
    const hosts = [
      `evil.example:${port}`,
      'evil.example',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
      'gateway-admin.internal.evil.example',
      '10.1.2.3:9090',
      `[::2]:${port}`,
      `localhost:${port}x`,
      '[::1',
      '',
    ];
    for (const host of hosts) {
      for (const [method, path] of ROUTES) {
        const r = await withHost(gw.managementUrl, method, path, host);
        assert.equal(r.status, 421, `${method} ${path} Host ${JSON.stringify(host)}: ${r.status} ${r.body}`);
        const body = JSON.parse(r.body);
        assert.equal(body.error.code, 'misdirected_request');
        assert.match(body.error.message, host ? /management_allowed_hosts/ : /Host header/);
      }
    }
    assert.ok(gw.logs.some((l) => l.includes('Host not allowed') && l.includes('evil.example')));
  });

  it('refuses a request without any Host header (HTTP/1.0: 421; HTTP/1.1: 400 from Node)', async () => {
    const old = await RawConnection.open(gw.managementUrl);
    await old.write(requestHead('GET', '/metrics', {}, 'HTTP/1.0'));
    await old.waitClosed();
    assert.deepEqual(old.statuses(), [421]);
    assert.doesNotMatch(old.received, /sipp_gateway_requests_total/);
    const v11 = await RawConnection.open(gw.managementUrl);
    await v11.write(requestHead('GET', '/metrics', { connection: 'close' }));
    await v11.waitClosed();
    assert.deepEqual(v11.statuses(), [400]);
  });

  it('the public listener does not check Host (clients name it as they like)', async () => {
    const r = await withHost(gw.publicUrl, 'GET', '/v1/query', 'api.example.com');
    assert.equal(r.status, 405);
  });
});

describe('isAllowedHost', () => {
  const opts = { bindHost: '10.0.0.5', allowed: ['admin.example'] };
  it('parses Host values', () => {
    assert.equal(hostOf('Example.COM:80'), 'example.com');
    assert.equal(hostOf('[::1]:9090'), '::1');
    assert.equal(hostOf('[::1]'), '::1');
    assert.equal(hostOf('host:'), null);
    assert.equal(hostOf('host:99999x'), null);
    assert.equal(hostOf('[::1]x'), null);
    assert.equal(hostOf(''), null);
  });
  it('accepts the bind address, the local address of the connection and the allow list', () => {
    assert.ok(isAllowedHost('10.0.0.5:9090', undefined, opts));
    assert.ok(isAllowedHost('admin.example', undefined, opts));
    assert.ok(isAllowedHost('[::ffff:127.0.0.1]:9090', undefined, opts));
    assert.ok(isAllowedHost('172.17.0.2:9090', '::ffff:172.17.0.2', { bindHost: '0.0.0.0', allowed: [] }));
    assert.ok(!isAllowedHost('172.17.0.3:9090', '::ffff:172.17.0.2', { bindHost: '0.0.0.0', allowed: [] }));
    assert.ok(!isAllowedHost('10.0.0.6', undefined, opts));
    assert.ok(!isAllowedHost('sub.admin.example', undefined, opts));
    assert.ok(!isAllowedHost(undefined, '127.0.0.1', opts));
    assert.ok(isAllowedHost('gw.internal:9090', undefined, { bindHost: 'gw.internal', allowed: [] }), 'a bind host name');
  });
});
