/**
 * The Response object and the streaming event sequence of the OpenAI
 * Responses API, as OpenAI sends them (docs/api.md#responses):
 *
 *   response.created → response.in_progress →
 *   per output item: response.output_item.added →
 *     message: response.content_part.added → response.output_text.delta… →
 *              response.output_text.done → response.content_part.done
 *     function_call: response.function_call_arguments.delta… → .done
 *   → response.output_item.done … → response.completed (or response.incomplete)
 *
 * A failure after the stream began ends it with response.failed, then an
 * `error` event. Every event carries `sequence_number`.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import type { GatewayError } from '../../errors.js';
import type { EndChunk, ToolCallChunk } from '../surface.js';
import type { TextResult, ToolCall } from '../../targets/target.js';
import { customInput, itemId } from './items.js';
import type { ResponsesRequest } from './request.js';

type Json = Record<string, unknown>;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responsesUsage(u: Usage): ResponsesUsage {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cache_read_tokens ?? 0 },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens,
  };
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/**
 * The Response object; `output`, `usage` and the outcome vary, the rest echoes
 * the request, in OpenAI's member order. One object literal, the one list of
 * those members (the stream's text frames take theirs from it, echoRuns):
 * spreading runs of members into it made V8 add them one by one at run time,
 * the costliest step of a finite response (docs/architecture.md#cost-per-request).
 */
export function responseObject(
  req: ResponsesRequest,
  model: string,
  status: ResponseStatus,
  output: Json[],
  extra: { usage?: ResponsesUsage | null; error?: { code: string; message: string } | null; incomplete?: string | null } = {},
): Json {
  const e = req.echo;
  return {
    id: req.id,
    object: 'response',
    created_at: req.createdAt,
    status,
    background: false,
    error: extra.error ?? null,
    incomplete_details: extra.incomplete ? { reason: extra.incomplete } : null,
    instructions: e.instructions,
    max_output_tokens: e.max_output_tokens,
    max_tool_calls: null,
    model,
    output,
    parallel_tool_calls: e.parallel_tool_calls,
    previous_response_id: e.previous_response_id,
    prompt_cache_key: e.prompt_cache_key,
    reasoning: e.reasoning,
    safety_identifier: e.safety_identifier,
    service_tier: 'default',
    store: e.store,
    temperature: e.temperature,
    text: e.text,
    tool_choice: e.tool_choice,
    tools: e.tools,
    top_logprobs: 0,
    top_p: e.top_p,
    truncation: e.truncation,
    usage: extra.usage ?? null,
    user: e.user,
    metadata: e.metadata,
  };
}

/**
 * What responseObject echoes of the request, as the JSON text of the four runs
 * of members (without braces) that surround `status`…`incomplete_details`,
 * `output` and `usage`: one JSON.stringify of the opening object, cut where
 * those members are (once per stream). Only gateway-made members come before
 * `instructions` and only scalars between it and `output`, so the first
 * `,"output":[],` is the member itself; only `user` (a string) and `metadata`
 * (string keys and values) follow `usage`, so its member is the last
 * `,"usage":null,` (a tool's schema in the run before may hold that text too).
 * A JSON string never holds an unescaped quote, so no string matches either.
 */
function echoRuns(req: ResponsesRequest, model: string): Record<'head' | 'middle' | 'tail' | 'trailer', string> {
  const text = JSON.stringify(responseObject(req, model, 'in_progress', []));
  const status = text.indexOf(',"status":');
  const middle = text.indexOf(',"instructions":') + 1;
  const output = text.indexOf(',"output":[],', middle);
  const usage = text.lastIndexOf(',"usage":null,');
  return {
    head: text.slice(1, status),
    middle: text.slice(middle, output),
    tail: text.slice(output + ',"output":[],'.length, usage),
    trailer: text.slice(usage + ',"usage":null,'.length, -1),
  };
}

/** `length` ends a response early: status `incomplete`, reason `max_output_tokens`; content_filter likewise. */
function outcome(reason: FinishReason): { status: ResponseStatus; incomplete: string | null } {
  if (reason === 'length') return { status: 'incomplete', incomplete: 'max_output_tokens' };
  if (reason === 'content_filter') return { status: 'incomplete', incomplete: 'content_filter' };
  return { status: 'completed', incomplete: null };
}

const textPart = (text: string): Json => ({ type: 'output_text', annotations: [], logprobs: [], text });

function messageItem(id: string, status: string, text: string | null): Json {
  return { id, type: 'message', status, content: text === null ? [] : [textPart(text)], role: 'assistant' };
}

function callItem(id: string, status: string, call: ToolCall): Json {
  return { id, type: 'function_call', status, arguments: call.arguments, call_id: call.id, name: call.name };
}

/** A call of a `custom` tool: its freeform `input` is the translated function's `input` argument. */
function customItem(id: string, status: string, call: ToolCall, input: string): Json {
  return { id, type: 'custom_tool_call', status, call_id: call.id, name: call.name, input };
}

/** A finite result as the Response object. */
export function renderResponse(req: ResponsesRequest, model: string, result: TextResult): Json {
  const output: Json[] = [];
  if (result.text || !result.toolCalls?.length) output.push(messageItem(itemId('msg'), 'completed', result.text));
  for (const c of result.toolCalls ?? []) {
    output.push(
      req.customTools.has(c.name)
        ? customItem(itemId('ctc'), 'completed', c, customInput(c.arguments))
        : callItem(itemId('fc'), 'completed', c),
    );
  }
  const { status, incomplete } = outcome(result.finishReason);
  return responseObject(req, model, status, output, { usage: result.usage ? responsesUsage(result.usage) : null, incomplete });
}

/**
 * One SSE frame: OpenAI names each event and repeats its type in the data,
 * then `sequence_number`, then `members`: the event's other members as JSON
 * text without the braces. `type` is one of the fixed event names (nothing to escape).
 */
function frameOf(type: string, seq: number, members: string): string {
  return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq}${members ? `,${members}` : ''}}\n\n`;
}

/** The members of a JSON object, as text without its braces. */
const members = (fields: Json): string => JSON.stringify(fields).slice(1, -1);

function frame(type: string, seq: number, fields: Json): string {
  return frameOf(type, seq, members(fields));
}

interface OpenItem {
  kind: 'message' | 'function_call' | 'custom_tool_call';
  id: string;
  index: number;
  text: string;
  call?: ToolCall;
  /** The target's tool-call index (function calls). */
  callIndex?: number;
  done: boolean;
}

/** `textPart(text)` as JSON text, given `text` as JSON. */
const textPartText = (quoted: string): string => `{"type":"output_text","annotations":[],"logprobs":[],"text":${quoted}}`;

/**
 * The event sequence of one streamed response. `onEnd` runs with the final
 * Response object before the closing events are written (storing it, so a
 * chained request sent right after the stream sees it).
 *
 * The frames are built as text (docs/architecture.md#streams): what the
 * Response object echoes of the request is serialized once per stream, item
 * ids are letters, digits and `_` (nothing to escape), and every string that
 * came from the model or the request goes through JSON.stringify. The result
 * is the same text as JSON.stringify of responseObject and the item objects
 * (render test).
 */
export class ResponsesStream {
  private seq = 0;
  private readonly items: OpenItem[] = [];
  private current: OpenItem | null = null;
  /** The Response object's members around `status`…`output` (see responseText), once per stream. */
  private readonly head: string;
  private readonly middle: string;
  private readonly tail: string;
  private readonly trailer: string;

  constructor(
    private readonly req: ResponsesRequest,
    private readonly model: string,
  ) {
    const r = echoRuns(req, model);
    this.head = r.head;
    this.middle = r.middle;
    this.tail = r.tail;
    this.trailer = r.trailer;
  }

  private ev(type: string, fields: Json): string {
    return frame(type, this.seq++, fields);
  }

  /** An event whose members are already JSON text (the frequent deltas, a body sent twice). */
  private evText(type: string, members: string): string {
    return frameOf(type, this.seq++, members);
  }

  /** responseObject(…) as JSON text: `status`, the outcome (JSON text each) and the output items' text. */
  private responseText(status: ResponseStatus, output: string, usage: string, incomplete: string | null): string {
    const details = incomplete === null ? 'null' : `{"reason":"${incomplete}"}`;
    return (
      `{${this.head},"status":"${status}","background":false,"error":null,"incomplete_details":${details},` +
      `${this.middle},"output":[${output}],${this.tail},"usage":${usage}${this.trailer ? `,${this.trailer}` : ''}}`
    );
  }

  private snapshot(status: ResponseStatus, extra: Parameters<typeof responseObject>[4] = {}): Json {
    return responseObject(
      this.req,
      this.model,
      status,
      this.items.map((i) => this.itemJson(i, i.done ? 'completed' : 'in_progress')),
      extra,
    );
  }

  private itemJson(i: OpenItem, status: string): Json {
    if (i.kind === 'message') return messageItem(i.id, status, i.text);
    if (i.kind === 'custom_tool_call')
      return customItem(i.id, status, i.call!, status === 'completed' ? customInput(i.call!.arguments) : '');
    return callItem(i.id, status, i.call!);
  }

  /** itemJson(i, status) as JSON text; `quoted` is the message text as JSON when already made. */
  private itemText(i: OpenItem, status: string, quoted?: string): string {
    if (i.kind !== 'message') return JSON.stringify(this.itemJson(i, status));
    return `{"id":"${i.id}","type":"message","status":"${status}","content":[${textPartText(quoted ?? JSON.stringify(i.text))}],"role":"assistant"}`;
  }

  start(): string {
    const created = `"response":${this.responseText('in_progress', '', 'null', null)}`;
    return this.evText('response.created', created) + this.evText('response.in_progress', created);
  }

  private close(): string {
    const i = this.current;
    if (!i) return '';
    this.current = null;
    i.done = true;
    let out = '';
    let quoted: string | undefined;
    if (i.kind === 'message') {
      quoted = JSON.stringify(i.text);
      const common = `"item_id":"${i.id}","output_index":${i.index},"content_index":0`;
      out += this.evText('response.output_text.done', `${common},"text":${quoted},"logprobs":[]`);
      out += this.evText('response.content_part.done', `${common},"part":${textPartText(quoted)}`);
    } else if (i.kind === 'custom_tool_call') {
      // The input is known once the translated arguments are complete: one delta, then done.
      const input = customInput(i.call!.arguments);
      const common = { item_id: i.id, output_index: i.index };
      if (input) out += this.ev('response.custom_tool_call_input.delta', { ...common, delta: input });
      out += this.ev('response.custom_tool_call_input.done', { ...common, input });
    } else {
      out += this.ev('response.function_call_arguments.done', {
        item_id: i.id,
        output_index: i.index,
        name: i.call!.name,
        arguments: i.call!.arguments,
      });
    }
    return (
      out + this.evText('response.output_item.done', `"output_index":${i.index},"item":${this.itemText(i, 'completed', quoted)}`)
    );
  }

  token(text: string): string {
    let out = '';
    let i = this.current;
    if (!i || i.kind !== 'message') {
      out += this.close();
      i = { kind: 'message', id: itemId('msg'), index: this.items.length, text: '', done: false };
      this.items.push(i);
      this.current = i;
      out += this.evText(
        'response.output_item.added',
        `"output_index":${i.index},"item":{"id":"${i.id}","type":"message","status":"in_progress","content":[],"role":"assistant"}`,
      );
      out += this.evText(
        'response.content_part.added',
        `"item_id":"${i.id}","output_index":${i.index},"content_index":0,"part":${textPartText('""')}`,
      );
    }
    i.text += text;
    return (
      out +
      this.evText(
        'response.output_text.delta',
        `"item_id":"${i.id}","output_index":${i.index},"content_index":0,"delta":${JSON.stringify(text)},"logprobs":[]`,
      )
    );
  }

  toolCall(c: ToolCallChunk): string {
    let out = '';
    let i = this.items.find((x) => x.kind !== 'message' && x.callIndex === c.index && !x.done);
    if (!i) {
      out += this.close();
      const call: ToolCall = { id: c.id ?? itemId('call'), name: c.name ?? '', arguments: '' };
      const custom = this.req.customTools.has(call.name);
      i = {
        kind: custom ? 'custom_tool_call' : 'function_call',
        id: itemId(custom ? 'ctc' : 'fc'),
        index: this.items.length,
        text: '',
        call,
        callIndex: c.index,
        done: false,
      };
      this.items.push(i);
      this.current = i;
      out += this.ev('response.output_item.added', { output_index: i.index, item: this.itemJson(i, 'in_progress') });
    } else if (c.name && !i.call!.name) {
      i.call!.name = c.name;
    }
    if (c.arguments) {
      i.call!.arguments += c.arguments;
      if (i.kind === 'function_call')
        out += this.evText(
          'response.function_call_arguments.delta',
          `"item_id":"${i.id}","output_index":${i.index},"delta":${JSON.stringify(c.arguments)}`,
        );
    }
    return out;
  }

  /** The final Response object for an `end` chunk (finalResponseText() is its text; the closing events come from `end`). */
  finalResponse(chunk: EndChunk, usage: Usage | undefined, outputTokens: number): Json {
    const { status, incomplete } = outcome(chunk.finishReason);
    return this.snapshotAll(status, { usage: responsesUsage(finalUsage(usage, outputTokens)), incomplete });
  }

  private snapshotAll(status: ResponseStatus, extra: Parameters<typeof responseObject>[4]): Json {
    return responseObject(
      this.req,
      this.model,
      status,
      this.items.map((i) => this.itemJson(i, 'completed')),
      extra,
    );
  }

  /**
   * finalResponse() as JSON text, without closing anything (the stream can still
   * fail before its closing events go out): what response.completed /
   * response.incomplete carries and what a stored stream keeps, built once.
   */
  finalResponseText(chunk: EndChunk, usage: Usage | undefined, outputTokens: number): string {
    const { status, incomplete } = outcome(chunk.finishReason);
    const usageText = JSON.stringify(responsesUsage(finalUsage(usage, outputTokens)));
    const output = this.items.map((i) => this.itemText(i, 'completed')).join(',');
    return this.responseText(status, output, usageText, incomplete);
  }

  /**
   * Closing events for an `end` chunk: the open item's done events, then
   * response.completed / response.incomplete carrying the Response object
   * finalResponse() makes, written as text (`response`: finalResponseText's,
   * when the caller already made it).
   */
  end(
    chunk: EndChunk,
    usage: Usage | undefined,
    outputTokens: number,
    response: string = this.finalResponseText(chunk, usage, outputTokens),
  ): string {
    const type = outcome(chunk.finishReason).status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return this.close() + this.evText(type, `"response":${response}`);
  }

  error(e: GatewayError): string {
    const error = { code: e.status === 429 ? 'rate_limit_exceeded' : 'server_error', message: e.message };
    return (
      this.ev('response.failed', { response: this.snapshot('failed', { error }) }) +
      this.ev('error', { code: e.code, message: e.message, param: null })
    );
  }
}

const finalUsage = (usage: Usage | undefined, outputTokens: number): Usage =>
  usage ?? { input_tokens: 0, output_tokens: outputTokens, total_tokens: outputTokens };

/** The terminal event of a kept response, by its status. */
const TERMINAL: Readonly<Record<string, string>> = {
  completed: 'response.completed',
  incomplete: 'response.incomplete',
  failed: 'response.failed',
};

/**
 * A kept Response object as the streaming event sequence a streamed create
 * sends (`GET {path}/{id}?stream=true`, docs/api.md#responses): the opening
 * events, each output item's events (every text part and every argument string
 * as one delta), then the terminal event carrying the object as kept. Only the
 * events after sequence number `startingAfter` are written (`starting_after`).
 */
export function replayStream(response: Json, startingAfter = -1): string {
  let seq = 0;
  let out = '';
  const ev = (type: string, fields: Json): void => {
    const n = seq++;
    if (n > startingAfter) out += frame(type, n, fields);
  };
  const opening = { ...response, status: 'in_progress', output: [], usage: null, error: null, incomplete_details: null };
  ev('response.created', { response: opening });
  ev('response.in_progress', { response: opening });
  const output = Array.isArray(response.output) ? (response.output as Json[]) : [];
  output.forEach((item, index) => {
    const id = item.id;
    if (item.type === 'message') {
      const parts = Array.isArray(item.content) ? (item.content as Json[]) : [];
      ev('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', content: [] } });
      parts.forEach((part, content_index) => {
        const common = { item_id: id, output_index: index, content_index };
        if (part.type === 'output_text') {
          const text = typeof part.text === 'string' ? part.text : '';
          ev('response.content_part.added', { ...common, part: { ...part, text: '' } });
          if (text) ev('response.output_text.delta', { ...common, delta: text, logprobs: [] });
          ev('response.output_text.done', { ...common, text, logprobs: [] });
        } else if (part.type === 'refusal') {
          const refusal = typeof part.refusal === 'string' ? part.refusal : '';
          ev('response.content_part.added', { ...common, part: { ...part, refusal: '' } });
          if (refusal) ev('response.refusal.delta', { ...common, delta: refusal });
          ev('response.refusal.done', { ...common, refusal });
        } else {
          ev('response.content_part.added', { ...common, part });
        }
        ev('response.content_part.done', { ...common, part });
      });
    } else if (item.type === 'function_call') {
      const args = typeof item.arguments === 'string' ? item.arguments : '';
      const common = { item_id: id, output_index: index };
      ev('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', arguments: '' } });
      if (args) ev('response.function_call_arguments.delta', { ...common, delta: args });
      ev('response.function_call_arguments.done', { ...common, name: item.name, arguments: args });
    } else if (item.type === 'custom_tool_call') {
      const input = typeof item.input === 'string' ? item.input : '';
      const common = { item_id: id, output_index: index };
      ev('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', input: '' } });
      if (input) ev('response.custom_tool_call_input.delta', { ...common, delta: input });
      ev('response.custom_tool_call_input.done', { ...common, input });
    } else {
      ev('response.output_item.added', { output_index: index, item });
    }
    ev('response.output_item.done', { output_index: index, item });
  });
  ev(TERMINAL[String(response.status)] ?? 'response.completed', { response });
  return out;
}
