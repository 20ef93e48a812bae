/**
 * Agents across APIs: tool calling round trips with the official SDKs where
 * the surface and the target speak different APIs (OpenAI surface → Anthropic
 * target, Anthropic surface → OpenAI target), finite and streaming, and image
 * parts forwarded across. The fakes answer with real tool calls in their own
 * wire format; the assertions read both what the client got and what the
 * provider was sent.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

const WEATHER_SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const PNG = 'iVBORw0KGgo=';

describe('tool calling and images across APIs with the official SDKs', () => {
  let rig: SurfaceRig;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    rig = await startSurfaceRig();
    openai = new OpenAI({ baseURL: rig.openaiBase, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: rig.anthropicBase, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await rig?.close();
  });
  beforeEach(() => {
    rig.openai.setReply({});
    rig.anthropic.setReply({});
  });

  describe('OpenAI surface → Anthropic target', () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: WEATHER_SCHEMA } },
    ];
    const ask: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris?' },
    ];
    beforeEach(() => {
      rig.anthropic.setReply({
        tokens: [],
        toolCalls: [{ id: 'toolu_01', name: 'get_weather', arguments: ['{"city":', '"Paris"}'] }],
        stopReason: 'tool_use',
      });
    });

    it('finite: tool_calls come back with finish_reason tool_calls; the result goes back as tool_result', async () => {
      const r = await openai.chat.completions.create({ model: 'claude', messages: ask, tools, tool_choice: 'required' });
      const choice = r.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.content, null);
      assert.deepEqual(choice.message.tool_calls, [
        { id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      ]);
      const sent = rig.anthropic.requests.at(-1)!.body;
      assert.deepEqual(sent.tools, [{ name: 'get_weather', description: 'Weather now', input_schema: WEATHER_SCHEMA }]);
      assert.equal(sent.tool_choice.type, 'any');

      rig.anthropic.setReply({ tokens: ['Sunny'], stopReason: 'end_turn' });
      const second = await openai.chat.completions.create({
        model: 'claude',
        tools,
        messages: [...ask, choice.message, { role: 'tool', tool_call_id: 'toolu_01', content: '{"sky":"clear"}' }],
      });
      assert.equal(second.choices[0]!.message.content, 'Sunny');
      const turn = rig.anthropic.requests.at(-1)!.body.messages;
      const assistant = turn.find((m: any) => m.role === 'assistant');
      assert.deepEqual(
        assistant.content.find((b: any) => b.type === 'tool_use'),
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
      );
      const result = turn.at(-1).content.find((b: any) => b.type === 'tool_result');
      assert.equal(result.tool_use_id, 'toolu_01');
      assert.ok(JSON.stringify(result.content).includes('clear'));
    });

    it('streaming: delta.tool_calls with incremental arguments, and the SDK helper assembles them', async () => {
      const res = await fetch(`${rig.openaiBase}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude', messages: ask, tools, stream: true }),
      });
      const chunks = (await res.text())
        .split('\n\n')
        .filter((f) => f && f !== 'data: [DONE]')
        .map((f) => JSON.parse(f.slice(6)));
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      assert.deepEqual(calls[0], {
        index: 0,
        id: 'toolu_01',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      });
      assert.deepEqual(
        calls.slice(1).map((c: any) => c.function.arguments),
        ['{"city":', '"Paris"}'],
      );
      assert.ok(calls.slice(1).every((c: any) => c.id === undefined && c.index === 0));
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');

      const final = await openai.chat.completions.stream({ model: 'claude', messages: ask, tools }).finalChatCompletion();
      assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
      assert.deepEqual(
        final.choices[0]!.message.tool_calls?.map((c) =>
          c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : [],
        ),
        [['toolu_01', 'get_weather', '{"city":"Paris"}']],
      );
    });

    it('image parts reach the Anthropic target as image blocks', async () => {
      rig.anthropic.setReply({});
      await openai.chat.completions.create({
        model: 'claude',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            ],
          },
        ],
      });
      const blocks = rig.anthropic.requests.at(-1)!.body.messages[0].content;
      assert.deepEqual(blocks[1], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } });
      assert.deepEqual(blocks[2], { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } });
    });
  });

  describe('Anthropic surface → OpenAI target', () => {
    const tools: Anthropic.Tool[] = [
      { name: 'get_weather', description: 'Weather now', input_schema: WEATHER_SCHEMA as Anthropic.Tool.InputSchema },
    ];
    const ask: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    beforeEach(() => {
      rig.openai.setReply({
        tokens: [],
        toolCalls: [{ id: 'call_01', name: 'get_weather', arguments: ['{"city"', ':"Paris"}'] }],
        finishReason: 'tool_calls',
      });
    });

    it('finite: tool_use blocks come back with stop_reason tool_use; the tool_result goes back as a tool message', async () => {
      const m = await anthropic.messages.create({
        model: 'gpt',
        max_tokens: 50,
        system: 'You are terse.',
        messages: ask,
        tools,
        tool_choice: { type: 'any' },
      });
      assert.equal(m.stop_reason, 'tool_use');
      assert.deepEqual(m.content, [{ type: 'tool_use', id: 'call_01', name: 'get_weather', input: { city: 'Paris' } }]);
      const sent = rig.openai.requests.at(-1)!.body;
      assert.deepEqual(sent.tools, [
        { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: WEATHER_SCHEMA } },
      ]);
      assert.equal(sent.tool_choice, 'required');

      rig.openai.setReply({ tokens: ['Sunny'], finishReason: 'stop' });
      const second = await anthropic.messages.create({
        model: 'gpt',
        max_tokens: 50,
        tools,
        messages: [
          ...ask,
          { role: 'assistant', content: m.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_01', content: '{"sky":"clear"}' }] },
        ],
      });
      assert.deepEqual(second.content, [{ type: 'text', text: 'Sunny' }]);
      const turn = rig.openai.requests.at(-1)!.body.messages;
      const assistant = turn.find((x: any) => x.role === 'assistant');
      assert.deepEqual(assistant.tool_calls, [
        { id: 'call_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      ]);
      const tool = turn.find((x: any) => x.role === 'tool');
      assert.equal(tool.tool_call_id, 'call_01');
      assert.ok(JSON.stringify(tool.content).includes('clear'));
    });

    it('streaming: tool_use block with input_json_delta, and finalMessage() assembles the input', async () => {
      const raw = await anthropic.messages.create({ model: 'gpt', max_tokens: 50, messages: ask, tools, stream: true });
      const events: Anthropic.RawMessageStreamEvent[] = [];
      for await (const ev of raw) events.push(ev);
      const start = events.find((e) => e.type === 'content_block_start')!;
      assert.deepEqual((start as any).content_block, { type: 'tool_use', id: 'call_01', name: 'get_weather', input: {} });
      const partials = events.filter((e) => e.type === 'content_block_delta').map((e: any) => e.delta);
      assert.deepEqual(partials, [
        { type: 'input_json_delta', partial_json: '{"city"' },
        { type: 'input_json_delta', partial_json: ':"Paris"}' },
      ]);
      const final = await anthropic.messages.stream({ model: 'gpt', max_tokens: 50, messages: ask, tools }).finalMessage();
      assert.equal(final.stop_reason, 'tool_use');
      assert.deepEqual(final.content, [{ type: 'tool_use', id: 'call_01', name: 'get_weather', input: { city: 'Paris' } }]);
    });

    it('streaming: a tool call whose first delta carries id, name and the full arguments (vLLM, Ollama) opens its block first', async () => {
      rig.openai.setReply({
        tokens: [],
        toolCalls: [{ id: 'call_07', name: 'get_weather', arguments: ['{"city":"Paris"}'] }],
        toolCallsInOneDelta: true,
        finishReason: 'tool_calls',
      });
      const raw = await anthropic.messages.create({ model: 'gpt', max_tokens: 50, messages: ask, tools, stream: true });
      const kinds: string[] = [];
      for await (const ev of raw) kinds.push(ev.type === 'content_block_delta' ? `${ev.type}:${ev.delta.type}` : ev.type);
      assert.deepEqual(
        kinds.filter((k) => k.startsWith('content_block')),
        ['content_block_start', 'content_block_delta:input_json_delta', 'content_block_stop'],
      );
      const final = await anthropic.messages.stream({ model: 'gpt', max_tokens: 50, messages: ask, tools }).finalMessage();
      assert.equal(final.stop_reason, 'tool_use');
      assert.deepEqual(final.content, [{ type: 'tool_use', id: 'call_07', name: 'get_weather', input: { city: 'Paris' } }]);
    });

    it('image blocks reach the OpenAI target as image_url parts', async () => {
      rig.openai.setReply({});
      await anthropic.messages.create({
        model: 'gpt',
        max_tokens: 20,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            ],
          },
        ],
      });
      const parts = rig.openai.requests.at(-1)!.body.messages[0].content;
      assert.equal(parts[1].type, 'image_url');
      assert.equal(parts[1].image_url.url, `data:image/png;base64,${PNG}`);
      assert.equal(parts[2].image_url.url, 'https://example.com/cat.png');
    });
  });
});
