/**
 * The official `openai` SDK, unchanged, against the gateway's Responses API
 * surface (`/v1/responses`) in front of real fake providers: create and
 * stream (with `finalResponse()`), the exact event sequence, translation to
 * an openai chat target and an anthropic target (what the fake upstream
 * received), function-call round trips, chaining by previous_response_id,
 * retrieve / delete / input_items, isolation between tokens, store: false,
 * ignored hints named in x-sipp-ignored, refusals naming the field, and a
 * failure after the stream began.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { RESTRICTED, startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

describe('OpenAI SDK against the Responses API surface', () => {
  let rig: SurfaceRig;
  let client: OpenAI;
  const sdk = (apiKey: string) => new OpenAI({ baseURL: rig.openaiBase, apiKey, maxRetries: 0 });

  before(async () => {
    rig = await startSurfaceRig();
    client = sdk(TOKEN);
  });
  after(async () => {
    await rig?.close();
  });
  beforeEach(() => {
    rig.openai.setBehavior({ kind: 'normal' });
    rig.openai.setReply({});
    rig.anthropic.setBehavior({ kind: 'normal' });
  });

  it('create on an openai target: the Response object, and exactly the chat request the upstream received', async () => {
    const { data: r, response } = await client.responses
      .create({
        model: 'gpt',
        instructions: 'be brief',
        input: 'say hi',
        max_output_tokens: 40,
        temperature: 0.3,
        top_p: 0.5,
        user: 'u-1',
        metadata: { team: 'a' },
        include: ['reasoning.encrypted_content'],
        prompt_cache_key: 'k1',
        store: false,
      })
      .withResponse();
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(r.status, 'completed');
    assert.equal(r.model, 'gpt');
    assert.equal(r.output_text, 'Gateway ready');
    assert.equal(r.output.length, 1);
    const msg = r.output[0]!;
    assert.equal(msg.type, 'message');
    assert.ok(msg.type === 'message' && msg.role === 'assistant' && msg.status === 'completed');
    assert.deepEqual(r.usage, {
      input_tokens: 8,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 11,
    });
    assert.equal(r.instructions, 'be brief');
    assert.deepEqual(r.metadata, { team: 'a' });
    assert.equal(r.max_output_tokens, 40);
    assert.equal((r as any).store, false);
    assert.equal(response.headers.get('x-sipp-target'), 'gpt');
    assert.equal(response.headers.get('x-sipp-ignored'), 'include,prompt_cache_key');
    const sent = rig.openai.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.deepEqual(sent.body, {
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'say hi' },
      ],
      max_completion_tokens: 40,
      temperature: 0.3,
      top_p: 0.5,
      user: 'u-1',
    });
  });

  it('stream: the exact event sequence, sequence numbers 0..n-1, and finalResponse() completes', async () => {
    const stream = client.responses.stream({
      model: 'gpt',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
    });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const final = await stream.finalResponse();
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta),
      ['Gate', 'way', ' ready'],
    );
    assert.equal(events[7].text, 'Gateway ready');
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, 'Gateway ready');
    assert.equal(final.id, events[0].response.id);
    assert.equal(final.usage?.total_tokens, 11);
    assert.equal(rig.openai.requests.at(-1)!.body.stream, true);
  });

  it('function calls round trip (finite): function_call item, then function_call_output chained by previous_response_id', async () => {
    rig.openai.setReply({
      tokens: [],
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] }],
    });
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        strict: true,
      },
    ];
    const r1 = await client.responses.create({ model: 'gpt', input: 'weather in Oslo?', tools, tool_choice: 'required' });
    assert.equal(r1.output.length, 1);
    const call = r1.output[0]!;
    assert.ok(call.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.equal(call.call_id, 'call_1');
    assert.equal(call.arguments, '{"city":"Oslo"}');
    const first = rig.openai.requests.at(-1)!.body;
    assert.deepEqual(first.tools, [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'weather',
          parameters: tools[0]!.type === 'function' ? tools[0]!.parameters : null,
          strict: true,
        },
      },
    ]);
    assert.equal(first.tool_choice, 'required');

    rig.openai.setReply({ tokens: ['Sunny'] });
    const r2 = await client.responses.create({
      model: 'gpt',
      previous_response_id: r1.id,
      input: [{ type: 'function_call_output', call_id: 'call_1', output: '{"sky":"clear"}' }],
      tools,
    });
    assert.equal(r2.output_text, 'Sunny');
    assert.equal(r2.previous_response_id, r1.id);
    assert.deepEqual(rig.openai.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'weather in Oslo?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"sky":"clear"}' },
    ]);
  });

  it('function calls (stream): function_call_arguments deltas and done, finalResponse() carries the call', async () => {
    rig.openai.setReply({
      tokens: [],
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_9', name: 'lookup', arguments: ['{"q":', '1}'] }],
    });
    const stream = client.responses.stream({
      model: 'gpt',
      input: 'look it up',
      tools: [{ type: 'function', name: 'lookup', parameters: null, strict: false }],
    });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const final = await stream.finalResponse();
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal(events[5].arguments, '{"q":1}');
    const call = final.output[0]!;
    assert.ok(call.type === 'function_call');
    assert.equal(call.call_id, 'call_9');
    assert.equal(call.name, 'lookup');
    assert.equal(call.arguments, '{"q":1}');
  });

  it('custom (freeform) tools travel as a one-string function and come back as custom_tool_call items, finite and streamed', async () => {
    rig.openai.setReply({
      tokens: [],
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_p', name: 'apply_patch', arguments: ['{"input":"*** Begin', ' Patch"}'] }],
    });
    const tools: any[] = [
      {
        type: 'custom',
        name: 'apply_patch',
        description: 'edit files',
        format: { type: 'grammar', syntax: 'lark', definition: 'start: "x"' },
      },
    ];
    const r1 = await client.responses.create({
      model: 'gpt',
      input: 'fix it',
      tools,
      tool_choice: { type: 'custom', name: 'apply_patch' } as any,
    });
    const item = r1.output[0] as any;
    assert.equal(item.type, 'custom_tool_call');
    assert.equal(item.name, 'apply_patch');
    assert.equal(item.call_id, 'call_p');
    assert.equal(item.input, '*** Begin Patch');
    const sentTool = rig.openai.requests.at(-1)!.body.tools[0];
    assert.equal(sentTool.function.name, 'apply_patch');
    assert.deepEqual(sentTool.function.parameters.required, ['input']);
    assert.match(sentTool.function.description, /^edit files\n\nThe input must follow this lark grammar:\nstart: "x"$/);
    assert.deepEqual(rig.openai.requests.at(-1)!.body.tool_choice, { type: 'function', function: { name: 'apply_patch' } });

    const stream = client.responses.stream({ model: 'gpt', input: 'fix it', tools, store: false });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const final = await stream.finalResponse();
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.custom_tool_call_input.delta',
        'response.custom_tool_call_input.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal((final.output[0] as any).input, '*** Begin Patch');

    rig.openai.setReply({ tokens: ['Patched'] });
    const r2 = await client.responses.create({
      model: 'gpt',
      previous_response_id: r1.id,
      input: [{ type: 'custom_tool_call_output', call_id: 'call_p', output: 'Done!' } as any],
      tools,
    });
    assert.equal(r2.output_text, 'Patched');
    assert.deepEqual(rig.openai.requests.at(-1)!.body.messages.slice(1), [
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_p', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_p', content: 'Done!' },
    ]);
  });

  it('store: chaining, retrieve, input_items, delete; another token sees none of it', async () => {
    const r1 = await client.responses.create({ model: 'gpt', input: 'first', instructions: 'sys-1' });
    const r2 = await client.responses.create({ model: 'gpt', input: 'second', previous_response_id: r1.id });
    // The chain: r1's input and output, then the new input; r1's instructions do not carry over.
    assert.deepEqual(rig.openai.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'Gateway ready' },
      { role: 'user', content: 'second' },
    ]);

    const got = await client.responses.retrieve(r2.id);
    assert.equal(got.id, r2.id);
    assert.equal(got.output_text, 'Gateway ready');
    assert.equal(got.previous_response_id, r1.id);

    const items = [];
    for await (const item of client.responses.inputItems.list(r2.id, { order: 'asc' })) items.push(item);
    assert.deepEqual(
      items.map((i: any) => [i.type, i.role, i.content[0].text]),
      [
        ['message', 'user', 'first'],
        ['message', 'assistant', 'Gateway ready'],
        ['message', 'user', 'second'],
      ],
    );
    const desc = await client.responses.inputItems.list(r2.id, { limit: 1 });
    assert.equal(desc.data.length, 1);
    assert.equal((desc.data[0] as any).content[0].text, 'second');
    assert.equal(desc.has_more, true);

    // Another token: every route answers as for an unknown id.
    const other = sdk(RESTRICTED);
    await assert.rejects(other.responses.retrieve(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(other.responses.delete(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(other.responses.inputItems.list(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(
      other.responses.create({ model: 'claude', input: 'x', previous_response_id: r2.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );

    await client.responses.delete(r2.id);
    await assert.rejects(client.responses.retrieve(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(client.responses.delete(r2.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    // r1 is still there.
    assert.equal((await client.responses.retrieve(r1.id)).id, r1.id);
  });

  it('a streamed response is stored before response.completed, so a chained request right after sees it', async () => {
    const stream = client.responses.stream({ model: 'gpt', input: 'one' });
    const final = await stream.finalResponse();
    const got = await client.responses.retrieve(final.id);
    assert.equal(got.status, 'completed');
    assert.equal(got.output_text, 'Gateway ready');
    await client.responses.create({ model: 'gpt', input: 'two', previous_response_id: final.id });
    assert.equal(rig.openai.requests.at(-1)!.body.messages.length, 3);
  });

  it('retrieve with stream: true replays a kept response as the streaming event sequence; starting_after; another token gets 404', async () => {
    const created = await client.responses.create({ model: 'gpt', input: 'tell me' });
    const kept = await client.responses.retrieve(created.id);
    const replay = await client.responses.retrieve(created.id, { stream: true });
    const events: any[] = [];
    for await (const e of replay) events.push(e);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.equal(events[0].response.id, created.id);
    assert.equal(events[0].response.status, 'in_progress');
    assert.deepEqual(events[0].response.output, []);
    assert.deepEqual(events[2].item.content, []);
    assert.equal(events[3].part.text, '');
    assert.equal(events[4].delta, 'Gateway ready');
    assert.equal(events[5].text, 'Gateway ready');
    assert.deepEqual(events[7].item, kept.output[0]);
    // The SDK adds `output_text` to a retrieved Response; the terminal event carries the object as kept.
    const { output_text, ...keptObject } = kept;
    assert.equal(output_text, 'Gateway ready');
    assert.deepEqual(events.at(-1).response, keptObject);

    // The SDK's resume helper: responses.stream({ response_id }) completes with the kept response.
    const resumed = client.responses.stream({ response_id: created.id, starting_after: 3 });
    const seen: number[] = [];
    for await (const e of resumed) seen.push(e.sequence_number);
    assert.deepEqual(seen, [4, 5, 6, 7, 8]);
    const final = await resumed.finalResponse();
    assert.equal(final.output_text, 'Gateway ready');
    assert.equal(final.id, created.id);

    // starting_after on the wire: only the later events are sent.
    const res = await fetch(`${rig.openaiBase}/responses/${created.id}?stream=true&starting_after=6`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    assert.deepEqual(
      [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]),
      ['response.output_item.done', 'response.completed'],
    );
    assert.match(text, /"sequence_number":7/);
    const bad = await fetch(`${rig.openaiBase}/responses/${created.id}?stream=true&starting_after=-1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.param, 'starting_after');

    await assert.rejects(
      sdk(RESTRICTED).responses.retrieve(created.id, { stream: true }),
      (e: unknown) => e instanceof OpenAI.NotFoundError,
    );
  });

  it('retrieve with stream: true replays a function call: arguments delta and done, finalResponse() carries the call', async () => {
    rig.openai.setReply({
      tokens: [],
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_r', name: 'lookup', arguments: ['{"q":', '2}'] }],
    });
    const created = await client.responses.create({
      model: 'gpt',
      input: 'look it up',
      tools: [{ type: 'function', name: 'lookup', parameters: null, strict: false }],
    });
    const resumed = client.responses.stream({ response_id: created.id });
    const events: any[] = [];
    for await (const e of resumed) events.push(e);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal(events[2].item.arguments, '');
    assert.equal(events[3].delta, '{"q":2}');
    assert.equal(events[4].name, 'lookup');
    const call = (await resumed.finalResponse()).output[0]!;
    assert.ok(call.type === 'function_call');
    assert.equal(call.call_id, 'call_r');
    assert.equal(call.arguments, '{"q":2}');
  });

  it('store: false keeps nothing', async () => {
    const r = await client.responses.create({ model: 'gpt', input: 'x', store: false });
    await assert.rejects(client.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(
      client.responses.create({ model: 'gpt', input: 'y', previous_response_id: r.id }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'previous_response_id',
    );
  });

  it('an anthropic target gets Messages: instructions as system, the chain and tool round trip translated', async () => {
    const r = await client.responses.create({
      model: 'claude',
      instructions: 'be terse',
      input: [
        { role: 'developer', content: 'no emojis' },
        { role: 'user', content: 'hello' },
        { type: 'reasoning', id: 'rs_1', summary: [] } as any,
        { type: 'function_call', call_id: 'toolu_1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'toolu_1', output: 'done' },
      ],
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} }, strict: null }],
      max_output_tokens: 50,
    });
    assert.equal(r.status, 'completed');
    assert.ok(r.output_text.length > 0);
    const sent = rig.anthropic.requests.at(-1)!.body;
    assert.equal(sent.model, 'claude-test');
    assert.equal(sent.max_tokens, 50);
    assert.deepEqual(sent.tools, [{ name: 'f', input_schema: { type: 'object', properties: {} } }]);
    const roles = sent.messages.map((m: any) => m.role);
    assert.deepEqual(roles.slice(-3), ['user', 'assistant', 'user']);
    const last = sent.messages.at(-1).content;
    assert.equal(last[0].type, 'tool_result');
    assert.equal(last[0].tool_use_id, 'toolu_1');
    assert.equal(JSON.stringify(sent).includes('be terse'), true);
  });

  it('stream on an anthropic target: the same event sequence and a completed finalResponse()', async () => {
    const stream = client.responses.stream({ model: 'claude', input: 'hi', max_output_tokens: 20, store: false });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    const final = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(types.includes('response.output_text.delta'));
    assert.equal(final.status, 'completed');
    assert.ok(final.output_text.length > 0);
    assert.equal(rig.anthropic.requests.at(-1)!.body.stream, true);
  });

  it('refusals name the field in the OpenAI error shape; hints are ignored and named', async () => {
    const bad = async (body: any, param: string) =>
      assert.rejects(
        client.responses.create(body),
        (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === param,
      );
    // Server-side tools a call is required of (docs/api.md#server-side-tools); client built-in tools.
    await bad({ model: 'gpt', input: 'x', tools: [{ type: 'web_search' }], tool_choice: 'required' }, 'tools.0');
    await bad(
      {
        model: 'gpt',
        input: 'x',
        tools: [{ type: 'function', name: 'f' }, { type: 'local_shell' }],
      },
      'tools.1',
    );
    await bad(
      { model: 'gpt', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] },
      'input.0.content.0.type',
    );
    await bad({ model: 'gpt', input: [{ role: 'robot', content: 'x' }] }, 'input.0.role');
    await bad({ model: 'gpt', input: 'x', background: true }, 'background');
    await bad({ model: 'gpt', input: 'x', temperature: 3 }, 'temperature');
    await bad({ model: 'gpt', input: 'x', made_up_field: 1 }, 'made_up_field');
    await bad({ model: 'gpt' }, 'input');
    await bad({ model: 'gpt', input: 'x', previous_response_id: 'resp:other:key' }, 'previous_response_id');
    await bad({ model: 'gpt', input: 'x', tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice.name');
    // Nothing reached the upstream for any of them.
    const before = rig.openai.requests.length;
    await bad({ model: 'gpt', input: 'x', tools: [{ type: 'mcp', server_label: 's' }], tool_choice: 'required' }, 'tools.0');
    assert.equal(rig.openai.requests.length, before);

    const { response } = await client.responses
      .create({ model: 'gpt', input: 'x', truncation: 'auto', reasoning: { effort: 'low', summary: 'auto' }, store: false })
      .withResponse();
    assert.equal(response.headers.get('x-sipp-ignored'), 'reasoning,truncation');
  });

  it('a Codex-shaped request (hints, reasoning items, store false, streamed) is served, the hints named', async () => {
    const body = {
      model: 'gpt',
      instructions: 'You are a coding agent.',
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: '<permissions>…</permissions>' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'list files' }] },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thinking' }], encrypted_content: 'gAAAA…' },
        { type: 'function_call', id: 'fc_1', name: 'shell', arguments: '{"command":["ls"]}', call_id: 'call_1' },
        { type: 'function_call_output', call_id: 'call_1', output: 'a.txt' },
      ],
      tools: [
        {
          type: 'function',
          name: 'shell',
          description: 'Runs a command',
          strict: false,
          parameters: {
            type: 'object',
            properties: { command: { type: 'array', items: { type: 'string' } } },
            required: ['command'],
            additionalProperties: false,
          },
        },
      ],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning: { effort: 'medium', summary: 'auto' },
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: '0199a0c2-1111-2222-3333-444455556666',
      text: { verbosity: 'low' },
    };
    const res = await fetch(`${rig.openaiBase}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sipp-ignored'), 'include,prompt_cache_key,reasoning,verbosity');
    const text = await res.text();
    assert.match(text, /event: response\.completed\n/);
    const sent = rig.openai.requests.at(-1)!.body;
    assert.equal(sent.parallel_tool_calls, false);
    assert.deepEqual(
      sent.messages.map((m: any) => m.role),
      ['system', 'system', 'user', 'assistant', 'tool'],
    );
  });

  it('text.format json_schema becomes the chat response_format', async () => {
    await client.responses.create({
      model: 'gpt',
      input: 'x',
      store: false,
      text: {
        format: {
          type: 'json_schema',
          name: 'out',
          schema: { type: 'object', properties: { a: { type: 'string' } } },
          strict: true,
        },
      },
    });
    assert.deepEqual(rig.openai.requests.at(-1)!.body.response_format, {
      type: 'json_schema',
      json_schema: { name: 'out', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true },
    });
  });

  it('a failure after the stream began ends it with response.failed then an error event; finalResponse() rejects', async () => {
    rig.openai.setBehavior({ kind: 'provider-error', afterChunks: 2 });
    const stream = client.responses.stream({ model: 'gpt', input: 'x', store: false });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['response.failed', 'error']);
    assert.equal(events.at(-1).code, 'upstream');
    assert.equal(types[0], 'response.created');
    const failed = events.find((e) => e.type === 'response.failed');
    assert.ok(failed, `no response.failed in ${types.join(' ')}`);
    assert.equal(failed.response.status, 'failed');
    assert.equal(typeof failed.response.error.message, 'string');
    await assert.rejects(stream.finalResponse());
  });

  it('retrieve/delete need a valid token; unknown ids are 404', async () => {
    await assert.rejects(
      sdk('wrong-token').responses.retrieve('resp_x'),
      (e: unknown) => e instanceof OpenAI.AuthenticationError,
    );
    await assert.rejects(client.responses.retrieve('resp_does_not_exist'), (e: unknown) => e instanceof OpenAI.NotFoundError);
    const res = await fetch(`${rig.openaiBase}/responses/resp_x`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, DELETE, OPTIONS');
  });
});
