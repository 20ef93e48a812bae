/**
 * Function tools on the Sipp `/v1/chat` route (docs/api.md#tools-on-v1chat):
 * on a local target (the generated demo model) a forced call comes back as
 * `tool_calls` with arguments that parse and follow the tool's schema, finite
 * and streamed (`tool_call` events whose pieces join to the same arguments);
 * a round trip (assistant `tool_calls`, a `tool` message) reaches the prompt;
 * client mistakes are 400s naming the field in Sipp naming; translated to an
 * OpenAI target the tools go out in its shape and its calls come back; and a
 * plain chat still gets only the events the Sipp Rust client accepts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { assertToolArguments, demoToolsToml, TIME, WEATHER } from '../local/tool-fixtures.js';
import { readLikeSippClient } from './sipp-client-sse.js';

const TOKEN = 'tok-sipp-tools-0123456789';

/** SSE text → [event, data] pairs. */
function events(text: string): Array<[string, any]> {
  return text
    .split('\n\n')
    .filter((f) => f.trim())
    .map((f) => [/^event: (.*)$/m.exec(f)![1]!, JSON.parse(/^data: (.*)$/m.exec(f)![1]!)]);
}

describe('tools on the Sipp /v1/chat route', () => {
  let gw: TestGateway;
  let fake: FakeOpenAI;
  const chat = (body: unknown) =>
    fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const forced = {
    model: 'demo',
    messages: ask,
    tools: [WEATHER, TIME],
    tool_choice: { name: 'get_weather' },
    max_tokens: 256,
    temperature: 0,
  };

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: demoToolsToml(`[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${fake.url}"
`),
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-sipp-tools', T: TOKEN, OPENAI_KEY: fake.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  it('local: a forced named call comes back as tool_calls, finite and streamed alike', async () => {
    const res = await chat(forced);
    const r: any = await res.json();
    assert.equal(res.status, 200, JSON.stringify(r));
    assert.equal(r.model, 'demo');
    assert.equal(r.tool_calls?.length, 1, JSON.stringify(r));
    const call = r.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.name, 'get_weather');
    assertToolArguments('get_weather', JSON.parse(call.arguments));
    assert.ok(['tool_calls', 'length'].includes(r.finish_reason));

    const other: any = await (await chat({ ...forced, tool_choice: { name: 'get_time' } })).json();
    assert.equal(other.tool_calls[0].name, 'get_time');
    assert.equal(typeof JSON.parse(other.tool_calls[0].arguments).zone, 'string');

    const sres = await chat({ ...forced, stream: true });
    assert.equal(sres.status, 200);
    const ev = events(await sres.text());
    const pieces = ev.filter(([e]) => e === 'tool_call').map(([, d]) => d);
    assert.ok(pieces.length > 1, 'the arguments stream in pieces');
    assert.equal(pieces[0].name, 'get_weather');
    assert.ok(pieces[0].id);
    for (const p of pieces) assert.equal(p.index, 0);
    for (const p of pieces.slice(1)) assert.equal(p.id, undefined);
    assert.equal(pieces.map((p) => p.arguments).join(''), call.arguments, 'the same arguments at temperature 0');
    assert.deepEqual(ev.at(-1), ['done', { finish_reason: r.finish_reason }]);
  });

  it('local: required calls one of the tools; a round trip reaches the prompt', async () => {
    const req: any = await (await chat({ ...forced, tool_choice: 'required' })).json();
    const call = req.tool_calls[0];
    assert.ok(['get_weather', 'get_time'].includes(call.name));
    const turn = (result: string) => [
      ...ask,
      { role: 'assistant', content: '', tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: result },
    ];
    const short: any = await (
      await chat({ ...forced, messages: turn('{"temp": 21}'), tool_choice: 'none', max_tokens: 4 })
    ).json();
    assert.equal(short.tool_calls, undefined);
    assert.ok(short.text.length > 0, JSON.stringify(short));
    const long: any = await (
      await chat({
        ...forced,
        messages: turn('{"temp": 21, "sky": "clear", "wind": "light from the west", "rain": "none expected"}'),
        tool_choice: 'none',
        max_tokens: 4,
      })
    ).json();
    assert.ok(long.usage.input_tokens > short.usage.input_tokens + 10, 'the tool result is rendered into the prompt');
  });

  it('client mistakes are 400s naming the field in Sipp naming, before any attempt', async () => {
    const bad = async (body: unknown, field: RegExp) => {
      const res = await chat(body);
      const e: any = await res.json();
      assert.equal(res.status, 400, JSON.stringify(e));
      assert.match(e.error.message, field);
    };
    await bad({ ...forced, tool_choice: { name: 'nope' } }, /^tool_choice\.name: names tool "nope"/);
    await bad(
      { ...forced, messages: [...ask, { role: 'tool', tool_call_id: 'call_x', content: 'x' }] },
      /^messages\[1\]\.tool_call_id/,
    );
    await bad({ ...forced, messages: [...ask, { role: 'tool', content: 'x' }] }, /^messages\[1\]\.tool_call_id/);
    await bad({ ...forced, tools: [{ name: 'f', parameters: 'x' }] }, /^tools\[0\]\.parameters/);
    await bad({ ...forced, tool_choice: 'sometimes' }, /^tool_choice/);
  });

  it('translated to an OpenAI target: tools go out in its shape, its calls come back (finite and streamed)', async () => {
    fake.setReply({
      tokens: [],
      toolCalls: [{ id: 'call_up_1', name: 'get_weather', arguments: ['{"city":', '"Paris","days":1,"unit":"c"}'] }],
      finishReason: 'tool_calls',
    });
    try {
      const r: any = await (await chat({ ...forced, model: 'gpt' })).json();
      const sent = fake.requests.at(-1)!.body;
      assert.deepEqual(sent.tools[0], { type: 'function', function: WEATHER });
      assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: 'get_weather' } });
      assert.deepEqual(r.tool_calls, [
        { id: 'call_up_1', name: 'get_weather', arguments: '{"city":"Paris","days":1,"unit":"c"}' },
      ]);
      assert.equal(r.finish_reason, 'tool_calls');

      const ev = events(await (await chat({ ...forced, model: 'gpt', stream: true })).text());
      const pieces = ev.filter(([e]) => e === 'tool_call').map(([, d]) => d);
      assert.equal(pieces[0].id, 'call_up_1');
      assert.equal(pieces.map((p) => p.arguments).join(''), '{"city":"Paris","days":1,"unit":"c"}');

      // A round trip goes out as OpenAI's assistant tool_calls and tool message.
      await chat({
        ...forced,
        model: 'gpt',
        messages: [
          ...ask,
          { role: 'assistant', content: '', tool_calls: r.tool_calls },
          { role: 'tool', tool_call_id: 'call_up_1', content: '21' },
        ],
      });
      const msgs = fake.requests.at(-1)!.body.messages;
      assert.equal(msgs[1].tool_calls[0].id, 'call_up_1');
      assert.deepEqual(msgs[2], { role: 'tool', tool_call_id: 'call_up_1', content: '21' });
    } finally {
      fake.setReply({});
    }
  });

  it('a plain chat keeps the events the Sipp Rust client accepts', async () => {
    const res = await chat({ model: 'demo', messages: ask, max_tokens: 4, stream: true });
    const out = readLikeSippClient(await res.text());
    assert.ok(
      out.events.every((e) => ['token', 'usage', 'done'].includes(e)),
      out.events.join(','),
    );
  });
});
