/**
 * The streamed Responses events are built as text (render.ts): each must be
 * exactly JSON.stringify of the event object OpenAI's shape gives, the
 * Response objects in response.created / response.completed included (same
 * members, same order), whatever the request echoes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResponsesRequest } from '../../src/surfaces/responses/request.js';
import { responseObject, ResponsesStream } from '../../src/surfaces/responses/render.js';

type Json = Record<string, any>;

/** SSE text → [event name, data text]. */
const frames = (text: string): Array<[string, string]> =>
  text
    .split('\n\n')
    .filter((f) => f.length > 0)
    .map((f) => {
      // Split on LF only: a JSON string may hold U+2028, which a regex `.` and `$` treat as a line end.
      const lines = f.split('\n');
      return [lines.find((l) => l.startsWith('event: '))!.slice(7), lines.find((l) => l.startsWith('data: '))!.slice(6)];
    });

const event = (type: string, seq: number, fields: Json) => JSON.stringify({ type, sequence_number: seq, ...fields });
const part = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });
const message = (id: string, status: string, text: string | null) => ({
  id,
  type: 'message',
  status,
  content: text === null ? [] : [part(text)],
  role: 'assistant',
});

const BODIES: Json[] = [
  { model: 'm', input: 'hi', stream: true, store: false },
  {
    model: 'm "quoted" é',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
    instructions: 'Be "brief".\n😀',
    max_output_tokens: 50,
    metadata: { k: 'v\u2028' },
    user: 'u-1',
    temperature: 0.5,
    top_p: 0.9,
    text: { format: { type: 'json_schema', name: 's', schema: { type: 'object' } } },
    tools: [{ type: 'function', name: 'f', description: 'd', parameters: { type: 'object', properties: {} }, strict: true }],
    tool_choice: 'auto',
    reasoning: { effort: 'low' },
    prompt_cache_key: 'pck',
    stream: true,
  },
  // The echo runs are cut from one JSON text at the members `status`, `instructions`, `output`
  // and `usage` (render.ts): a tool's schema and the strings here hold that text too.
  {
    model: 'm',
    input: 'hi',
    instructions: '","output":[],"usage":null,"status":"x',
    metadata: { usage: 'null', output: '[]' },
    user: ',"usage":null,',
    tools: [
      {
        type: 'function',
        name: 'f',
        parameters: { type: 'object', properties: {}, status: 'x', instructions: 1, output: [], usage: null, user: null },
      },
    ],
    stream: true,
  },
];

describe('Responses stream frames built as text', () => {
  for (const [n, body] of BODIES.entries()) {
    for (const finish of ['stop', 'length'] as const) {
      it(`request ${n}, finish ${finish}: every frame is the stringified event object`, () => {
        const req = parseResponsesRequest(body);
        const model = String(body.model);
        const s = new ResponsesStream(req, model);
        const usage = { input_tokens: 8, output_tokens: 3, total_tokens: 11, cache_read_tokens: 2 };
        const text = s.start() + s.token('Hel') + s.token('lo "there"\n') + s.token('✓');
        const final = s.finalResponse({ type: 'end', finishReason: finish }, usage, 3);
        // The text a stored stream keeps, made before the closing events: the object's JSON text.
        assert.equal(s.finalResponseText({ type: 'end', finishReason: finish }, usage, 3), JSON.stringify(final));
        const all = frames(text + s.end({ type: 'end', finishReason: finish }, usage, 3));
        const id = JSON.parse(all[2]![1]).item.id as string;
        const full = 'Hello "there"\n✓';
        const common = { item_id: id, output_index: 0, content_index: 0 };
        const opening = { response: responseObject(req, model, 'in_progress', []) };
        const terminal = finish === 'length' ? 'response.incomplete' : 'response.completed';
        const expected: Array<[string, Json]> = [
          ['response.created', opening],
          ['response.in_progress', opening],
          ['response.output_item.added', { output_index: 0, item: message(id, 'in_progress', null) }],
          ['response.content_part.added', { ...common, part: part('') }],
          ['response.output_text.delta', { ...common, delta: 'Hel', logprobs: [] }],
          ['response.output_text.delta', { ...common, delta: 'lo "there"\n', logprobs: [] }],
          ['response.output_text.delta', { ...common, delta: '✓', logprobs: [] }],
          ['response.output_text.done', { ...common, text: full, logprobs: [] }],
          ['response.content_part.done', { ...common, part: part(full) }],
          ['response.output_item.done', { output_index: 0, item: message(id, 'completed', full) }],
          [terminal, { response: final }],
        ];
        assert.deepEqual(
          all,
          expected.map(([type, fields], seq) => [type, event(type, seq, fields)]),
        );
        assert.equal(final.status, finish === 'length' ? 'incomplete' : 'completed');
      });
    }
  }

  it('a function call between two messages: the output items of response.completed as the object gives them', () => {
    const req = parseResponsesRequest(BODIES[1]!);
    const s = new ResponsesStream(req, 'm');
    let text = s.start() + s.token('a');
    text += s.toolCall({ type: 'tool_call', index: 0, id: 'call_"1"', name: 'f', arguments: '{"x":' });
    text += s.toolCall({ type: 'tool_call', index: 0, arguments: '1}' });
    text += s.token('b');
    const final = s.finalResponse({ type: 'end', finishReason: 'stop' }, undefined, 5);
    assert.equal(s.finalResponseText({ type: 'end', finishReason: 'stop' }, undefined, 5), JSON.stringify(final));
    const all = frames(text + s.end({ type: 'end', finishReason: 'stop' }, undefined, 5));
    assert.equal(all.at(-1)![1], event('response.completed', all.length - 1, { response: final }));
    assert.deepEqual(
      (final.output as Json[]).map((o) => o.type),
      ['message', 'function_call', 'message'],
    );
  });
});
