/**
 * anthropic targets translate the whole internal request model against a real
 * fake Messages API: system parts, image blocks, tool_use / tool_result blocks,
 * tools, tool_choice, disable_parallel_tool_use, metadata.user_id,
 * stop_sequences (exact upstream bodies); refusals (invalid tool arguments,
 * seed, system images) without calling upstream; tool_use, stop_sequence and
 * input_json_delta read back (finite and streaming).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AnthropicTargetConfig } from '../../src/config/schema.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, AnthropicStreamReader } from '../../src/targets/providers/anthropic-wire.js';
import { createProviderTarget } from '../../src/targets/providers/index.js';
import type { Target, TextRequest, ToolChoice } from '../../src/targets/target.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { PNG_B64, TOOL_CONVERSATION, WEATHER_TOOL } from './conversation.js';
import { assertGatewayError, assertNoSecretIn, collect, makeCtx, makeDeps, rejection, type CapturedDeps } from './harness.js';

function config(baseUrl: string): AnthropicTargetConfig {
  return {
    name: 'claude',
    type: 'anthropic',
    model: 'claude-test',
    api_key_env: 'ANTHROPIC_KEY',
    base_url: baseUrl,
    version: '2023-06-01',
    timeout_seconds: 5,
  };
}

const ask = (options: TextRequest['options']): TextRequest => ({ operation: 'query', prompt: 'Weather?', options });

describe('anthropic target: full request model', () => {
  let fake: FakeAnthropic;
  let deps: CapturedDeps;
  let target: Target;

  before(async () => {
    fake = await startFakeAnthropic({ apiKey: 'sk-ant-translation-secret-9' });
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
    deps = makeDeps({ ANTHROPIC_KEY: fake.apiKey });
    target = createProviderTarget(config(fake.url), deps);
  });

  it('translates system parts, images, tool calls and tool results (consecutive results merged into one user turn, is_error kept)', async () => {
    await target.complete(
      {
        operation: 'chat',
        messages: [
          ...TOOL_CONVERSATION,
          { role: 'tool', toolCallId: 'call_3', content: 'sunny' },
          { role: 'user', content: 'Thanks' },
        ],
        options: {},
      },
      makeCtx(deps),
    );
    assert.deepEqual(fake.requests[0]!.body, {
      model: 'claude-test',
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      system: 'You are terse.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these pictures, and the weather in Paris?' },
            { type: 'image', source: { type: 'url', url: 'https://img.example/cat.png' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'call_2', name: 'get_time', input: { tz: 'Europe/Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: '18°C, cloudy' },
            { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: 'timezone unknown' }], is_error: true },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checked.' },
            { type: 'tool_use', id: 'call_3', name: 'get_weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_3', content: 'sunny' },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
    });
  });

  it('keeps plain-text merging as before: same-role strings joined by a blank line, several system messages too', async () => {
    await target.complete(
      {
        operation: 'chat',
        messages: [
          { role: 'system', content: 'A' },
          { role: 'user', content: 'one' },
          { role: 'system', content: [{ type: 'text', text: 'B' }] },
          { role: 'user', content: 'two' },
          { role: 'user', content: [{ type: 'text', text: 'three' }] },
        ],
        options: {},
      },
      makeCtx(deps),
    );
    assert.deepEqual(fake.requests[0]!.body, {
      model: 'claude-test',
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      system: 'A\n\nB',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'one\n\ntwo' },
            { type: 'text', text: 'three' },
          ],
        },
      ],
    });
  });

  for (const [choice, wire] of [
    [{ type: 'auto' }, { type: 'auto', disable_parallel_tool_use: true }],
    [{ type: 'required' }, { type: 'any', disable_parallel_tool_use: true }],
    [
      { type: 'tool', name: 'get_weather' },
      { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
    ],
    [{ type: 'none' }, { type: 'none' }],
    [undefined, { type: 'auto', disable_parallel_tool_use: true }],
  ] as Array<[ToolChoice | undefined, unknown]>) {
    it(`maps tool_choice ${JSON.stringify(choice)} with parallelToolCalls false → ${JSON.stringify(wire)}; tools, user, stop`, async () => {
      await target.complete(
        ask({
          tools: [WEATHER_TOOL, { name: 'noop' }],
          toolChoice: choice,
          parallelToolCalls: false,
          user: 'end-user-7',
          stop: ['###'],
        }),
        makeCtx(deps),
      );
      assert.deepEqual(fake.requests[0]!.body, {
        model: 'claude-test',
        max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
        messages: [{ role: 'user', content: 'Weather?' }],
        stop_sequences: ['###'],
        tools: [
          { name: 'get_weather', description: 'Current weather for a city', input_schema: WEATHER_TOOL.parameters },
          { name: 'noop', input_schema: { type: 'object', properties: {} } },
        ],
        tool_choice: wire,
        metadata: { user_id: 'end-user-7' },
      });
    });
  }

  it('sends tool_choice without disable_parallel_tool_use when parallel calls are allowed, and none at all without tools or choice', async () => {
    await target.complete(
      ask({ tools: [WEATHER_TOOL], toolChoice: { type: 'required' }, parallelToolCalls: true }),
      makeCtx(deps),
    );
    assert.deepEqual(fake.requests[0]!.body.tool_choice, { type: 'any' });
    await target.complete(ask({ parallelToolCalls: false }), makeCtx(deps));
    assert.deepEqual(fake.requests[1]!.body, {
      model: 'claude-test',
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: 'Weather?' }],
    });
  });

  it('refuses invalid tool call arguments, seed and system images with invalid_request naming the field, without calling upstream', async () => {
    const call = (args: string): TextRequest => ({
      operation: 'chat',
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'c0', name: 'f', arguments: '{}' },
            { id: 'c1', name: 'f', arguments: args },
          ],
        },
      ],
      options: {},
    });
    assertGatewayError(
      await rejection(target.complete(call('{"city": '), makeCtx(deps))),
      'invalid_request',
      /^messages\.1\.tool_calls\.1\.arguments: .*not valid JSON/,
    );
    assertGatewayError(
      await rejection(target.complete(call('[1,2]'), makeCtx(deps))),
      'invalid_request',
      /^messages\.1\.tool_calls\.1\.arguments: must be a JSON object/,
    );
    assertGatewayError(
      await rejection(collect(target.stream(ask({ seed: 7 }), makeCtx(deps)))),
      'invalid_request',
      'seed: anthropic targets do not support seed',
    );
    const systemImage: TextRequest = {
      operation: 'chat',
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'x' },
            { type: 'image', source: { kind: 'url', url: 'https://img.example/a.png' } },
          ],
        },
        { role: 'user', content: 'hi' },
      ],
      options: {},
    };
    assertGatewayError(
      await rejection(target.complete(systemImage, makeCtx(deps))),
      'invalid_request',
      /^messages\.0\.content\.1: /,
    );
    assert.equal(fake.requests.length, 0);
  });

  it('reads tool_use blocks back (arguments = JSON of input) with finish reason tool_calls', async () => {
    fake.setReply({
      tokens: ['Checking.'],
      stopReason: 'tool_use',
      toolCalls: [
        { id: 'toolu_1', name: 'get_weather', arguments: ['{"city":', ' "Oslo"}'] },
        { id: 'toolu_2', name: 'noop', arguments: [] },
      ],
    });
    const result = await target.complete(ask({}), makeCtx(deps));
    assert.deepEqual(result, {
      id: 'msg_fake_01',
      text: 'Checking.',
      finishReason: 'tool_calls',
      toolCalls: [
        { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { id: 'toolu_2', name: 'noop', arguments: '{}' },
      ],
      usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
    });
  });

  it('streams tool_use blocks as tool_call chunks counted from 0, arguments from input_json_delta', async () => {
    fake.setReply({
      tokens: ['Checking.'],
      stopReason: 'tool_use',
      toolCalls: [
        { id: 'toolu_1', name: 'get_weather', arguments: ['{"city":', ' "Oslo"}'] },
        { id: 'toolu_2', name: 'noop', arguments: ['', '{}'] },
      ],
    });
    const chunks = await collect(target.stream(ask({}), makeCtx(deps)));
    assert.deepEqual(chunks, [
      { type: 'token', text: 'Checking.' },
      { type: 'tool_call', index: 0, id: 'toolu_1', name: 'get_weather', arguments: '' },
      { type: 'tool_call', index: 0, arguments: '{"city":' },
      { type: 'tool_call', index: 0, arguments: ' "Oslo"}' },
      { type: 'tool_call', index: 1, id: 'toolu_2', name: 'noop', arguments: '' },
      { type: 'tool_call', index: 1, arguments: '{}' },
      {
        type: 'end',
        finishReason: 'tool_calls',
        usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
        id: 'msg_fake_01',
      },
    ]);
  });

  it('streams a reply that is only a tool call (no text block): the tool call is index 0', async () => {
    fake.setReply({ tokens: [], stopReason: 'tool_use', toolCalls: [{ id: 'toolu_9', name: 'noop', arguments: ['{}'] }] });
    const chunks = await collect(target.stream(ask({}), makeCtx(deps)));
    assert.deepEqual(chunks.slice(0, 2), [
      { type: 'tool_call', index: 0, id: 'toolu_9', name: 'noop', arguments: '' },
      { type: 'tool_call', index: 0, arguments: '{}' },
    ]);
  });

  it('reports stop_sequence as finish reason stop with the stop string (finite and stream)', async () => {
    fake.setReply({ stopReason: 'stop_sequence', stopSequence: '###' });
    const result = await target.complete(ask({ stop: ['###'] }), makeCtx(deps));
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.stopSequence, '###');
    const end = (await collect(target.stream(ask({ stop: ['###'] }), makeCtx(deps)))).at(-1);
    assert.deepEqual(end, {
      type: 'end',
      finishReason: 'stop',
      usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
      id: 'msg_fake_01',
      stopSequence: '###',
    });
  });

  it('reports no stopSequence on end_turn', async () => {
    const result = await target.complete(ask({}), makeCtx(deps));
    assert.equal(result.stopSequence, undefined);
    const end = (await collect(target.stream(ask({}), makeCtx(deps)))).at(-1);
    assert.ok(end?.type === 'end' && end.stopSequence === undefined);
  });

  it('treats input_json_delta for a block that never started as tool_use as malformed upstream data', () => {
    const reader = new AnthropicStreamReader();
    reader.accept(JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    assert.throws(
      () =>
        reader.accept(
          JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } }),
        ),
      (err: unknown) => Boolean(assertGatewayError(err, 'upstream', 'upstream sent malformed stream data')),
    );
  });
});
