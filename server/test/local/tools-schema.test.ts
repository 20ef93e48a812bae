/**
 * Tools on local targets, the translation parts (no model): a tool's JSON
 * Schema becomes the grammar schema node-llama-cpp understands, and a
 * conversation with tool calls and results becomes chat history in which each
 * call carries its result.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { toChatFunctions, toChatHistory, toGrammarSchema } from '../../src/targets/local/tools.js';
import type { Message } from '../../src/targets/target.js';

const ANY = {
  oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'array' }, { type: 'object', additionalProperties: true }],
};

describe('toGrammarSchema', () => {
  it('keeps required-only objects as one object with every property', () => {
    const schema = {
      type: 'object',
      description: 'where',
      properties: { city: { type: 'string', description: 'the city' }, days: { type: 'integer', minimum: 1 } },
      required: ['city', 'days'],
    };
    assert.deepEqual(toGrammarSchema(schema), {
      type: 'object',
      description: 'where',
      properties: { city: { type: 'string', description: 'the city' }, days: { type: 'integer' } },
    });
  });

  it('lets the model leave optional properties out: one alternative per subset (in order), or all/required-only beyond 3', () => {
    const out = toGrammarSchema({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'number' }, c: { type: 'boolean' } },
      required: ['a'],
    }) as unknown as { oneOf: Array<{ properties: object }> };
    assert.deepEqual(
      out.oneOf.map((v) => Object.keys(v.properties).join('')),
      ['a', 'ab', 'ac', 'abc'],
    );
    const many = toGrammarSchema({
      type: 'object',
      properties: {
        r: { type: 'string' },
        o1: { type: 'string' },
        o2: { type: 'string' },
        o3: { type: 'string' },
        o4: { type: 'string' },
      },
      required: ['r'],
    }) as unknown as { oneOf: Array<{ properties: object }> };
    assert.deepEqual(
      many.oneOf.map((v) => Object.keys(v.properties)),
      [['r'], ['r', 'o1', 'o2', 'o3', 'o4']],
    );
  });

  it('translates anyOf, type lists, nullable, enums, consts, arrays, string limits and date formats', () => {
    assert.deepEqual(toGrammarSchema({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), {
      oneOf: [{ type: 'string' }, { type: 'integer' }],
    });
    assert.deepEqual(toGrammarSchema({ type: ['string', 'null'] }), { type: ['string', 'null'] });
    assert.deepEqual(toGrammarSchema({ type: ['object', 'null'] }), {
      oneOf: [{ type: 'object', properties: {} }, { type: 'null' }],
    });
    assert.deepEqual(toGrammarSchema({ type: 'string', nullable: true }), { oneOf: [{ type: 'string' }, { type: 'null' }] });
    assert.deepEqual(toGrammarSchema({ enum: ['c', 'f'] }), { enum: ['c', 'f'] });
    assert.deepEqual(toGrammarSchema({ const: 3 }), { const: 3 });
    assert.deepEqual(toGrammarSchema({ type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 }), {
      type: 'array',
      items: { type: 'string', maxLength: 8 },
      maxItems: 3,
    });
    assert.deepEqual(toGrammarSchema({ type: 'string', format: 'date', pattern: '^x' }), { type: 'string', format: 'date' });
    assert.deepEqual(toGrammarSchema({ type: 'string', format: 'email' }), { type: 'string' });
  });

  it('moves definitions into $defs and points references at them', () => {
    const out = toGrammarSchema({
      type: 'object',
      properties: { p: { $ref: '#/definitions/Point' } },
      required: ['p'],
      definitions: { Point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
    });
    assert.deepEqual(out, {
      type: 'object',
      properties: { p: { $ref: '#/$defs/Point' } },
      $defs: { Point: { type: 'object', properties: { x: { type: 'number' } } } },
    });
  });

  it('allows any JSON value where the schema says nothing it can enforce (never null-only)', () => {
    assert.deepEqual(toGrammarSchema({}), ANY);
    assert.deepEqual(toGrammarSchema({ allOf: [{ type: 'string' }, { minLength: 2 }] }), ANY);
    assert.deepEqual(toGrammarSchema({ $ref: 'https://example.com/schema' }), ANY);
    assert.deepEqual(toGrammarSchema({ enum: [{ a: 1 }] }), ANY);
    assert.deepEqual(toGrammarSchema({ allOf: [{ type: 'boolean' }] }), { type: 'boolean' });
  });

  it('makes chat functions: description kept, no parameters means none', () => {
    assert.deepEqual(
      toChatFunctions([{ name: 'now' }, { name: 'f', description: 'd', parameters: { type: 'object', properties: {} } }]),
      {
        now: {},
        f: { description: 'd', params: { type: 'object', properties: {} } },
      },
    );
  });
});

describe('toChatHistory', () => {
  const call = (id: string, name: string, args: string) => ({ id, name, arguments: args });

  it('gives each call its result, continues the tool turn at the end, and merges the answer after results into that turn', () => {
    const messages: Message[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: 'checking',
        toolCalls: [call('a', 'get_weather', '{"city":"Paris"}'), call('b', 'get_time', '')],
      },
      { role: 'tool', toolCallId: 'b', content: 'noon' },
      { role: 'tool', toolCallId: 'a', content: '{"temp": 21}', isError: false },
    ];
    const { history, continuesToolTurn } = toChatHistory(messages);
    assert.equal(continuesToolTurn, true);
    assert.deepEqual(history, [
      { type: 'system', text: 'be brief' },
      { type: 'user', text: 'weather?' },
      {
        type: 'model',
        response: [
          'checking',
          { type: 'functionCall', name: 'get_weather', params: { city: 'Paris' }, result: { temp: 21 }, startsNewChunk: true },
          { type: 'functionCall', name: 'get_time', params: undefined, result: 'noon' },
        ],
      },
    ]);

    const more = toChatHistory([
      ...messages,
      { role: 'assistant', content: 'It is 21 degrees.' },
      { role: 'user', content: 'thanks' },
    ]);
    assert.equal(more.continuesToolTurn, false);
    assert.equal(more.history.length, 5);
    assert.deepEqual((more.history[2] as { response: unknown[] }).response.at(-1), 'It is 21 degrees.');
    assert.deepEqual(more.history.at(-1), { type: 'model', response: [] });
  });

  it('marks error results', () => {
    const { history } = toChatHistory([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: '', toolCalls: [call('a', 'f', '{}')] },
      { role: 'tool', toolCallId: 'a', content: 'boom', isError: true },
    ]);
    assert.deepEqual((history[1] as { response: Array<{ result: unknown }> }).response[0]!.result, { error: 'boom' });
  });

  it('refuses a tool result for an unknown call and arguments that are not JSON, naming the message', () => {
    const unknown = (): unknown =>
      toChatHistory([
        { role: 'user', content: 'x' },
        { role: 'tool', toolCallId: 'nope', content: 'r' },
      ]);
    assert.throws(
      unknown,
      (e: unknown) =>
        e instanceof GatewayError && /^messages\.1: tool result for an unknown tool call id "nope"$/.test(e.message),
    );
    const bad = (): unknown =>
      toChatHistory([
        { role: 'user', content: 'x' },
        { role: 'assistant', content: '', toolCalls: [call('a', 'f', '{oops')] },
      ]);
    assert.throws(
      bad,
      (e: unknown) => e instanceof GatewayError && /^messages\.1\.tool_calls\.0\.arguments: not valid JSON$/.test(e.message),
    );
  });
});
