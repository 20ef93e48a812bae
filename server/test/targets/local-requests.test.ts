/**
 * A local target (generated demo model, CPU) and the parts of the internal
 * request model it honours: the request stop string that ended generation is
 * reported (finite and streamed), `seed` makes sampling repeatable, and image
 * parts and tool results without their call that get past the capability
 * check are still a 400 naming the message, never dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalRuntimeSchema } from '../../src/config/local-runtime.js';
import { createLocalTarget } from '../../src/targets/local/index.js';
import type { Message, Target, TextRequest } from '../../src/targets/target.js';
import { ensureDemoModel } from '../local/models.js';
import { assertGatewayError, collect, makeCtx, makeDeps, rejection } from '../providers/harness.js';

const deps = makeDeps({});
const GREEDY = { temperature: 0, maxTokens: 40 };
const query = (options: TextRequest['options']): TextRequest => ({ operation: 'query', prompt: 'hello world', options });

describe('local target: request model', () => {
  let target: Target;
  let full: string;

  before(async () => {
    target = createLocalTarget(
      {
        name: 'local',
        type: 'local',
        model: ensureDemoModel(),
        backend: 'cpu',
        stats: 'off',
        runtime: LocalRuntimeSchema.parse({ context_size: 256, parallel: 1 }),
      },
      deps,
      { detectGpus: async () => ({ cuda: false, metal: false, vulkan: false }) },
    );
    await target.load();
    full = (await target.complete(query(GREEDY), makeCtx(deps))).text;
    assert.ok(full.length >= 8, 'the demo model writes some text');
  });
  after(() => target.close());

  it('reports the request stop string that ended generation (finite and streamed)', async () => {
    const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
    const result = await target.complete(query({ ...GREEDY, stop: ['never-appears-xyz', stop] }), makeCtx(deps));
    assert.equal(result.text, full.slice(0, full.indexOf(stop)));
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.stopSequence, stop);
    const end = (await collect(target.stream(query({ ...GREEDY, stop: [stop] }), makeCtx(deps)))).at(-1);
    assert.ok(end?.type === 'end');
    assert.equal(end.finishReason, 'stop');
    assert.equal(end.stopSequence, stop);
  });

  it('reports no stop string when generation ended otherwise', async () => {
    const result = await target.complete(query({ ...GREEDY, maxTokens: 3, stop: ['never-appears-xyz'] }), makeCtx(deps));
    assert.equal(result.finishReason, 'length');
    assert.equal(result.stopSequence, undefined);
  });

  it('samples repeatably with a seed', async () => {
    const sample = async (seed: number) =>
      (await target.complete(query({ temperature: 2, maxTokens: 12, seed }), makeCtx(deps))).text;
    const seeds = [1, 2, 3, 4, 5];
    const first = await Promise.all(seeds.map(sample));
    const again = await Promise.all(seeds.map(sample));
    assert.deepEqual(again, first);
    assert.ok(new Set(first).size > 1, 'different seeds sample differently');
  });

  it('refuses images and tool results for calls the conversation never made that reach it, naming the message', async () => {
    const cases: Array<[Message[], RegExp]> = [
      [
        [
          { role: 'user', content: 'x' },
          { role: 'tool', toolCallId: 'c', content: 'r' },
        ],
        /^messages\.1: tool result for an unknown tool call id "c"$/,
      ],
      [
        [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: '{' }] },
        ],
        /^messages\.1\.tool_calls\.0\.arguments: not valid JSON$/,
      ],
      [
        [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'x' },
              { type: 'image', source: { kind: 'url', url: 'https://img.example/a.png' } },
            ],
          },
        ],
        /^messages\.0\.content\.1: local targets do not support images$/,
      ],
    ];
    for (const [messages, message] of cases) {
      assertGatewayError(
        await rejection(target.complete({ operation: 'chat', messages, options: {} }, makeCtx(deps))),
        'invalid_request',
        message,
      );
    }
    // Text parts are joined: the same answer as the plain string.
    const parts = await target.complete(
      {
        operation: 'chat',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hel' },
              { type: 'text', text: 'lo' },
            ],
          },
        ],
        options: GREEDY,
      },
      makeCtx(deps),
    );
    const plain = await target.complete(
      { operation: 'chat', messages: [{ role: 'user', content: 'hello' }], options: GREEDY },
      makeCtx(deps),
    );
    assert.equal(parts.text, plain.text);
  });
});
