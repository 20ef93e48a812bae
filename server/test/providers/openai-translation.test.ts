/**
 * openai and openai_compatible targets honour the whole internal request model
 * against a real fake OpenAI server: content parts and images, assistant tool
 * calls, tool results, tools / tool_choice / parallel_tool_calls,
 * response_format, seed, user and OpenAI extras (exact upstream bodies), and
 * tool calls read back (finite, and incrementally from the stream).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CompatibleTargetConfig, OpenAITargetConfig } from '../../src/config/schema.js';
import { createProviderTarget } from '../../src/targets/providers/index.js';
import { OpenAIStreamReader } from '../../src/targets/providers/openai-wire.js';
import type { Target, TextRequest } from '../../src/targets/target.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { PNG_B64, TOOL_CONVERSATION, WEATHER_TOOL } from './conversation.js';
import {
  assertGatewayError,
  assertNoSecretIn,
  collect,
  collectUntilError,
  makeCtx,
  makeDeps,
  type CapturedDeps,
} from './harness.js';

type Flavor = 'openai' | 'openai_compatible';

function config(flavor: Flavor, baseUrl: string): OpenAITargetConfig | CompatibleTargetConfig {
  const common = { name: `${flavor}-t`, model: 'served-model', base_url: baseUrl, timeout_seconds: 5 };
  return flavor === 'openai'
    ? { ...common, type: 'openai', api_key_env: 'KEY' }
    : { ...common, type: 'openai_compatible', token_env: 'KEY' };
}

for (const flavor of ['openai', 'openai_compatible'] as const) {
  describe(`${flavor} target: full request model`, () => {
    let fake: FakeOpenAI;
    let deps: CapturedDeps;
    let target: Target;

    before(async () => {
      fake = await startFakeOpenAI({ apiKey: `sk-${flavor}-translation-secret` });
    });
    after(async () => {
      await target.close();
      await fake.close();
      assertNoSecretIn(deps.lines, [fake.apiKey]);
    });
    beforeEach(async () => {
      if (target) await target.close();
      fake.setBehavior({ kind: 'normal' });
      fake.setReply({});
      fake.requests.length = 0;
      deps = makeDeps({ KEY: fake.apiKey });
      target = createProviderTarget(config(flavor, fake.url), deps);
    });

    it('forwards content parts (image_url with detail, base64 as a data: URL), assistant tool_calls and tool results', async () => {
      await target.complete({ operation: 'chat', messages: TOOL_CONVERSATION, options: {} }, makeCtx(deps));
      assert.deepEqual(fake.requests[0]!.body, {
        model: 'served-model',
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these pictures, and the weather in Paris?' },
              { type: 'image_url', image_url: { url: 'https://img.example/cat.png', detail: 'low' } },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '18°C, cloudy' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'timezone unknown' }] },
          {
            role: 'assistant',
            content: 'Checked.',
            tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
        ],
      });
    });

    for (const [choice, wire] of [
      [{ type: 'auto' }, 'auto'],
      [{ type: 'none' }, 'none'],
      [{ type: 'required' }, 'required'],
      [
        { type: 'tool', name: 'get_weather' },
        { type: 'function', function: { name: 'get_weather' } },
      ],
    ] as const) {
      it(`maps tool_choice ${JSON.stringify(choice)} → ${JSON.stringify(wire)} with tools, parallel_tool_calls, response_format, seed and user`, async () => {
        const req: TextRequest = {
          operation: 'query',
          prompt: 'Weather?',
          options: {
            tools: [WEATHER_TOOL, { name: 'noop' }],
            toolChoice: choice,
            parallelToolCalls: false,
            responseFormat: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
            seed: 42,
            user: 'end-user-7',
          },
        };
        await target.complete(req, makeCtx(deps));
        assert.deepEqual(fake.requests[0]!.body, {
          model: 'served-model',
          messages: [{ role: 'user', content: 'Weather?' }],
          tools: [
            { type: 'function', function: WEATHER_TOOL },
            { type: 'function', function: { name: 'noop' } },
          ],
          tool_choice: wire,
          parallel_tool_calls: false,
          response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
          seed: 42,
          user: 'end-user-7',
        });
      });
    }

    it('sends parallel_tool_calls only with tools (OpenAI refuses it alone; it means nothing without tools)', async () => {
      await target.complete(
        { operation: 'query', prompt: 'x', options: { parallelToolCalls: true, toolChoice: { type: 'none' } } },
        makeCtx(deps),
      );
      assert.deepEqual(fake.requests[0]!.body, {
        model: 'served-model',
        messages: [{ role: 'user', content: 'x' }],
        tool_choice: 'none',
      });
    });

    it('merges openaiExtras last without overriding a field the gateway sets (model, messages, stream, stream_options, mapped options)', async () => {
      const req: TextRequest = {
        operation: 'query',
        prompt: 'x',
        options: {
          temperature: 0.5,
          openaiExtras: {
            logprobs: true,
            top_logprobs: 2,
            n: 2,
            model: 'other-model',
            messages: [],
            stream: false,
            stream_options: { include_usage: false },
            temperature: 1.9,
            // Legal JSON keys that are also Object.prototype names: forwarded as plain fields, never as a prototype.
            ...JSON.parse('{"__proto__": {"polluted": true}, "toString": "x"}'),
          },
        },
      };
      await collect(target.stream(req, makeCtx(deps)));
      assert.deepEqual(fake.requests[0]!.body, {
        model: 'served-model',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 0.5,
        stream: true,
        stream_options: { include_usage: true },
        logprobs: true,
        top_logprobs: 2,
        n: 2,
        toString: 'x',
      });
      assert.equal(Object.getPrototypeOf(fake.requests[0]!.body), Object.prototype);
    });

    it('reads message.tool_calls back with finish reason tool_calls', async () => {
      fake.setReply({
        tokens: [],
        finishReason: 'tool_calls',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] },
          { id: 'call_b', name: 'noop', arguments: [] },
        ],
      });
      const result = await target.complete({ operation: 'query', prompt: 'x', options: {} }, makeCtx(deps));
      assert.deepEqual(result, {
        id: 'chatcmpl-fake-1',
        text: '',
        finishReason: 'tool_calls',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          { id: 'call_b', name: 'noop', arguments: '' },
        ],
        usage: { input_tokens: 8, output_tokens: 3, total_tokens: 11 },
      });
    });

    it('reads delta.tool_calls back incrementally: id and name first per index, then arguments pieces', async () => {
      fake.setReply({
        tokens: ['Let me check.'],
        finishReason: 'tool_calls',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: ['{"ci', 'ty":"Oslo"}'] },
          { id: 'call_b', name: 'noop', arguments: ['{}'] },
        ],
      });
      const chunks = await collect(target.stream({ operation: 'query', prompt: 'x', options: {} }, makeCtx(deps)));
      assert.deepEqual(chunks, [
        { type: 'token', text: 'Let me check.' },
        { type: 'tool_call', index: 0, id: 'call_a', name: 'get_weather', arguments: '' },
        { type: 'tool_call', index: 0, arguments: '{"ci' },
        { type: 'tool_call', index: 0, arguments: 'ty":"Oslo"}' },
        { type: 'tool_call', index: 1, id: 'call_b', name: 'noop', arguments: '' },
        { type: 'tool_call', index: 1, arguments: '{}' },
        {
          type: 'end',
          finishReason: 'tool_calls',
          usage: { input_tokens: 8, output_tokens: 3, total_tokens: 11 },
          id: 'chatcmpl-fake-1',
        },
      ]);
    });

    it('refuses a tool call delta whose first piece lacks the id or name as malformed upstream data', () => {
      for (const item of [
        { index: 0, function: { arguments: '{}' } },
        { index: 0, id: 'call_x', function: { arguments: '' } },
        { function: { arguments: '{}' } },
        { index: -1, id: 'call_x', function: { name: 'f' } },
      ]) {
        const reader = new OpenAIStreamReader();
        assert.throws(
          () =>
            reader.accept(
              JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { tool_calls: [item] }, finish_reason: null }] }),
            ),
          (err: unknown) => Boolean(assertGatewayError(err, 'upstream', 'upstream sent malformed stream data')),
        );
      }
    });

    it('reads tool call deltas without index (some compatible servers): an id starts the next call, no id continues the last', () => {
      const reader = new OpenAIStreamReader();
      const delta = (tool_calls: unknown[]) =>
        JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { tool_calls }, finish_reason: null }] });
      assert.deepEqual(
        [
          delta([{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a"' } }]),
          delta([{ function: { arguments: ':1}' } }]),
          delta([{ id: 'call_a', function: { arguments: '' } }]),
          delta([{ id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } }]),
        ].flatMap((d) => reader.accept(d)),
        [
          { type: 'tool_call', index: 0, id: 'call_a', name: 'f', arguments: '{"a"' },
          { type: 'tool_call', index: 0, arguments: ':1}' },
          { type: 'tool_call', index: 1, id: 'call_b', name: 'g', arguments: '{}' },
        ],
      );
    });

    it('embeds a batch in one call (input array, dimensions, user) and returns the vectors in input order', async () => {
      const result = await target.embed({ inputs: ['a', 'b', 'c'], dimensions: 3, user: 'u-1' }, makeCtx(deps));
      assert.deepEqual(fake.requests[0]!.body, { model: 'served-model', input: ['a', 'b', 'c'], dimensions: 3, user: 'u-1' });
      assert.deepEqual(result.embeddings, [
        [0.25, -0.5, 0.125],
        [1.25, 0.5, 1.125],
        [2.25, 1.5, 2.125],
      ]);
    });

    it('a stream failing after a tool call piece keeps the pieces seen and fails with upstream', async () => {
      fake.setReply({
        tokens: [],
        finishReason: 'tool_calls',
        toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] }],
      });
      fake.setBehavior({ kind: 'provider-error', afterChunks: 3 });
      const { chunks, error } = await collectUntilError(
        target.stream({ operation: 'query', prompt: 'x', options: {} }, makeCtx(deps)),
      );
      assert.deepEqual(chunks, [
        { type: 'tool_call', index: 0, id: 'call_a', name: 'get_weather', arguments: '' },
        { type: 'tool_call', index: 0, arguments: '{"city":' },
      ]);
      assertGatewayError(error, 'upstream', 'upstream reported an error mid-stream');
    });
  });
}
