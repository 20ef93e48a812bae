/**
 * deploy/nginx/sipp-gateway.conf: its SSE-safe and privacy promises checked
 * statically, and — when nginx and openssl are installed — for real: nginx
 * with that very file (TLS on a throwaway certificate, loopback ports) in front
 * of a real gateway whose provider upstream stalls mid-stream. Tokens must
 * reach the client while the upstream is still open, request ids must be
 * forwarded, a client disconnect must reach the upstream, and the management
 * routes must not be reachable through the proxy.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { startFakeOpenAI } from '../support/fake-openai.js';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { parseConfigText } from '../../src/config/load.js';
import { publicRoutes } from '../../src/surfaces/index.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { readRepoFile, which } from './files.js';
import { locationBlock, nginxProblems, nginxSeconds, type NginxExpectations } from './nginx.js';

const execFileAsync = promisify(execFile);
const CONF = 'deploy/nginx/sipp-gateway.conf';
const SCALE_CONF = 'deploy/nginx/sipp-gateway-scale.conf';
/** The gateway's route table with the default [routes]: every public route the proxy must pass on. */
const ROUTES = publicRoutes(
  parseConfigText(
    `${BASE_TOML}\n[[tokens]]\nenv = "T"\ncaller = "c"\n[[targets]]\nname = "l"\ntype = "local"\nmodel = "m.gguf"\n`,
  ).routes,
);
const EXPECT: NginxExpectations = {
  publicRoutes: ROUTES.map((r) => r.path),
  managementRoutes: ['/', '/healthz', '/readyz', '/metrics', '/admin'],
  managementPort: 9090,
  minReadTimeoutSeconds: 300,
};

describe('nginx example (static)', () => {
  const conf = readRepoFile(CONF);

  test('keeps every SSE-safe and privacy promise', () => {
    assert.deepEqual(nginxProblems(conf, EXPECT), []);
  });

  const cases: Array<[string, (c: string) => string, RegExp]> = [
    ['buffering on', (c) => c.replace('proxy_buffering off;', 'proxy_buffering on;'), /proxy_buffering is not off/],
    [
      'default read timeout',
      (c) => c.replace('proxy_read_timeout 600s;', 'proxy_read_timeout 60s;'),
      /proxy_read_timeout must be >= 300s/,
    ],
    ['no request id', (c) => c.replace(/^\s*proxy_set_header X-Request-Id.*$/m, ''), /X-Request-Id is not forwarded/],
    [
      'spoofable client address',
      (c) => c.replace(/X-Real-IP\s+\$remote_addr/, 'X-Real-IP $http_x_real_ip'),
      /X-Real-IP is not set to \$remote_addr/,
    ],
    ['HTTP/1.0 upstream', (c) => c.replace('proxy_http_version 1.1;', ''), /proxy_http_version is not 1\.1/],
    ['gzip on streams', (c) => c.replace('gzip off;', 'gzip on;'), /gzip on would buffer/],
    ['management port proxied', (c) => c.replace('server 127.0.0.1:8080;', 'server 127.0.0.1:9090;'), /management port 9090/],
    [
      'admin proxied',
      (c) => c.replace(/location \/ \{/, 'location /admin { proxy_pass http://127.0.0.1:9091; }\n    location / {'),
      /management route \/admin is proxied/,
    ],
    [
      'catch-all proxied',
      (c) => c.replace(/location \/ \{\s*return 404;/, 'location / {\n        proxy_pass http://sipp_gateway_public;'),
      /other paths are not answered 404/,
    ],
    ['API location too wide', (c) => c.replace('location /v1/ {', 'location ~ ^/ {'), /matches management route \/readyz/],
    [
      'API location only the Sipp routes',
      (c) => c.replace('location /v1/ {', 'location ~ ^/v1/(query|chat|embed)$ {'),
      /does not match \/v1\/chat\/completions/,
    ],
    [
      'API location without Anthropic',
      (c) => c.replace('location /v1/ {', 'location ~ ^/v1/(query|chat|embed|chat/completions|completions|embeddings|models)$ {'),
      /does not match \/v1\/messages/,
    ],
    ['no TLS', (c) => c.replace(/^\s*ssl_certificate\s.*$/m, ''), /no TLS/],
  ];
  for (const [name, mutate, problem] of cases) {
    test(`the checker rejects: ${name}`, () => {
      const broken = mutate(conf);
      assert.notEqual(broken, conf, 'the mutation applies');
      const problems = nginxProblems(broken, EXPECT);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} in ${JSON.stringify(problems)}`,
      );
    });
  }

  test('helpers: time values and location blocks (comments ignored)', () => {
    assert.equal(nginxSeconds('600s'), 600);
    assert.equal(nginxSeconds('10m'), 600);
    assert.equal(nginxSeconds('75'), 75);
    assert.ok(Number.isNaN(nginxSeconds('soon')));
    const block = locationBlock('# location /x { nope }\nlocation /y { a { b; } c; }\n', /^\/[xy]$/);
    assert.deepEqual(block, { header: '/y', body: ' a { b; } c; ' });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads an SSE body until `needle` appears; fails if it has not within `ms` (a buffering proxy holds it back). */
async function readUntil(body: ReadableStream<Uint8Array>, needle: string, ms: number): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`"${needle}" did not arrive within ${ms} ms (the proxy buffers the stream?); got ${JSON.stringify(text)}`),
        ),
      ms,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) return text;
      text += decoder.decode(value, { stream: true });
      if (text.includes(needle)) return text;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

describe('nginx example (live, in front of a real gateway)', () => {
  test(
    'streams SSE unbuffered over TLS, forwards request ids and disconnects, hides management',
    { timeout: 90_000 },
    async (t) => {
      const nginx = await which('nginx');
      const openssl = await which('openssl');
      if (!nginx || !openssl) {
        t.skip(
          'nginx or openssl is not installed (apt-get install --no-install-recommends nginx); the static checks above still ran',
        );
        return;
      }
      const dir = mkdtempSync(join(tmpdir(), 'sipp-nginx-'));
      const token = 'nginx-test-client-token';
      const { gw, fake } = await liveGateway(token);
      let child: ChildProcess | undefined;
      const agent = new Agent({ connect: { rejectUnauthorized: false } });
      try {
        await execFileAsync(
          openssl,
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=gateway.example.com',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { timeout: 30_000 },
        );
        const [httpsPort, httpPort] = [await freePort(), await freePort()];
        const gatewayPort = new URL(gw.publicUrl).port;

        // The shipped file, with only host-specific values swapped for this run.
        let conf = readRepoFile(CONF);
        const swaps: Array<[string | RegExp, string]> = [
          ['server 127.0.0.1:8080;', `server 127.0.0.1:${gatewayPort};`],
          ['listen 80;', `listen 127.0.0.1:${httpPort};`],
          ['listen 443 ssl http2;', `listen 127.0.0.1:${httpsPort} ssl http2;`],
          [/ssl_certificate\s+\S+;/, `ssl_certificate ${join(dir, 'cert.pem')};`],
          [/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${join(dir, 'key.pem')};`],
          [/access_log\s+\S+/, `access_log ${join(dir, 'access.log')}`],
        ];
        for (const [from, to] of swaps) {
          const next = conf.replace(from, to);
          assert.notEqual(next, conf, `the shipped config contains ${from}`);
          conf = next;
        }
        writeFileSync(join(dir, 'sipp-gateway.conf'), conf);
        mkdirSync(join(dir, 'temp'), { mode: 0o777 });
        writeFileSync(
          join(dir, 'nginx.conf'),
          `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${join(dir, 'temp/body')};
  proxy_temp_path ${join(dir, 'temp/proxy')};
  fastcgi_temp_path ${join(dir, 'temp/fastcgi')};
  uwsgi_temp_path ${join(dir, 'temp/uwsgi')};
  scgi_temp_path ${join(dir, 'temp/scgi')};
  include ${join(dir, 'sipp-gateway.conf')};
}
`,
        );
        const args = ['-p', dir, '-c', join(dir, 'nginx.conf')];
        await execFileAsync(nginx, ['-t', ...args], { timeout: 30_000 }); // nginx itself accepts the file
        child = spawn(nginx, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let nginxOut = '';
        child.stderr!.on('data', (c: Buffer) => (nginxOut += c.toString()));
        await waitForPort(httpsPort, child, () => nginxOut + safeRead(join(dir, 'error.log')));

        const base = `https://127.0.0.1:${httpsPort}`;
        const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
          undiciFetch(`${base}${path}`, {
            method: 'POST',
            dispatcher: agent,
            signal,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          });

        // Finite request: nginx makes the request id, the gateway echoes it and passes it upstream.
        const finite = await post('/v1/chat', { model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(finite.status, 200);
        assert.equal(((await finite.json()) as { text: string }).text, 'Gateway ready');
        const madeId = finite.headers.get('x-request-id');
        assert.match(madeId ?? '', /^[0-9a-f]{32}$/, 'nginx $request_id forwarded when the client sent none');
        assert.equal(fake.requests.at(-1)!.headers['x-request-id'], madeId);

        // Streaming: the upstream sends two chunks then stalls; the tokens must arrive anyway.
        fake.setBehavior({ kind: 'stall', afterChunks: 2 });
        const abort = new AbortController();
        const stream = await post(
          '/v1/chat',
          { model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true },
          { 'x-request-id': 'nginx-sse-1' },
          abort.signal,
        );
        assert.equal(stream.status, 200);
        assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
        assert.equal(stream.headers.get('x-request-id'), 'nginx-sse-1', 'the client request id survives the proxy');
        const seen = await readUntil(stream.body as ReadableStream<Uint8Array>, 'event: token', 15_000);
        assert.match(seen, /event: token\ndata: \{"text":"Gate","sequence":0\}/);
        assert.equal(fake.abortedCount, 0, 'the upstream is still open: the frames were not buffered until the end');
        abort.abort();
        await fake.waitForAborts(1, 15_000); // the disconnect travelled client → nginx → gateway → upstream
        fake.setBehavior({ kind: 'normal' });

        // The management listener is not reachable through the proxy.
        for (const path of ['/readyz', '/healthz', '/metrics', '/admin', '/admin/api/session', '/']) {
          const res = await undiciFetch(`${base}${path}`, { dispatcher: agent });
          assert.equal(res.status, 404, path);
          await res.text();
        }
        // Every public route of the route table reaches the gateway, and the SDKs work through the proxy.
        await sweepPublicRoutes(base, agent, token);

        // Plain HTTP is redirected to TLS.
        const plain = await undiciFetch(`http://127.0.0.1:${httpPort}/v1/query`, { redirect: 'manual' });
        assert.equal(plain.status, 301);
        assert.match(plain.headers.get('location') ?? '', /^https:\/\//);
        await plain.text();

        // nginx's access log (combined format) carries no bearer token.
        assert.ok(!safeRead(join(dir, 'access.log')).includes(token));
      } finally {
        if (child && child.exitCode === null) {
          const exited = new Promise((r) => child!.once('exit', r));
          child.kill('SIGQUIT');
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
          clearTimeout(timer);
          if (child.exitCode === null) child.kill('SIGKILL');
        }
        await agent.close();
        await gw.stop();
        await fake.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/**
 * Every route of the gateway's route table, through the proxy. Without a token
 * each must get the gateway's own 401 (its JSON error and x-request-id), never
 * nginx's 404; then the official SDKs (the README's path) work through it.
 */
async function sweepPublicRoutes(base: string, dispatcher: Agent, token: string): Promise<void> {
  for (const route of ROUTES) {
    const post = route.method === 'POST';
    // A resource route (GET/DELETE on /v1/responses/:id) is tried with GET; path parameters get a made-up id.
    const method = route.method === 'RESOURCE' ? 'GET' : route.method;
    const path = route.path.replace(/:[a-z_]+/g, 'resp_0123');
    const res = await undiciFetch(`${base}${path}`, {
      method,
      dispatcher,
      headers: post ? { 'content-type': 'application/json' } : {},
      body: post ? '{}' : undefined,
    });
    const text = await res.text();
    assert.equal(res.status, 401, `${method} ${path} through nginx: ${res.status} ${text.slice(0, 200)}`);
    assert.ok(res.headers.get('x-request-id'), `${method} ${path} is answered by the gateway`);
    assert.doesNotThrow(() => JSON.parse(text), `${path}: the gateway's JSON error`);
  }
  const fetch = ((url: string, init?: object) =>
    undiciFetch(url, { ...init, dispatcher } as never)) as unknown as typeof globalThis.fetch;
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0, fetch });
  assert.deepEqual(
    (await openai.models.list()).data.map((m) => m.id),
    ['chat'],
  );
  const chat = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(chat.choices[0]!.message.content, 'Gateway ready');
  const completion = await openai.completions.create({ model: 'chat', prompt: 'hi' });
  assert.equal(completion.choices[0]!.text, 'Gateway ready');
  const embedding = await openai.embeddings.create({ model: 'chat', input: 'hi' });
  assert.ok(embedding.data[0]!.embedding.length > 0);
  const anthropic = new Anthropic({ baseURL: base, apiKey: token, maxRetries: 0, fetch });
  const message = await anthropic.messages.create({ model: 'chat', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  assert.deepEqual(message.content, [{ type: 'text', text: 'Gateway ready' }]);
}

/** The gateway every live test puts nginx in front of: one openai_compatible target `chat` on a fake. */
async function liveGateway(token: string): Promise<{ gw: TestGateway; fake: Awaited<ReturnType<typeof startFakeOpenAI>> }> {
  const fake = await startFakeOpenAI({ apiKey: 'nginx-test-upstream-key' });
  const gw = await startTestGateway({
    toml: `${BASE_TOML}
[[tokens]]
env = "NGINX_TEST_TOKEN"
caller = "nginx-test"

[[targets]]
name = "chat"
type = "openai_compatible"
model = "served-model"
base_url = "${fake.url}"
token_env = "NGINX_TEST_UPSTREAM"
correlation_header = "x-request-id"
timeout_seconds = 60
`,
    env: { TEST_ADMIN_PASSWORD: 'nginx-test-admin-password', NGINX_TEST_TOKEN: token, NGINX_TEST_UPSTREAM: fake.apiKey },
  });
  return { gw, fake };
}

/** Runs nginx (daemon off) with `site` included in its http block, under `dir`; resolves once `port` accepts. */
async function startNginx(nginx: string, dir: string, site: string, port: number): Promise<{ stop(): Promise<void> }> {
  writeFileSync(join(dir, 'site.conf'), site);
  mkdirSync(join(dir, 'temp'), { recursive: true, mode: 0o777 });
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${join(dir, 'temp/body')};
  proxy_temp_path ${join(dir, 'temp/proxy')};
  fastcgi_temp_path ${join(dir, 'temp/fastcgi')};
  uwsgi_temp_path ${join(dir, 'temp/uwsgi')};
  scgi_temp_path ${join(dir, 'temp/scgi')};
  access_log ${join(dir, 'access.log')};
  include ${join(dir, 'site.conf')};
}
`,
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf')];
  await execFileAsync(nginx, ['-t', ...args], { timeout: 30_000 });
  const child = spawn(nginx, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await waitForPort(port, child, () => out + safeRead(join(dir, 'error.log')));
  return {
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

describe('nginx load balancer of docker-compose.scale.yml (live)', () => {
  test(
    'passes every public route of the route table to the gateway, and the SDKs work through it',
    { timeout: 90_000 },
    async (t) => {
      const nginx = await which('nginx');
      if (!nginx) {
        t.skip('nginx is not installed (apt-get install --no-install-recommends nginx)');
        return;
      }
      const dir = mkdtempSync(join(tmpdir(), 'sipp-nginx-scale-'));
      const token = 'nginx-scale-client-token';
      const { gw, fake } = await liveGateway(token);
      const agent = new Agent();
      let proxy: { stop(): Promise<void> } | undefined;
      try {
        const port = await freePort();
        const gatewayPort = new URL(gw.publicUrl).port;
        // The shipped file; the three replicas become this one gateway, the listener a loopback port.
        let conf = readRepoFile(SCALE_CONF);
        for (const from of [/server gateway1:8080\b/, /server gateway2:8080\b/, /server gateway3:8080\b/, /listen 8080;/]) {
          const next = conf.replace(
            from,
            from.source.startsWith('listen') ? `listen 127.0.0.1:${port};` : `server 127.0.0.1:${gatewayPort}`,
          );
          assert.notEqual(next, conf, `the shipped config contains ${from}`);
          conf = next;
        }
        proxy = await startNginx(nginx, dir, conf, port);
        await sweepPublicRoutes(`http://127.0.0.1:${port}`, agent, token);
        for (const path of ['/readyz', '/metrics', '/admin']) {
          const res = await undiciFetch(`http://127.0.0.1:${port}${path}`, { dispatcher: agent });
          assert.equal(res.status, 404, path);
          await res.text();
        }
      } finally {
        await proxy?.stop();
        await agent.close();
        await gw.stop();
        await fake.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
