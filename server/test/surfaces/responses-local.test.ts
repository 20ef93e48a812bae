/**
 * The Responses API on a local target (the generated demo model, through its
 * chat template), with the official SDK: finite and streamed, the stream's
 * text equal to the finite text at temperature 0, max_output_tokens → status
 * incomplete with real usage, and a stored chain continuing on the model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startSurfaceRig, TOKEN, type SurfaceRig } from './setup.js';

describe('the Responses API on a local target', () => {
  let rig: SurfaceRig;
  let client: OpenAI;

  before(async () => {
    rig = await startSurfaceRig({ local: true });
    client = new OpenAI({ baseURL: rig.openaiBase, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await rig?.close();
  });

  it('finite and streamed: same text at temperature 0, max_output_tokens → incomplete, usage from the model', async () => {
    const r = await client.responses.create({
      model: 'demo',
      instructions: 'Tell a story.',
      input: 'Once upon a time',
      max_output_tokens: 6,
      temperature: 0,
    });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details?.reason, 'max_output_tokens');
    assert.ok(r.output_text.length > 0);
    assert.equal(r.usage!.output_tokens, 6);
    assert.ok(r.usage!.input_tokens > 0);

    const stream = client.responses.stream({
      model: 'demo',
      instructions: 'Tell a story.',
      input: 'Once upon a time',
      max_output_tokens: 6,
      temperature: 0,
    });
    const types = new Set<string>();
    for await (const e of stream) types.add(e.type);
    const final = await stream.finalResponse();
    assert.equal(final.output_text, r.output_text, 'same text streamed at temperature 0');
    assert.equal(final.status, 'incomplete');
    assert.ok(types.has('response.incomplete') && types.has('response.output_text.done'));
  });

  it('an image to the text-only model is a 400 naming the input part, nothing stored', async () => {
    const image = 'data:image/png;base64,iVBORw0KGgo=';
    await assert.rejects(
      client.responses.create({
        model: 'demo',
        instructions: 'look',
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'what is this?' },
              { type: 'input_image', image_url: image, detail: 'auto' },
            ],
          },
        ],
      }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as any).param === 'input.0.content.1',
    );
  });

  it('a stored chain continues on the model', async () => {
    const r1 = await client.responses.create({ model: 'demo', input: 'Hello', max_output_tokens: 4, temperature: 0 });
    const r2 = await client.responses.create({
      model: 'demo',
      input: 'And then?',
      previous_response_id: r1.id,
      max_output_tokens: 4,
      temperature: 0,
    });
    assert.equal(r2.previous_response_id, r1.id);
    assert.ok(r2.output_text.length > 0);
    const items = await client.responses.inputItems.list(r2.id, { order: 'asc' });
    assert.deepEqual(
      items.data.map((i: any) => i.role),
      ['user', 'assistant', 'user'],
    );
  });
});
