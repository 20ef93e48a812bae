/**
 * A stream still running when the drain grace runs out ends with the error
 * frame of its own API surface (OpenAI `data: {"error":…}`, Anthropic
 * `event: error`), code `shutting_down`, so each SDK raises it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway } from '../support/gateway.js';

const TOKEN = 'tok-surfaces-cut-0123456789';

async function cutStream(path: string, body: object, firstFrame: string): Promise<string> {
  const upstream = await startFakeOpenAI();
  const gw = await startTestGateway({
    toml: chatGatewayToml(upstream.url),
    env: { TEST_ADMIN_PASSWORD: 'admin-pw-cut-1-0123456789', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    graceMs: 200,
  });
  try {
    upstream.setBehavior({ kind: 'stall', afterChunks: 2 });
    const res = await fetch(`${gw.publicUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(firstFrame)) text += decoder.decode((await reader.read()).value, { stream: true });
    const stopping = gw.stop();
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) break;
      text += decoder.decode(r.value, { stream: true });
    }
    await stopping;
    return text;
  } finally {
    await upstream.close();
  }
}

describe('shutdown cut of a stream, per surface', () => {
  it('OpenAI: a final data: {"error":…} frame with code shutting_down', async () => {
    const text = await cutStream(
      '/v1/chat/completions',
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
      '"content":"Gate"',
    );
    const frames = text.split('\n\n').filter(Boolean);
    assert.deepEqual(JSON.parse(frames.at(-1)!.replace(/^data: /, '')), {
      error: { message: 'the gateway is shutting down', type: 'server_error', param: null, code: 'shutting_down' },
    });
  });

  it('Anthropic: a final event: error with overloaded_error', async () => {
    const text = await cutStream(
      '/v1/messages',
      { model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      'text_delta',
    );
    const last = text.split('\n\n').filter(Boolean).at(-1)!;
    assert.equal(last.split('\n')[0], 'event: error');
    assert.deepEqual(JSON.parse(last.split('\n')[1]!.replace(/^data: /, '')), {
      type: 'error',
      error: { type: 'overloaded_error', message: 'shutting_down: the gateway is shutting down' },
    });
  });
});
