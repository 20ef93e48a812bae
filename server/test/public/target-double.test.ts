/**
 * The public stream writer against a target double: a test-controlled Target
 * put in place of the configured one in a real gateway, so the end of a stream
 * can be any shape a target may produce (no usage, usage, no end at all).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Operation } from '@sipp/shared';
import type { StreamChunk, Target, TargetCapabilities, TextResult } from '../../src/targets/target.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';

const TOKEN = 'tok-target-double-0123456789';

/** A target whose stream yields exactly `chunks()` and whose finite answer is `result()`. */
function targetDouble(
  name: string,
  capabilities: TargetCapabilities,
  chunks: () => StreamChunk[],
  result: () => TextResult | undefined,
): Target {
  return {
    name,
    type: 'openai_compatible',
    capabilities,
    operations: new Set<Operation>(['query', 'chat']),
    load: async () => {},
    complete: async () => result() ?? { text: 'x', finishReason: 'stop' },
    async *stream() {
      for (const c of chunks()) {
        await new Promise((r) => setImmediate(r));
        yield c;
      }
    },
    embed: () => Promise.reject(new Error('not used')),
    describe: () => ({ name, type: 'openai_compatible', model: 'double', operations: ['query', 'chat'] }),
    close: async () => {},
  };
}

describe('streams from a target double', () => {
  let gw: TestGateway;
  let chunks: StreamChunk[] = [];
  let result: TextResult | undefined;
  const stream = () => postJson(`${gw.publicUrl}/v1/query`, { model: 'chat', prompt: 'hi', stream: true }, { token: TOKEN });
  const lastRequestLine = () => JSON.parse(gw.logs.filter((l) => JSON.parse(l).msg === 'request').at(-1)!);

  before(async () => {
    gw = await startTestGateway({
      toml: chatGatewayToml('http://127.0.0.1:9/v1'),
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-double-1', T: TOKEN, UPSTREAM_KEY: 'sk-double-unused' },
    });
    const real = gw.gateway.targets.get('chat')!;
    await real.close();
    // The gateway routes through this map: the double takes the configured target's place.
    (gw.gateway.targets as Map<string, Target>).set(
      'chat',
      targetDouble(
        'chat',
        real.capabilities,
        () => chunks,
        () => result,
      ),
    );
  });
  after(async () => {
    await gw?.stop();
  });
  beforeEach(() => {
    chunks = [];
    result = undefined;
  });

  it('ends a stream without usage with done, counting output tokens from the token frames', async () => {
    chunks = [
      { type: 'token', text: 'Hel' },
      { type: 'token', text: 'lo', tokens: 2 },
      { type: 'end', finishReason: 'length' },
    ];
    const r = await stream();
    assert.equal(r.status, 200);
    assert.deepEqual(parseSse(r.text), [
      { event: 'token', data: { text: 'Hel', sequence: 0 } },
      { event: 'token', data: { text: 'lo', sequence: 1 } },
      { event: 'done', data: { finish_reason: 'length' } },
    ]);
    const line = lastRequestLine();
    assert.equal(line.status, 200);
    assert.equal(line.outputTokens, 3);
  });

  it('ends a stream with usage with usage then done', async () => {
    chunks = [
      { type: 'token', text: 'a' },
      { type: 'end', finishReason: 'stop', usage: { input_tokens: 4, output_tokens: 1, total_tokens: 5 } },
    ];
    assert.deepEqual(parseSse((await stream()).text), [
      { event: 'token', data: { text: 'a', sequence: 0 } },
      { event: 'usage', data: { input_tokens: 4, output_tokens: 1, total_tokens: 5 } },
      { event: 'done', data: { finish_reason: 'stop' } },
    ]);
  });

  it('ends an empty stream without usage with done alone', async () => {
    chunks = [{ type: 'end', finishReason: 'stop' }];
    assert.deepEqual(parseSse((await stream()).text), [{ event: 'done', data: { finish_reason: 'stop' } }]);
  });

  it('ends a stream whose target stops without an end chunk with an execution error frame', async () => {
    chunks = [{ type: 'token', text: 'a' }];
    const events = parseSse((await stream()).text);
    assert.deepEqual(
      events.map((e) => e.event),
      ['token', 'error'],
    );
    assert.equal(events[1]!.data.error.code, 'execution');
  });

  it('answers a finite request without usage with no usage field', async () => {
    result = { text: 'plain', finishReason: 'stop' };
    const r = await postJson(`${gw.publicUrl}/v1/query`, { model: 'chat', prompt: 'hi' }, { token: TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.body.text, 'plain');
    assert.equal('usage' in r.body, false);
  });
});
