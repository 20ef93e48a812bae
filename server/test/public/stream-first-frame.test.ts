/**
 * A stream's first frame leaves with the headers at once, in a socket write of
 * its own, even when the provider's first chunk already holds more frames
 * (docs/architecture.md#streams); the chunk's other frames then leave in one
 * `res.write` (one chunk of the chunked encoding), not one per frame. Node corks a response's socket until the
 * next tick, which comes only after every settled promise has run: without an
 * explicit flush the first frame waited for the rest of the chunk to be
 * parsed, renamed and written. Observed on the gateway's side of the client
 * connection: which bytes each write to the kernel carried (no timing).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sseFrame } from '../support/fake-upstream-core.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOKEN = 'tok-first-frame-0123456789';

type Chunk = { chunk: Buffer | string };
type Spied = Socket & {
  _write(chunk: Buffer | string, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
  _writev(chunks: Chunk[], cb: (err?: Error | null) => void): void;
};

/** Every write the gateway's public sockets hand to the kernel, as text, in order. */
function spyOnWrites(gw: TestGateway): string[] {
  const writes: string[] = [];
  gw.gateway.servers.public.on('connection', (socket: Spied) => {
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (chunk, encoding, cb) => {
      writes.push(chunk.toString());
      write(chunk, encoding, cb);
    };
    socket._writev = (chunks, cb) => {
      writes.push(chunks.map((c) => c.chunk.toString()).join(''));
      writev(chunks, cb);
    };
  });
  return writes;
}

function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The data chunks of a chunked-encoded body (the terminating zero-size chunk excluded). */
function chunkedParts(body: string): string[] {
  const parts: string[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    assert.ok(eol > at, `no chunk size at ${at} in ${JSON.stringify(body)}`);
    const size = parseInt(body.slice(at, eol), 16);
    if (size === 0) {
      assert.equal(body.slice(eol), '\r\n\r\n', 'the body ends after the last chunk');
      return parts;
    }
    parts.push(body.slice(eol + 2, eol + 2 + size));
    assert.equal(body.slice(eol + 2 + size, eol + 4 + size), '\r\n');
    at = eol + 4 + size;
  }
}

const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  sseFrame({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: null }],
    ...extra,
  });

// The whole stream in one upstream write: one chunk at the gateway.
const FRAMES = [
  chunk({ role: 'assistant', content: 'FIRSTPIECE' }, { provider_only_field: 1 }),
  chunk({ content: 'SECONDPIECE' }),
  chunk({ content: 'THIRDPIECE' }),
  sseFrame({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
  }),
  'data: [DONE]\n\n',
];

describe('a stream’s first frame is written to the client at once', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  let writes: string[];

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url),
      env: { TEST_ADMIN_PASSWORD: 'pw-admin-first-frame-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
    writes = spyOnWrites(gw);
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  /** The kernel writes of the one response on the connection: the first is the one with the status line. */
  function responseWrites(): string[] {
    const i = writes.findIndex((w) => w.startsWith('HTTP/1.1 200'));
    assert.ok(i >= 0, `no response head among ${writes.length} writes`);
    return writes.slice(i);
  }

  it('pass-through (OpenAI chat → openai target): headers and the first frame, alone', async () => {
    writes.length = 0;
    upstream.setBehavior({ kind: 'frames', frames: FRAMES });
    const r = await post(`${gw.publicUrl}/v1/chat/completions`, {
      model: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    assert.equal(r.status, 200, r.text);
    // Relayed as the provider sent it (a field only the provider knows survives), the whole stream.
    assert.match(r.text, /"provider_only_field":1/);
    assert.match(r.text, /THIRDPIECE[\s\S]*\[DONE\]/);
    const [first, ...rest] = responseWrites();
    assert.match(first!, /content-type: text\/event-stream/i);
    assert.match(first!, /FIRSTPIECE/);
    assert.doesNotMatch(first!, /SECONDPIECE/, 'the first frame waited for the next one');
    assert.match(rest.join(''), /SECONDPIECE[\s\S]*THIRDPIECE[\s\S]*\[DONE\]/);
    // The rest of the provider's chunk: every frame after the first (`model` renamed), in one chunk of the encoding.
    const renamed = FRAMES.slice(1).map((f) => f.replace('"model":"m"', '"model":"chat"'));
    assert.deepEqual(chunkedParts(rest.join('')), [renamed.join('')]);
  });

  it('translated (Sipp route → openai_compatible target): headers and the first token, alone', async () => {
    writes.length = 0;
    upstream.setBehavior({ kind: 'frames', frames: FRAMES });
    const r = await post(`${gw.publicUrl}/v1/chat`, {
      model: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /FIRSTPIECE[\s\S]*SECONDPIECE[\s\S]*THIRDPIECE/);
    const [first, ...rest] = responseWrites();
    assert.match(first!, /content-type: text\/event-stream/i);
    assert.match(first!, /FIRSTPIECE/);
    assert.doesNotMatch(first!, /SECONDPIECE/, 'the first token waited for the next one');
    assert.match(rest.join(''), /SECONDPIECE[\s\S]*THIRDPIECE/);
    // The later tokens and the end of the stream in one chunk of the encoding.
    const parts = chunkedParts(rest.join(''));
    assert.equal(parts.length, 1, `frames written one by one: ${JSON.stringify(parts)}`);
    assert.match(parts[0]!, /SECONDPIECE[\s\S]*THIRDPIECE/);
  });
});
