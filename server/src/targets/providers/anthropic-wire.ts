/**
 * Anthropic Messages API wire format: request bodies built from the gateway's
 * validated requests, responses and the streaming event sequence read back.
 * Pure functions; the HTTP exchange lives in upstream-client.ts.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import type { IgnorableField } from '../ignored.js';
import type { Content, GenerationOptions, Message, StreamChunk, TextRequest, TextResult, ToolCall } from '../target.js';
import {
  count,
  isObject,
  malformedStream,
  normalizeReason,
  parseStreamData,
  streamEndedEarly,
  unexpectedResponse,
  upstreamContentError,
  type Json,
} from './wire-shape.js';

/**
 * Anthropic requires `max_tokens` on every request; the gateway's API makes it
 * optional, so requests without one get this budget.
 */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

const STOP_REASONS: ReadonlyMap<string, FinishReason> = new Map([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  ['max_tokens', 'length'],
  ['model_context_window_exceeded', 'length'],
  ['tool_use', 'tool_calls'],
  ['refusal', 'content_filter'],
]);

export function anthropicStopReason(raw: unknown): FinishReason {
  return normalizeReason(raw, STOP_REASONS, 'stop');
}

/** Input tokens include prompt-cache reads and writes, which Anthropic counts separately. */
function inputTokens(usage: Json): number {
  return count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + count(usage.cache_read_input_tokens);
}

function usageOf(input: number, output: number, cache?: CacheCounts): Usage {
  const u: Usage = { input_tokens: input, output_tokens: output, total_tokens: input + output };
  if (cache?.read) u.cache_read_tokens = cache.read;
  if (cache?.write) u.cache_write_tokens = cache.write;
  return u;
}

/** Prompt-cache reads and writes, priced apart (docs/budgets.md#cost). */
interface CacheCounts {
  read: number;
  write: number;
}

function cacheOf(usage: Json): CacheCounts {
  return { read: count(usage.cache_read_input_tokens), write: count(usage.cache_creation_input_tokens) };
}

type Block = Json;

interface AnthropicMessage {
  role: 'user' | 'assistant';
  /** A string while every merged message was plain text (the pre-blocks form, kept byte for byte). */
  content: string | Block[];
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `${field}: ${message}`);
}

/** Content parts → `text` / `image` blocks (base64 or URL source; OpenAI's `detail` has no equivalent). */
function blocksOf(content: Content): Block[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((part) => {
    if (part.type === 'text') return { type: 'text', text: part.text };
    const src = part.source;
    return {
      type: 'image',
      source:
        src.kind === 'base64' ? { type: 'base64', media_type: src.mediaType, data: src.data } : { type: 'url', url: src.url },
    };
  });
}

/** A system message's text: Anthropic's `system` takes text only. */
function systemText(content: Content, index: number): string {
  if (typeof content === 'string') return content;
  let text = '';
  content.forEach((part, j) => {
    if (part.type !== 'text')
      throw invalid(`messages.${index}.content.${j}`, 'anthropic targets take text only in system messages');
    text += part.text;
  });
  return text;
}

/** Tool call arguments (JSON text) → the `input` object a `tool_use` block needs; "" means no arguments. */
function toolInput(call: ToolCall, index: number, k: number): Json {
  if (call.arguments.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(call.arguments);
  } catch {
    throw invalid(
      `messages.${index}.tool_calls.${k}.arguments`,
      'must be a JSON object for anthropic targets (it is not valid JSON)',
    );
  }
  if (!isObject(input))
    throw invalid(`messages.${index}.tool_calls.${k}.arguments`, 'must be a JSON object for anthropic targets');
  return input;
}

/** One gateway message → the Anthropic turn it belongs to and its content. */
function anthropicTurn(m: Exclude<Message, { role: 'system' }>, index: number): AnthropicMessage {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: typeof m.content === 'string' ? m.content : blocksOf(m.content) };
    case 'assistant': {
      if (!m.toolCalls || m.toolCalls.length === 0)
        return { role: 'assistant', content: typeof m.content === 'string' ? m.content : blocksOf(m.content) };
      const uses = m.toolCalls.map((c, k) => ({ type: 'tool_use', id: c.id, name: c.name, input: toolInput(c, index, k) }));
      return { role: 'assistant', content: [...blocksOf(m.content), ...uses] };
    }
    case 'tool': {
      const result: Block = {
        type: 'tool_result',
        tool_use_id: m.toolCallId,
        content: typeof m.content === 'string' ? m.content : blocksOf(m.content),
      };
      if (m.isError) result.is_error = true;
      return { role: 'user', content: [result] };
    }
  }
}

/** Appends a turn, merging it into the previous one of the same role (the API wants user and assistant to alternate). */
function appendTurn(messages: AnthropicMessage[], turn: AnthropicMessage): void {
  const last = messages[messages.length - 1];
  if (!last || last.role !== turn.role) {
    messages.push(turn);
  } else if (typeof last.content === 'string' && typeof turn.content === 'string') {
    last.content = `${last.content}\n\n${turn.content}`;
  } else {
    const asBlocks = (c: string | Block[]): Block[] => (typeof c === 'string' ? blocksOf(c) : c);
    last.content = [...asBlocks(last.content), ...asBlocks(turn.content)];
  }
}

function addToolOptions(body: Json, o: GenerationOptions): void {
  if (o.tools !== undefined && o.tools.length > 0) {
    body.tools = o.tools.map((t) => {
      const tool: Json = { name: t.name };
      if (t.description !== undefined) tool.description = t.description;
      // input_schema is mandatory on Anthropic; a tool without parameters takes an empty object.
      tool.input_schema = t.parameters ?? { type: 'object', properties: {} };
      return tool;
    });
  }
  let choice: Json | undefined;
  switch (o.toolChoice?.type) {
    case undefined:
      // Only needed to carry disable_parallel_tool_use when tools are offered.
      if (o.parallelToolCalls === false && body.tools !== undefined) choice = { type: 'auto' };
      break;
    case 'auto':
      choice = { type: 'auto' };
      break;
    case 'required':
      choice = { type: 'any' };
      break;
    case 'none':
      choice = { type: 'none' };
      break;
    case 'tool':
      choice = { type: 'tool', name: o.toolChoice.name };
      break;
  }
  if (choice && o.parallelToolCalls === false && choice.type !== 'none') choice.disable_parallel_tool_use = true;
  if (choice) body.tool_choice = choice;
}

/**
 * Messages body. System messages (wherever they appear) are lifted into
 * `system`, joined by a blank line; consecutive messages of the same role are
 * merged (text by a blank line, blocks appended), since the API expects user
 * and assistant to alternate. Tool results become `tool_result` blocks of a
 * user turn, assistant tool calls `tool_use` blocks. Anthropic has no `seed`:
 * a request with one is refused (the capability check refuses it first).
 */
export function messagesBody(model: string, req: TextRequest, stream: boolean, ignore?: (field: IgnorableField) => void): Json {
  const messages: AnthropicMessage[] = [];
  const system: string[] = [];
  if (req.operation === 'query') {
    messages.push({ role: 'user', content: req.prompt });
  } else {
    req.messages.forEach((m, i) => {
      if (m.role === 'system') system.push(systemText(m.content, i));
      else appendTurn(messages, anthropicTurn(m, i));
    });
    if (messages.length === 0) {
      throw new GatewayError('invalid_request', 'messages: anthropic targets need at least one user or assistant message');
    }
  }
  const o = req.options;
  if (o.seed !== undefined) throw invalid('seed', 'anthropic targets do not support seed');
  const body: Json = { model, max_tokens: o.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS, messages };
  if (system.length > 0) body.system = system.join('\n\n');
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.topP !== undefined) body.top_p = o.topP;
  if (o.stop !== undefined && o.stop.length > 0) body.stop_sequences = o.stop;
  addToolOptions(body, o);
  if (o.user !== undefined) body.metadata = { user_id: o.user };
  if (o.reasoning !== undefined) {
    const thinking = thinkingOf(o.reasoning, body.max_tokens as number);
    if (thinking) body.thinking = thinking;
    else for (const f of o.reasoning.from ?? ['reasoning']) ignore?.(f);
  }
  if (stream) body.stream = true;
  return body;
}

/** Budget of thinking tokens per reasoning effort (Anthropic's minimum budget is 1024). */
const EFFORT_BUDGET = { minimal: 1024, low: 2048, medium: 8192, high: 16384 } as const;

/**
 * The reasoning hint as Anthropic `thinking` (docs/api.md#ignored-fields):
 * adaptive stays adaptive; an effort or budget becomes `enabled` with a
 * budget below `max_tokens` (the API's rule); null when `max_tokens` leaves no
 * room for the minimum budget (then the hint is ignored).
 */
export function thinkingOf(r: NonNullable<GenerationOptions['reasoning']>, maxTokens: number): Json | null {
  if (r.adaptive && r.budgetTokens === undefined) return { type: 'adaptive' };
  const wanted = r.budgetTokens ?? EFFORT_BUDGET[r.effort ?? 'medium'];
  const budget = Math.min(wanted, maxTokens - 1);
  return budget >= 1024 ? { type: 'enabled', budget_tokens: budget } : null;
}

export function readMessage(json: unknown): TextResult {
  if (!isObject(json) || !Array.isArray(json.content)) throw unexpectedResponse();
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of json.content as unknown[]) {
    if (!isObject(block)) throw unexpectedResponse();
    if (block.type === 'text') {
      if (typeof block.text !== 'string') throw unexpectedResponse();
      text += block.text;
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) throw unexpectedResponse();
      toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    }
  }
  const result: TextResult = { text, finishReason: anthropicStopReason(json.stop_reason) };
  if (typeof json.id === 'string') result.id = json.id;
  if (toolCalls.length > 0) result.toolCalls = toolCalls;
  if (json.stop_reason === 'stop_sequence' && typeof json.stop_sequence === 'string') result.stopSequence = json.stop_sequence;
  if (isObject(json.usage)) result.usage = usageOf(inputTokens(json.usage), count(json.usage.output_tokens), cacheOf(json.usage));
  return result;
}

const ERROR_TYPE = /^[a-z_]{1,40}$/;

/**
 * Folds the Messages streaming event sequence: message_start (id, input
 * usage), content_block_start (a `tool_use` block starts a tool call: id,
 * name) / content_block_delta (text_delta; input_json_delta carries more of
 * the call's arguments) / content_block_stop, message_delta (stop_reason,
 * stop_sequence, output usage),
 * message_stop, interleaved `ping`s, or an `error` event. Unknown event types
 * are ignored, as Anthropic's versioning policy asks of clients.
 */
export class AnthropicStreamReader {
  private id: string | undefined;
  private input = 0;
  private output = 0;
  private cache: CacheCounts = { read: 0, write: 0 };
  private sawUsage = false;
  private stop: FinishReason | undefined;
  private stopSequence: string | undefined;
  private done = false;
  /** Content block index → tool call index (tool calls counted from 0). */
  private readonly toolBlocks = new Map<number, number>();

  accept(data: string): StreamChunk[] {
    if (this.done) return [];
    const chunk = this.read(data);
    return chunk ? [chunk] : [];
  }

  private read(data: string): StreamChunk | null {
    const event = parseStreamData(data);
    switch (event.type) {
      case 'message_start': {
        const message = event.message;
        if (!isObject(message)) throw unexpectedResponse();
        if (typeof message.id === 'string') this.id = message.id;
        if (isObject(message.usage)) {
          this.sawUsage = true;
          this.input = inputTokens(message.usage);
          this.cache = cacheOf(message.usage);
          this.output = count(message.usage.output_tokens);
        }
        return null;
      }
      case 'content_block_start': {
        const block = event.content_block;
        if (!isObject(block) || block.type !== 'tool_use') return null;
        if (!Number.isInteger(event.index) || typeof block.id !== 'string' || typeof block.name !== 'string')
          throw malformedStream();
        const index = this.toolBlocks.size;
        this.toolBlocks.set(event.index as number, index);
        // The block's `input` is `{}` here; the arguments follow as input_json_delta text.
        return { type: 'tool_call', index, id: block.id, name: block.name, arguments: '' };
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (isObject(delta) && delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text.length > 0) {
          return { type: 'token', text: delta.text };
        }
        if (isObject(delta) && delta.type === 'input_json_delta') {
          const index = this.toolBlocks.get(event.index as number);
          if (index === undefined || typeof delta.partial_json !== 'string') throw malformedStream();
          return delta.partial_json.length > 0 ? { type: 'tool_call', index, arguments: delta.partial_json } : null;
        }
        return null;
      }
      case 'message_delta': {
        if (isObject(event.delta) && event.delta.stop_reason != null) {
          this.stop = anthropicStopReason(event.delta.stop_reason);
          if (event.delta.stop_reason === 'stop_sequence' && typeof event.delta.stop_sequence === 'string')
            this.stopSequence = event.delta.stop_sequence;
        }
        if (isObject(event.usage)) {
          this.sawUsage = true;
          // Cumulative counts; newer API versions may restate input here too.
          if (typeof event.usage.output_tokens === 'number') this.output = count(event.usage.output_tokens);
          if (typeof event.usage.input_tokens === 'number') {
            this.input = inputTokens(event.usage);
            this.cache = cacheOf(event.usage);
          }
        }
        return null;
      }
      case 'message_stop':
        this.done = true;
        return null;
      case 'error': {
        const type = isObject(event.error) ? event.error.type : undefined;
        const suffix = typeof type === 'string' && ERROR_TYPE.test(type) ? ` (${type})` : '';
        throw upstreamContentError(`upstream reported an error mid-stream${suffix}`);
      }
      default:
        return null; // ping, content_block_stop, future event types
    }
  }

  /** The body ended cleanly: message_stop or at least a stop reason must have been seen. */
  end(): StreamChunk {
    if (!this.done && this.stop === undefined) throw streamEndedEarly();
    const end: StreamChunk = { type: 'end', finishReason: this.stop ?? 'stop' };
    if (this.sawUsage) end.usage = usageOf(this.input, this.output, this.cache);
    if (this.id !== undefined) end.id = this.id;
    if (this.stopSequence !== undefined) end.stopSequence = this.stopSequence;
    return end;
  }
}
