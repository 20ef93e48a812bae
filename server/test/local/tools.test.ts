/**
 * Function tools on a local target (generated demo model, random weights)
 * through the real gateway, with the official OpenAI and Anthropic SDKs:
 * forced calls (a named tool, `required` / `any`) come back with arguments
 * that parse and satisfy the tool's schema, finite and streamed; `none` gives
 * text; `auto` renders the tools into the prompt; tool results are accepted
 * and rendered (round trips); a budget too small for the arguments ends with
 * `length`. See docs/local-models.md#tools.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { pino } from 'pino';
import { ChatMLChatWrapper, LlamaText, Llama3_1ChatWrapper, SpecialTokensText } from 'node-llama-cpp';
import { argumentsOfRawCall, planToolChat } from '../../src/targets/local/function-calling.js';
import { acquireLlama } from '../../src/targets/local/llama-instance.js';
import { resolveChatTemplate } from '../../src/targets/local/prompt.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { until } from '../support/wait.js';
import { ensureDemoModel } from './models.js';
import { assertToolArguments, demoToolsToml, TIME, WEATHER, type ToolFixture } from './tool-fixtures.js';

const TOKEN = 'tok-local-tools-0123456789';

const openaiTool = (t: ToolFixture) => ({ type: 'function' as const, function: t });
const anthropicTool = (t: ToolFixture) => ({
  name: t.name,
  description: t.description,
  input_schema: t.parameters as any,
});

/** A function tool call (the SDK's union also has custom tool calls). */
function fnCall(c: OpenAI.ChatCompletionMessageToolCall | undefined): OpenAI.ChatCompletionMessageFunctionToolCall {
  assert.ok(c?.type === 'function', `a function tool call: ${JSON.stringify(c)}`);
  return c;
}

describe('tools on a local target (demo model, OpenAI and Anthropic SDKs)', () => {
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  const ask = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];

  before(async () => {
    gw = await startTestGateway({
      toml: demoToolsToml(),
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-local-tools', T: TOKEN },
    });
    openai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
  });

  const forced = {
    model: 'demo',
    messages: ask,
    tools: [openaiTool(WEATHER), openaiTool(TIME)],
    tool_choice: { type: 'function' as const, function: { name: 'get_weather' } },
    max_tokens: 256,
    temperature: 0,
  };

  it('OpenAI: a forced named call returns that tool with arguments that parse and satisfy its schema, finite and streamed alike', async () => {
    const r = await openai.chat.completions.create(forced);
    const choice = r.choices[0]!;
    // The demo model never ends a string by itself: the end of the budget closes the arguments, and says so.
    assert.equal(choice.finish_reason, 'length');
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = fnCall(choice.message.tool_calls![0]);
    assert.match(call.id, /^call_[A-Za-z0-9_-]{8,}$/);
    assert.equal(call.function.name, 'get_weather');
    assertToolArguments('get_weather', JSON.parse(call.function.arguments));
    assert.match(call.function.arguments, /^\{.*\}$/s, "nothing after the JSON (the grammar's end marker is not sent)");
    assert.ok(r.usage!.completion_tokens > 0 && r.usage!.completion_tokens <= 256, JSON.stringify(r.usage));

    // Only the named tool can be called, also when it is not the one the model would pick.
    const other = await openai.chat.completions.create({
      ...forced,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const timeCall = fnCall(other.choices[0]!.message.tool_calls?.[0]);
    assert.equal(timeCall.function.name, 'get_time');
    assertToolArguments('get_time', JSON.parse(timeCall.function.arguments));

    const stream = openai.chat.completions.stream(forced);
    const deltas: any[] = [];
    stream.on('chunk', (c) => {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) deltas.push(tc);
    });
    const final = await stream.finalChatCompletion();
    assert.ok(deltas.length > 1, 'the arguments stream in pieces');
    assert.equal(deltas[0].function.name, 'get_weather');
    assert.ok(deltas[0].id, 'the first piece carries the id');
    for (const d of deltas.slice(1)) {
      assert.equal(d.id, undefined);
      assert.equal(d.index, 0);
    }
    const streamed = fnCall(final.choices[0]!.message.tool_calls![0]);
    assert.equal(streamed.id, deltas[0].id);
    assert.equal(streamed.function.name, 'get_weather');
    assert.equal(streamed.function.arguments, call.function.arguments, 'the same arguments at temperature 0');
    assert.equal(final.choices[0]!.finish_reason, choice.finish_reason);
  });

  it('OpenAI: a call the model ends by itself (no strings to run on) finishes with tool_calls', async () => {
    const pick = {
      name: 'pick',
      description: 'Pick a unit and a count',
      parameters: {
        type: 'object',
        properties: { unit: { type: 'string', enum: ['c', 'f'] }, n: { type: 'integer' } },
        required: ['unit', 'n'],
      },
    };
    const r = await openai.chat.completions.create({
      ...forced,
      tools: [openaiTool(pick as any)],
      tool_choice: { type: 'function', function: { name: 'pick' } },
    });
    assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
    const call = fnCall(r.choices[0]!.message.tool_calls?.[0]);
    const args = JSON.parse(call.function.arguments);
    assert.ok(['c', 'f'].includes(args.unit) && Number.isInteger(args.n), call.function.arguments);
    assert.ok(r.usage!.completion_tokens < 100, JSON.stringify(r.usage));
  });

  it('OpenAI: required makes the model call one of the tools, with arguments for that tool', async () => {
    for (const tools of [
      [openaiTool(WEATHER), openaiTool(TIME)],
      [openaiTool(TIME), openaiTool(WEATHER)],
    ]) {
      const r = await openai.chat.completions.create({ ...forced, tools, tool_choice: 'required', temperature: 0.8, seed: 7 });
      const call = fnCall(r.choices[0]!.message.tool_calls?.[0]);
      assert.ok(['get_weather', 'get_time'].includes(call.function.name), call.function.name);
      assertToolArguments(call.function.name, JSON.parse(call.function.arguments));
    }
  });

  it('OpenAI: none writes text and leaves the tools out of the prompt', async () => {
    const plain = await openai.chat.completions.create({ model: 'demo', messages: ask, max_tokens: 12, temperature: 0 });
    const r = await openai.chat.completions.create({ ...forced, tool_choice: 'none', max_tokens: 12 });
    assert.equal(r.choices[0]!.message.tool_calls, undefined);
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.equal(r.choices[0]!.message.content, plain.choices[0]!.message.content);
    assert.equal(r.usage!.prompt_tokens, plain.usage!.prompt_tokens);
  });

  it('OpenAI: auto renders the tools (names, descriptions, parameters) into the prompt and answers', async () => {
    const plain = await openai.chat.completions.create({ model: 'demo', messages: ask, max_tokens: 12, temperature: 0 });
    const auto = await openai.chat.completions.create({ ...forced, tool_choice: 'auto', max_tokens: 12 });
    assert.ok(['length', 'stop', 'tool_calls'].includes(auto.choices[0]!.finish_reason));
    assert.ok(auto.usage!.prompt_tokens > plain.usage!.prompt_tokens + 100, JSON.stringify([auto.usage, plain.usage]));
    const longer = { ...WEATHER, description: `${WEATHER.description}, in degrees of the given unit, for the next few days` };
    const described = await openai.chat.completions.create({
      ...forced,
      tools: [openaiTool(longer), openaiTool(TIME)],
      tool_choice: 'auto',
      max_tokens: 1,
    });
    assert.ok(described.usage!.prompt_tokens > auto.usage!.prompt_tokens + 5, 'the description is in the prompt');
    // A forced call's prompt lists every tool too (the call prefix is written after it).
    const named = await openai.chat.completions.create({
      ...forced,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      max_tokens: 12,
    });
    assert.equal(named.usage!.prompt_tokens, auto.usage!.prompt_tokens);
    // Default: auto.
    const unset = await openai.chat.completions.create({
      model: 'demo',
      messages: ask,
      tools: forced.tools,
      max_tokens: 1,
      temperature: 0,
    });
    assert.equal(unset.usage!.prompt_tokens, auto.usage!.prompt_tokens);
  });

  it('OpenAI: a round trip (tool call → tool result → answer) is accepted and the result reaches the prompt', async () => {
    const first = await openai.chat.completions.create(forced);
    const call = fnCall(first.choices[0]!.message.tool_calls![0]);
    const turn = (result: string): OpenAI.ChatCompletionMessageParam[] => [
      ...ask,
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }] },
      { role: 'tool', tool_call_id: call.id, content: result },
    ];
    const short = await openai.chat.completions.create({
      ...forced,
      messages: turn('{"temp": 21}'),
      tool_choice: 'auto',
      max_tokens: 16,
    });
    assert.ok(short.choices[0]!.message.content !== null || short.choices[0]!.message.tool_calls, 'an answer');
    const long = await openai.chat.completions.create({
      ...forced,
      messages: turn('{"temp": 21, "sky": "clear", "wind": "light from the west", "rain": "none expected"}'),
      tool_choice: 'auto',
      max_tokens: 1,
    });
    assert.ok(long.usage!.prompt_tokens > short.usage!.prompt_tokens + 10, 'the tool result is rendered into the prompt');
    const streamed = await openai.chat.completions
      .stream({ ...forced, messages: turn('{"temp": 21}'), tool_choice: 'none', max_tokens: 8 })
      .finalChatCompletion();
    assert.equal(streamed.choices[0]!.finish_reason, 'length');
    assert.ok(streamed.choices[0]!.message.content!.length > 0);
    // A result for a call the conversation never made is refused, naming the message.
    const err: any = await openai.chat.completions
      .create({ ...forced, messages: [...ask, { role: 'tool', tool_call_id: 'call_unknown', content: 'x' }] })
      .catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.match(
      err.message,
      /messages\.1\.tool_call_id: answers tool call "call_unknown", which no earlier assistant message made/,
    );
  });

  it('OpenAI: a budget too small for the arguments ends with length and the call as written so far', async () => {
    const r = await openai.chat.completions.create({ ...forced, max_tokens: 16 });
    const choice = r.choices[0]!;
    assert.equal(choice.finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 16);
    const call = fnCall(choice.message.tool_calls?.[0]);
    assert.equal(call.function.name, 'get_weather');
    assert.ok(call.function.arguments.startsWith('{'), call.function.arguments);
    assert.throws(() => JSON.parse(call.function.arguments), 'truncated arguments');
  });

  it('OpenAI: a conversation that does not fit the context with the tools is a 400 naming messages', async () => {
    const plain = await openai.chat.completions.create({ model: 'demo', messages: ask, max_tokens: 1, temperature: 0 });
    const withTools = await openai.chat.completions.create({ ...forced, tool_choice: 'auto', max_tokens: 1 });
    const toolTokens = withTools.usage!.prompt_tokens - plain.usage!.prompt_tokens;
    // Fits alone (with room to answer), not with the tools' documentation.
    const filler = 'the '.repeat(2048 - plain.usage!.prompt_tokens - Math.floor(toolTokens / 2));
    const long = [{ role: 'user' as const, content: `${filler}What is the weather in Paris?` }];
    const alone = await openai.chat.completions.create({ model: 'demo', messages: long, max_tokens: 1, temperature: 0 });
    assert.ok(alone.usage!.prompt_tokens < 2048);
    const err: any = await openai.chat.completions.create({ ...forced, messages: long }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.match(err.message, /messages: \d+ tokens \(with the tools\) do not fit the target's context of 2048 tokens/);
  });

  it('OpenAI: a named tool_choice that names no tool is a 400 naming the tool name', async () => {
    const err: any = await openai.chat.completions
      .create({ ...forced, tool_choice: { type: 'function', function: { name: 'nope' } } })
      .catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.param, 'tool_choice.function.name');
    assert.match(err.message, /names tool "nope", which is not in tools/);
  });

  it('a client that leaves in the middle of a streamed call frees the sequence; the next request is served', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...forced, max_tokens: 1400, stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"arguments":"{')) seen += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const target = gw.gateway.targets.get('demo')!;
    await until(() => target.describe().runtime?.busySequences === 0, 'the sequence to be released', 30_000);
    const next = await openai.chat.completions.create({ ...forced, max_tokens: 64 });
    assert.equal(fnCall(next.choices[0]!.message.tool_calls?.[0]).function.name, 'get_weather');
  });

  const anthropicForced = {
    model: 'demo',
    max_tokens: 256,
    temperature: 0,
    messages: ask,
    tools: [anthropicTool(WEATHER), anthropicTool(TIME)],
    tool_choice: { type: 'tool' as const, name: 'get_weather' },
  };

  it('Anthropic: a forced tool returns a tool_use block whose input satisfies the schema, finite and streamed alike', async () => {
    const m = await anthropic.messages.create(anthropicForced);
    assert.ok(['tool_use', 'max_tokens'].includes(m.stop_reason!), String(m.stop_reason));
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use', JSON.stringify(m.content));
    assert.equal(use.name, 'get_weather');
    assert.ok(use.id.length > 0);
    assertToolArguments('get_weather', use.input);

    const stream = anthropic.messages.stream(anthropicForced);
    let jsonDeltas = 0;
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') jsonDeltas++;
    });
    const final = await stream.finalMessage();
    assert.ok(jsonDeltas > 1, 'the input streams as input_json_delta pieces');
    const streamed = final.content.find((b) => b.type === 'tool_use');
    assert.ok(streamed && streamed.type === 'tool_use');
    assert.equal(streamed.name, 'get_weather');
    assert.deepEqual(streamed.input, use.input, 'the same input at temperature 0');
    assert.equal(final.stop_reason, m.stop_reason);
  });

  it('Anthropic: any calls one of the tools; a round trip with tool_result is accepted, finite and streamed', async () => {
    const m = await anthropic.messages.create({ ...anthropicForced, tool_choice: { type: 'any' } });
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use', JSON.stringify(m.content));
    assertToolArguments(use.name, use.input);

    const messages: Anthropic.MessageParam[] = [
      ...ask,
      { role: 'assistant', content: [{ type: 'tool_use', id: use.id, name: use.name, input: use.input }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21 degrees' }] },
    ];
    const answer = await anthropic.messages.create({
      ...anthropicForced,
      messages,
      tool_choice: { type: 'auto' },
      max_tokens: 12,
    });
    assert.ok(answer.content.length > 0);
    const final = await anthropic.messages
      .stream({ ...anthropicForced, messages, tool_choice: { type: 'none' }, max_tokens: 8 })
      .finalMessage();
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.content[0]!.type, 'text');
  });
});

describe('planToolChat (demo model)', () => {
  it('maps parallel_tool_calls false to one call per turn and documents every tool for a named choice', async () => {
    const lease = await acquireLlama('cpu', pino({ level: 'silent' }));
    const model = await lease.llama.loadModel({ modelPath: ensureDemoModel(), gpuLayers: 0 });
    try {
      const chat = resolveChatTemplate(model);
      const tools = [WEATHER, TIME];
      const messages = [{ role: 'user' as const, content: 'hi' }];
      assert.equal(planToolChat(model, chat, messages, tools, { type: 'auto' }, false).maxParallelCalls, 1);
      assert.equal(planToolChat(model, chat, messages, tools, { type: 'auto' }, true).maxParallelCalls, undefined);
      assert.equal(planToolChat(model, chat, messages, tools, undefined, undefined).forced, false);
      const named = planToolChat(model, chat, messages, tools, { type: 'tool', name: 'get_weather' }, undefined);
      assert.equal(named.forced, true);
      assert.deepEqual(Object.keys(named.functions), ['get_weather']);
      const state = named.wrapper.generateContextState({ chatHistory: named.history, availableFunctions: named.functions });
      assert.equal(state.functionCall?.initiallyEngaged, true);
      assert.deepEqual(state.functionCall?.disengageInitiallyEngaged, []);
      const prompt = state.contextText.toString();
      assert.ok(prompt.includes('get_weather') && prompt.includes('get_time'), 'both tools are documented');
      assert.ok(named.closeReserve > 8 && named.closeReserve < 120, String(named.closeReserve));
    } finally {
      await model.dispose();
      await lease.release();
    }
  });
});

describe('argumentsOfRawCall', () => {
  it("reads a finished call's arguments out of its raw text in the wrapper's syntax, multi-byte characters intact", () => {
    const chatml = new ChatMLChatWrapper();
    const args = '{"city": "Köln 日本", "n": 1}';
    const raw = LlamaText(['||call: ', 'get_weather', new SpecialTokensText('('), args, new SpecialTokensText(')')]).toJSON();
    assert.equal(argumentsOfRawCall(chatml, 'get_weather', raw), args);
    const llama3 = new Llama3_1ChatWrapper();
    assert.equal(argumentsOfRawCall(llama3, 'f', llama3.generateFunctionCall('f', { a: 'é' }).toJSON()), '{"a": "é"}');
    assert.equal(argumentsOfRawCall(chatml, 'get_weather', LlamaText('no call here').toJSON()), undefined);
  });
});
