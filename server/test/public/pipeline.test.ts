/**
 * The public listener end to end: every status/code pair of docs/api.md#errors that the
 * core produces, the check order, request ids and the response shapes, against
 * a real gateway and a real fake OpenAI-compatible upstream.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';

const TOKEN = 'tok-full-access-1234567890';
const RESTRICTED = 'tok-restricted-abcdefghij';
const ADMIN = 'admin-pw-never-shown-42';

describe('public listener pipeline', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  let url: (op: string) => string;

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: `max_request_bytes = 4096
${BASE_TOML}
[[tokens]]
env = "T_FULL"
caller = "full"
[[tokens]]
env = "T_RESTRICTED"
caller = "restricted"
targets = ["other"]
[[targets]]
name = "chat"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "UPSTREAM_KEY"
[[targets]]
name = "other"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "UPSTREAM_KEY"
`,
      env: { TEST_ADMIN_PASSWORD: ADMIN, T_FULL: TOKEN, T_RESTRICTED: RESTRICTED, UPSTREAM_KEY: upstream.apiKey },
    });
    url = (op) => `${gw.publicUrl}/v1/${op}`;
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('answers a finite chat with the documented response shape and the upstream id', async () => {
    const r = await postJson(url('chat'), { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /application\/json/);
    assert.deepEqual(r.body, {
      id: 'chatcmpl-fake-1',
      model: 'chat',
      text: 'Gateway ready',
      finish_reason: 'stop',
      usage: { input_tokens: 8, output_tokens: 3, total_tokens: 11 },
    });
  });

  it('answers query (one user message upstream) and embed', async () => {
    const q = await postJson(
      url('query'),
      { model: 'chat', prompt: 'say it', max_tokens: 5, temperature: 0.2, top_p: 0.9, stop: ['\n'] },
      { token: TOKEN },
    );
    assert.equal(q.status, 200);
    assert.equal(q.body.text, 'Gateway ready');
    const sent = upstream.requests.at(-1)!.body;
    assert.deepEqual(sent.messages, [{ role: 'user', content: 'say it' }]);
    assert.equal(sent.max_tokens, 5);
    const e = await postJson(url('embed'), { model: 'chat', input: 'vector me' }, { token: TOKEN });
    assert.equal(e.status, 200);
    assert.deepEqual(e.body.embedding, [0.25, -0.5, 0.125]);
    assert.equal(e.body.model, 'chat');
    assert.equal(typeof e.body.id, 'string');
  });

  it('never forwards unknown top-level or message fields upstream', async () => {
    const r = await postJson(
      url('chat'),
      {
        model: 'chat',
        messages: [{ role: 'user', content: 'x', name: 'inject' }],
        // (`tools` is part of the protocol: server/test/surfaces/sipp-tools.test.ts.)
        functions: [{ evil: true }],
        logit_bias: { 1: 100 },
      },
      { token: TOKEN },
    );
    assert.equal(r.status, 200);
    const sent = upstream.requests.at(-1)!.body;
    assert.equal(sent.functions, undefined);
    assert.equal(sent.tools, undefined);
    assert.equal(sent.logit_bias, undefined);
    assert.deepEqual(sent.messages, [{ role: 'user', content: 'x' }]);
  });

  it('streams token, usage and done frames with token sequence numbers', async () => {
    const res = await fetch(url('chat'), {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.ok(res.headers.get('x-request-id'));
    const events = parseSse(await res.text());
    assert.deepEqual(events, [
      { event: 'token', data: { text: 'Gate', sequence: 0 } },
      { event: 'token', data: { text: 'way', sequence: 1 } },
      { event: 'token', data: { text: ' ready', sequence: 2 } },
      { event: 'usage', data: { input_tokens: 8, output_tokens: 3, total_tokens: 11 } },
      { event: 'done', data: { finish_reason: 'stop' } },
    ]);
  });

  it('echoes a client x-request-id and generates one otherwise, on success and error', async () => {
    const a = await postJson(
      url('chat'),
      { model: 'chat', messages: [{ role: 'user', content: 'x' }] },
      { token: TOKEN, headers: { 'x-request-id': 'trace-abc.123' } },
    );
    assert.equal(a.headers.get('x-request-id'), 'trace-abc.123');
    const b = await postJson(url('chat'), {}, {});
    assert.equal(b.status, 401);
    assert.match(b.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
    const c = await postJson(url('chat'), {}, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.notEqual(c.headers.get('x-request-id'), 'bad id with spaces');
    assert.ok(
      gw.logs.some((l) => l.includes('"reqId":"trace-abc.123"')),
      'request id is on the log line',
    );
  });

  it("a target's own log lines carry the request id (the attempt's request-scoped logger)", async () => {
    upstream.queueBehaviors({ kind: 'status', status: 500 });
    const r = await postJson(
      url('chat'),
      { model: 'chat', messages: [{ role: 'user', content: 'x' }] },
      { token: TOKEN, headers: { 'x-request-id': 'target-log-1' } },
    );
    assert.equal(r.status, 502);
    const warning = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'upstream returned an error status');
    assert.equal(warning?.reqId, 'target-log-1');
  });

  describe('error table', () => {
    const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
    const cases: Array<[string, () => Promise<{ status: number; body: any; headers: Headers }>, number, string]> = [
      ['no Authorization header', () => postJson(url('chat'), chat), 401, 'authentication'],
      [
        'a malformed Authorization header',
        () => postJson(url('chat'), chat, { headers: { authorization: `Basic ${TOKEN}` } }),
        401,
        'authentication',
      ],
      ['an unknown bearer token', () => postJson(url('chat'), chat, { token: 'tok-nope' }), 401, 'authentication'],
      ['a body that is not JSON', () => postJson(url('chat'), '{"model":', { token: TOKEN }), 400, 'invalid_json'],
      ['a JSON array body', () => postJson(url('chat'), '[1,2]', { token: TOKEN }), 400, 'invalid_request'],
      ['a missing field', () => postJson(url('query'), { model: 'chat' }, { token: TOKEN }), 400, 'invalid_request'],
      ['a target the token may not use', () => postJson(url('chat'), chat, { token: RESTRICTED }), 403, 'authorization'],
      [
        'an unconfigured target (restricted token: still 403)',
        () => postJson(url('chat'), { ...chat, model: 'ghost' }, { token: RESTRICTED }),
        403,
        'authorization',
      ],
      ['an unconfigured target', () => postJson(url('chat'), { ...chat, model: 'ghost' }, { token: TOKEN }), 404, 'resolution'],
      [
        'a body over max_request_bytes',
        () => postJson(url('query'), { model: 'chat', prompt: 'x'.repeat(5000) }, { token: TOKEN }),
        413,
        'payload_too_large',
      ],
    ];
    for (const [name, call, status, code] of cases) {
      it(`${status} ${code} for ${name}`, async () => {
        const r = await call();
        assert.equal(r.status, status);
        assert.equal(r.body.error.code, code);
        assert.equal(typeof r.body.error.message, 'string');
        assert.ok(r.body.error.message.length > 0);
      });
    }

    it('401 responses carry WWW-Authenticate: Bearer', async () => {
      const r = await postJson(url('chat'), chat);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    });

    it('names the offending field for mistyped and out-of-range values', async () => {
      const checks: Array<[object, RegExp]> = [
        [{ ...chat, temperature: 'hot' }, /^temperature: expected number/],
        [{ ...chat, temperature: 3 }, /^temperature: /],
        [{ ...chat, max_tokens: 0 }, /^max_tokens: /],
        [{ ...chat, max_tokens: 1.5 }, /^max_tokens: /],
        [{ ...chat, top_p: -0.1 }, /^top_p: /],
        [{ ...chat, top_p: 1.5 }, /^top_p: /],
        [{ ...chat, stop: 'x' }, /^stop: /],
        [{ ...chat, stream: 'yes' }, /^stream: /],
        [{ ...chat, messages: [] }, /^messages: /],
        [{ ...chat, messages: [{ role: 'robot', content: 'x' }] }, /^messages\[0\]\.role: must be one of/],
        // A tool result (docs/api.md#tools-on-v1chat) names the call it answers.
        [{ ...chat, messages: [{ role: 'tool', content: 'x' }] }, /^messages\[0\]\.tool_call_id: expected string/],
        [{ ...chat, messages: [{ role: 'user', content: 5 }] }, /^messages\[0\]\.content: expected string/],
        [{ model: 7, messages: chat.messages }, /^model: expected string/],
      ];
      for (const [body, re] of checks) {
        const r = await postJson(url('chat'), body, { token: TOKEN });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, 'invalid_request');
        assert.match(r.body.error.message, re);
      }
    });

    it('413 from a chunked body without Content-Length, and the connection stays usable', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          url('query'),
          { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' } },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
        req.end();
      });
      assert.equal(status, 413);
      const ok = await postJson(url('chat'), chat, { token: TOKEN });
      assert.equal(ok.status, 200);
    });

    it('405 for other methods on an inference route, 404 for unknown paths', async () => {
      const g = await fetch(url('chat'));
      assert.equal(g.status, 405);
      assert.equal(g.headers.get('allow'), 'POST, OPTIONS');
      assert.equal(((await g.json()) as any).error.code, 'method_not_allowed');
      const n = await fetch(`${gw.publicUrl}/v2/nothing`, { method: 'POST' });
      assert.equal(n.status, 404);
      assert.equal(((await n.json()) as any).error.code, 'not_found');
    });

    it('never serves management routes on the public listener', async () => {
      for (const p of ['/healthz', '/readyz', '/metrics', '/admin', '/admin/api/session']) {
        const r = await fetch(gw.publicUrl + p);
        assert.equal(r.status, 404, p);
      }
    });
  });

  describe('check order', () => {
    it('blocklist comes before the bearer token', async () => {
      gw.gateway.controls.blocklist.add('127.0.0.1');
      try {
        const r = await postJson(url('chat'), '{not json', {});
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, 'blocked');
      } finally {
        gw.gateway.controls.blocklist.remove('127.0.0.1');
      }
    });

    it('rate limit comes before the bearer token, with Retry-After', async () => {
      const rl = gw.gateway.controls.rateLimiter;
      const saved = rl.settings();
      rl.configure({ enabled: true, requestsPerMinute: 1, burst: 1 });
      try {
        const first = await postJson(url('chat'), '{}', {});
        assert.equal(first.status, 401, 'the first request passes the bucket and fails auth');
        const second = await postJson(url('chat'), '{}', {});
        assert.equal(second.status, 429);
        assert.equal(second.body.error.code, 'rate_limited');
        assert.ok(Number(second.headers.get('retry-after')) >= 1);
      } finally {
        rl.configure(saved);
      }
    });

    it('the bearer token comes before the body', async () => {
      const r = await postJson(url('chat'), '{not json', { token: 'wrong' });
      assert.equal(r.status, 401);
    });

    it('the body comes before authorization, authorization before existence', async () => {
      const bad = await postJson(url('chat'), '{not json', { token: RESTRICTED });
      assert.equal(bad.status, 400);
      const ghost = await postJson(
        url('chat'),
        { model: 'ghost', messages: [{ role: 'user', content: 'x' }] },
        { token: RESTRICTED },
      );
      assert.equal(ghost.status, 403);
    });
  });
});
