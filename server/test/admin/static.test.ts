/**
 * Dashboard asset serving under a non-default admin route, from a directory
 * given by SIPP_GATEWAY_ADMIN_ASSETS_DIR: content types, caching, security
 * headers, SPA fallback and path traversal.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { missingSecurityHeaders } from './admin-client.js';

const INDEX = `<!doctype html>
<html><head>
  <script type="module" crossorigin src="./assets/index-AbC123.js"></script>
  <link rel="stylesheet" crossorigin href="./assets/index-DeF456.css">
</head><body><div id="root"></div></body></html>`;

/** Raw GET without URL normalization (fetch would resolve "..", "%2e%2e" stays but "/../" would not). */
function rawGet(
  url: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin static assets', () => {
  let dir: string;
  let outside: string;
  let gw: TestGateway;
  const base = '/ops/dash';
  const url = (p: string) => `${gw.managementUrl}${base}${p}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sipp-admin-assets-'));
    outside = await mkdtemp(join(tmpdir(), 'sipp-admin-outside-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-AbC123.js'), 'console.log("app")');
    await writeFile(join(dir, 'assets', 'index-DeF456.css'), 'body{color:black}');
    await writeFile(join(dir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(dir, 'favicon.ico'), 'ico');
    // Precompressed variants, as the build writes them (distinct bytes so the test sees which one was sent).
    await writeFile(join(dir, 'assets', 'packed-1.js'), 'plain');
    await writeFile(join(dir, 'assets', 'packed-1.js.br'), 'brotli-bytes');
    await writeFile(join(dir, 'assets', 'packed-1.js.gz'), 'gzip-bytes');
    await writeFile(join(dir, 'assets', 'gz-only-1.css'), 'plain-css');
    await writeFile(join(dir, 'assets', 'gz-only-1.css.gz'), 'gzip-css');
    await writeFile(join(outside, 'secret.txt'), 'outside the asset dir');
    await symlink(join(outside, 'secret.txt'), join(dir, 'assets', 'escape.txt'));
    process.env.SIPP_GATEWAY_ADMIN_ASSETS_DIR = dir;
    gw = await startTestGateway({
      toml: chatGatewayToml('http://127.0.0.1:9/v1', { extra: `[routes]\nadmin = "${base}"` }),
      env: { TEST_ADMIN_PASSWORD: 'static-admin-pw-1', T: 'tok-static-123456', UPSTREAM_KEY: 'sk-static-key-0123456789' },
    });
  });
  after(async () => {
    await gw?.stop();
    delete process.env.SIPP_GATEWAY_ADMIN_ASSETS_DIR;
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('serves index.html with no-store, a strict CSP, security headers and absolute asset URLs', async () => {
    for (const p of ['', '/', '/index.html']) {
      const res = await fetch(url(p));
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const csp = res.headers.get('content-security-policy')!;
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      const html = await res.text();
      assert.ok(html.includes(`src="${base}/assets/index-AbC123.js"`));
      assert.ok(html.includes(`href="${base}/assets/index-DeF456.css"`));
      assert.ok(html.includes(`<meta name="sipp-admin-base" content="${base}">`));
    }
  });

  it('every kind of admin response carries the documented security headers (COOP, CORP, Permissions-Policy included)', async () => {
    for (const p of [
      '/',
      '/index.html',
      '/deep/link',
      '/assets/index-AbC123.js',
      '/assets/logo.svg',
      '/assets/absent.js',
      '/favicon.ico',
      '/api/session',
      '/api/overview',
      '/api/nope',
    ]) {
      const res = await fetch(url(p));
      await res.arrayBuffer();
      assert.deepEqual(missingSecurityHeaders(res.headers), [], `${res.status} ${p}`);
    }
    const login = await fetch(url('/api/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"password":"wrong"}',
    });
    await login.arrayBuffer();
    assert.deepEqual(missingSecurityHeaders(login.headers), [], `${login.status} POST /api/session`);
  });

  it('hashed assets: right content type, immutable caching, security headers', async () => {
    const cases: Array<[string, string]> = [
      ['/assets/index-AbC123.js', 'text/javascript; charset=utf-8'],
      ['/assets/index-DeF456.css', 'text/css; charset=utf-8'],
      ['/assets/logo.svg', 'image/svg+xml'],
    ];
    for (const [p, type] of cases) {
      const res = await fetch(url(p));
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-type'), type);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(res.headers.get('content-security-policy'));
      await res.arrayBuffer();
    }
    const js = await fetch(url('/assets/index-AbC123.js'));
    assert.equal(await js.text(), 'console.log("app")');
    const ico = await fetch(url('/favicon.ico'));
    assert.equal(ico.headers.get('cache-control'), 'no-cache');
    const head = await fetch(url('/assets/index-AbC123.js'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String('console.log("app")'.length));
  });

  it('unknown non-asset paths fall back to the SPA; unknown asset paths are 404', async () => {
    for (const p of ['/traffic', '/security/blocklist', '/targets/x']) {
      const res = await fetch(url(p));
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.ok((await res.text()).includes('id="root"'));
    }
    for (const p of ['/assets/missing-123.js', '/nope.png', '/assets']) {
      const res = await fetch(url(p));
      if (p === '/assets') {
        assert.equal(res.status, 200, 'a directory name is a client route');
        await res.text();
        continue;
      }
      assert.equal(res.status, 404, p);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(((await res.json()) as any).error.code, 'not_found');
    }
    const post = await fetch(url('/traffic'), { method: 'POST' });
    assert.equal(post.status, 404);
  });

  it('path traversal attempts are 404', async () => {
    const attempts = [
      `${base}/../../../etc/passwd`,
      `${base}/assets/../../../../etc/passwd`,
      `${base}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
      `${base}/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd`,
      `${base}/assets/..%2f..%2f..%2fetc%2fpasswd`,
      `${base}/..%5c..%5c..%5cetc%5cpasswd`,
      `${base}/assets\\..\\..\\etc\\passwd`,
      `${base}/assets/%00.js`,
      `${base}/assets/escape.txt`,
      `${base}/%E0%A4%A.js`,
      `${base}/./index.html`,
    ];
    for (const p of attempts) {
      const res = await rawGet(gw.managementUrl, p);
      assert.ok(res.status === 404 || res.status === 400, `${p} → ${res.status}`);
      assert.ok(!res.body.includes('root:'), p);
      assert.ok(!res.body.includes('outside the asset dir'), p);
    }
  });

  it('API under a custom route uses that route as basePath', async () => {
    const res = await fetch(url('/api/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'static-admin-pw-1' }),
    });
    const body: any = await res.json();
    assert.equal(body.basePath, base);
    assert.ok(res.headers.getSetCookie().every((c) => c.includes(`path=${base}`)));
    assert.ok(!JSON.stringify(body).includes('static-admin-pw-1'));
  });

  it('the admin route is not served on the public listener', async () => {
    const res = await fetch(`${gw.publicUrl}${base}/`);
    assert.equal(res.status, 404);
    assert.ok(!(await res.text()).includes('id="root"'));
  });

  it('serves precompressed brotli/gzip variants with Content-Encoding and Vary: Accept-Encoding', async () => {
    const get = async (path: string, acceptEncoding: string) => {
      const u = new URL(url(path));
      return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
        (resolve, reject) => {
          const req = request(
            { host: u.hostname, port: u.port, path: u.pathname, headers: { 'accept-encoding': acceptEncoding } },
            (res) => {
              let body = '';
              res.setEncoding('latin1');
              res.on('data', (c) => (body += c));
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
    };
    const cases: Array<[string, string, string | undefined, string]> = [
      ['/assets/packed-1.js', 'gzip, deflate, br', 'br', 'brotli-bytes'],
      ['/assets/packed-1.js', 'gzip', 'gzip', 'gzip-bytes'],
      ['/assets/packed-1.js', 'identity', undefined, 'plain'],
      ['/assets/packed-1.js', 'br;q=0, gzip;q=1', 'gzip', 'gzip-bytes'],
      ['/assets/gz-only-1.css', 'br, gzip', 'gzip', 'gzip-css'],
      ['/assets/gz-only-1.css', '', undefined, 'plain-css'],
    ];
    for (const [path, accept, encoding, body] of cases) {
      const r = await get(path, accept);
      assert.equal(r.status, 200, `${path} ${accept}`);
      assert.equal(r.headers['content-encoding'], encoding, `${path} ${accept}`);
      assert.equal(r.body, body, `${path} ${accept}`);
      assert.match(String(r.headers.vary), /Accept-Encoding/i);
      assert.match(String(r.headers['content-type']), path.endsWith('.js') ? /javascript/ : /text\/css/);
      assert.equal(Number(r.headers['content-length']), body.length);
    }
  });
});
