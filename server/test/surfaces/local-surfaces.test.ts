/**
 * A local target (generated demo model) behind the OpenAI and Anthropic
 * surfaces, with the official SDKs: chat uses the model's chat template,
 * /v1/completions raw completion, /v1/embeddings the embedding context
 * (single and batch, float and base64); what a local target cannot honour
 * (images, a tool_choice naming no tool, response_format, OpenAI extras) is a
 * 400 naming the field. Tools themselves: test/local/tools.test.ts.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

describe('a local target behind the OpenAI and Anthropic surfaces', () => {
  let rig: SurfaceRig;
  let openai: OpenAI;
  let anthropic: Anthropic;
  const user = [{ role: 'user' as const, content: 'Once upon a time' }];

  before(async () => {
    rig = await startSurfaceRig({ local: true });
    openai = new OpenAI({ baseURL: rig.openaiBase, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: rig.anthropicBase, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await rig?.close();
  });

  it('chat finite and streaming (OpenAI SDK), max_tokens → length with real usage', async () => {
    const r = await openai.chat.completions.create({ model: 'demo', messages: user, max_tokens: 6, temperature: 0 });
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.ok(r.choices[0]!.message.content!.length > 0);
    assert.equal(r.usage!.completion_tokens, 6);
    assert.ok(r.usage!.prompt_tokens > 0);
    const final = await openai.chat.completions
      .stream({ model: 'demo', messages: user, max_tokens: 6, temperature: 0 })
      .finalChatCompletion();
    assert.equal(final.choices[0]!.message.content, r.choices[0]!.message.content, 'same text streamed at temperature 0');
    assert.equal(final.choices[0]!.finish_reason, 'length');
  });

  it('completions use raw completion, finite and streaming', async () => {
    const r = await openai.completions.create({ model: 'demo', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 5);
    const sipp = await fetch(`${rig.gw.publicUrl}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 }),
    });
    assert.equal(((await sipp.json()) as any).text, r.choices[0]!.text, 'the same raw completion as the Sipp query route');
    const stream = await openai.completions.create({
      model: 'demo',
      prompt: 'Once upon a time',
      max_tokens: 5,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    assert.equal(text, r.choices[0]!.text);
  });

  it('embeddings: single and batch, float and base64, one vector per input in order', async () => {
    const single = await openai.embeddings.create({ model: 'demo', input: 'hello', encoding_format: 'float' });
    const vec = single.data[0]!.embedding;
    assert.ok(vec.length > 0);
    const batch = await openai.embeddings.create({ model: 'demo', input: ['world', 'hello'], encoding_format: 'float' });
    assert.deepEqual(
      batch.data.map((d) => d.index),
      [0, 1],
    );
    assert.deepEqual(batch.data[1]!.embedding, vec);
    assert.notDeepEqual(batch.data[0]!.embedding, vec);
    const b64 = await openai.embeddings.create({ model: 'demo', input: ['world', 'hello'] });
    b64.data.forEach((d, i) => {
      const expected = Float32Array.from(batch.data[i]!.embedding);
      assert.deepEqual(d.embedding, [...expected], 'base64 decodes to the float32 vector');
    });
    assert.ok(batch.usage.prompt_tokens > single.usage.prompt_tokens);
  });

  it('Anthropic messages finite and streaming on the local target', async () => {
    const m = await anthropic.messages.create({ model: 'demo', max_tokens: 6, system: 'You tell stories.', messages: user });
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(m.usage.output_tokens, 6);
    const final = await anthropic.messages.stream({ model: 'demo', max_tokens: 6, messages: user }).finalMessage();
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.content[0]!.type, 'text');
  });

  it('refuses what a local target cannot honour with a 400 naming the field', async () => {
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const cases: Array<[Promise<unknown>, string]> = [
      [
        openai.chat.completions.create({
          model: 'demo',
          messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, image] }],
        }),
        'messages.0.content.1',
      ],
      [
        openai.chat.completions.create({
          model: 'demo',
          messages: user,
          tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
          tool_choice: { type: 'function', function: { name: 'g' } },
        }),
        'tool_choice.function.name',
      ],
      [
        openai.chat.completions.create({ model: 'demo', messages: user, response_format: { type: 'json_object' } }),
        'response_format',
      ],
      [openai.chat.completions.create({ model: 'demo', messages: user, presence_penalty: 0.5 }), 'presence_penalty'],
      [openai.embeddings.create({ model: 'demo', input: 'x', dimensions: 8 }), 'dimensions'],
    ];
    for (const [call, param] of cases) {
      const err: any = await call.catch((e) => e);
      assert.ok(Object(err) instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param);
    }
    const img: any = await anthropic.messages
      .create({
        model: 'demo',
        max_tokens: 5,
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'see' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            ],
          },
        ],
        system: 'sys',
      })
      .catch((e) => e);
    assert.ok(Object(img) instanceof Anthropic.BadRequestError);
    assert.match(img.error.error.message, /^invalid_request: messages\.2\.content\.1: .*(image|images)\b/);
  });
});
