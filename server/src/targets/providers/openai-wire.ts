/**
 * OpenAI Chat Completions / Embeddings wire format: request bodies built from
 * the gateway's validated requests, responses and stream chunks read back.
 * Pure functions; the HTTP exchange lives in upstream-client.ts.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import type {
  Content,
  EmbedRequest,
  EmbedResult,
  GenerationOptions,
  Message,
  StreamChunk,
  TextRequest,
  TextResult,
  ToolCall,
} from '../target.js';
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

export type OpenAIFlavor = 'openai' | 'openai_compatible';

const FINISH_REASONS: ReadonlyMap<string, FinishReason> = new Map([
  ['stop', 'stop'],
  ['length', 'length'],
  ['content_filter', 'content_filter'],
  ['tool_calls', 'tool_calls'],
  ['function_call', 'tool_calls'],
]);

export function openAIFinishReason(raw: unknown): FinishReason {
  return normalizeReason(raw, FINISH_REASONS, 'stop');
}

/** Reads a provider's `usage` object (untrusted) into the internal Usage. */
export function readOpenAIUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const input = count(raw.prompt_tokens);
  const output = count(raw.completion_tokens);
  const total = typeof raw.total_tokens === 'number' ? count(raw.total_tokens) : input + output;
  const u: Usage = { input_tokens: input, output_tokens: output, total_tokens: total };
  // Of prompt_tokens, those served from the prompt cache (priced apart, docs/budgets.md#cost).
  const cached = isObject(raw.prompt_tokens_details) ? count(raw.prompt_tokens_details.cached_tokens) : 0;
  if (cached > 0) u.cache_read_tokens = Math.min(cached, input);
  return u;
}

/** Fields the gateway itself sets: `openaiExtras` never overrides them. */
const GATEWAY_FIELDS: ReadonlySet<string> = new Set(['model', 'messages', 'stream', 'stream_options']);

/**
 * The Chat Completions body. Only known fields are sent, then the OpenAI
 * surface's `openaiExtras`, which never override a field set here. OpenAI's
 * current models reject `max_tokens` in favour of `max_completion_tokens`,
 * while OpenAI-compatible servers (vLLM, llama.cpp server, ...) widely accept
 * only `max_tokens`: the flavour picks the field.
 */
export function chatCompletionBody(model: string, flavor: OpenAIFlavor, req: TextRequest, stream: boolean): Json {
  const messages = req.operation === 'query' ? [{ role: 'user', content: req.prompt }] : req.messages.map(openAIMessage);
  const body: Json = { model, messages };
  const o = req.options;
  if (o.maxTokens !== undefined) body[flavor === 'openai' ? 'max_completion_tokens' : 'max_tokens'] = o.maxTokens;
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.topP !== undefined) body.top_p = o.topP;
  if (o.stop !== undefined && o.stop.length > 0) body.stop = o.stop;
  addToolOptions(body, o);
  if (o.responseFormat !== undefined) body.response_format = o.responseFormat;
  if (o.seed !== undefined) body.seed = o.seed;
  if (o.user !== undefined) body.user = o.user;
  if (o.reasoning !== undefined) body.reasoning_effort = reasoningEffort(o.reasoning);
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (o.openaiExtras) {
    for (const [key, value] of Object.entries(o.openaiExtras)) {
      // `__proto__` (a legal JSON key) would set the body's prototype, not a field.
      if (GATEWAY_FIELDS.has(key) || Object.hasOwn(body, key) || key === '__proto__') continue;
      body[key] = value;
    }
  }
  return body;
}

/**
 * The reasoning hint as `reasoning_effort` (docs/api.md#ignored-fields): the
 * effort as given, else from Anthropic's thinking budget (< 4096 tokens low,
 * < 16384 medium, more high), adaptive thinking medium.
 */
export function reasoningEffort(r: NonNullable<GenerationOptions['reasoning']>): string {
  if (r.effort !== undefined) return r.effort;
  if (r.budgetTokens !== undefined) return r.budgetTokens < 4096 ? 'low' : r.budgetTokens < 16384 ? 'medium' : 'high';
  return 'medium';
}

/** OpenAI models that take `reasoning_effort` (o-series, gpt-5 family). */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/i.test(model);
}

function addToolOptions(body: Json, o: GenerationOptions): void {
  if (o.tools !== undefined && o.tools.length > 0) {
    body.tools = o.tools.map((t) => {
      const fn: Json = { name: t.name };
      if (t.description !== undefined) fn.description = t.description;
      if (t.parameters !== undefined) fn.parameters = t.parameters;
      if (t.strict !== undefined) fn.strict = t.strict;
      return { type: 'function', function: fn };
    });
  }
  if (o.toolChoice !== undefined) {
    body.tool_choice =
      o.toolChoice.type === 'tool' ? { type: 'function', function: { name: o.toolChoice.name } } : o.toolChoice.type;
  }
  // OpenAI refuses parallel_tool_calls without tools, where it means nothing anyway.
  if (o.parallelToolCalls !== undefined && body.tools !== undefined) body.parallel_tool_calls = o.parallelToolCalls;
}

/** Plain text stays a string (as before parts existed); parts become `text` / `image_url` parts. */
function openAIContent(content: Content): string | Json[] {
  if (typeof content === 'string') return content;
  return content.map((part) => {
    if (part.type === 'text') return { type: 'text', text: part.text };
    const src = part.source;
    if (src.kind === 'base64') return { type: 'image_url', image_url: { url: `data:${src.mediaType};base64,${src.data}` } };
    const image: Json = { url: src.url };
    if (src.detail !== undefined) image.detail = src.detail;
    return { type: 'image_url', image_url: image };
  });
}

const isEmpty = (content: Content): boolean => (typeof content === 'string' ? content === '' : content.length === 0);

/**
 * One message in Chat Completions form. `system` stays `system` (what
 * OpenAI-compatible servers know; OpenAI treats it like `developer`). A tool
 * result's `isError` has no OpenAI field: the result text itself says so.
 */
function openAIMessage(m: Message): Json {
  switch (m.role) {
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: openAIContent(m.content) };
    case 'assistant': {
      if (!m.toolCalls || m.toolCalls.length === 0) return { role: 'assistant', content: openAIContent(m.content) };
      return {
        role: 'assistant',
        // OpenAI's own convention for a turn that only calls tools.
        content: isEmpty(m.content) ? null : openAIContent(m.content),
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      };
    }
    default:
      return { role: m.role, content: openAIContent(m.content) };
  }
}

/** `message.tool_calls` of a finite answer; calls of other types than `function` are not ours to read. */
function readToolCalls(raw: unknown): ToolCall[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw unexpectedResponse();
  const calls: ToolCall[] = [];
  for (const item of raw as unknown[]) {
    if (!isObject(item)) throw unexpectedResponse();
    if (item.type !== undefined && item.type !== 'function') continue;
    const fn = item.function;
    if (typeof item.id !== 'string' || !isObject(fn) || typeof fn.name !== 'string') throw unexpectedResponse();
    const args = fn.arguments ?? '';
    if (typeof args !== 'string') throw unexpectedResponse();
    calls.push({ id: item.id, name: fn.name, arguments: args });
  }
  return calls.length > 0 ? calls : undefined;
}

export function readChatCompletion(json: unknown): TextResult {
  if (!isObject(json) || !Array.isArray(json.choices)) throw unexpectedResponse();
  const choice: unknown = json.choices[0];
  if (!isObject(choice) || !isObject(choice.message)) throw unexpectedResponse();
  const content = choice.message.content;
  if (content !== null && content !== undefined && typeof content !== 'string') throw unexpectedResponse();
  const result: TextResult = { text: content ?? '', finishReason: openAIFinishReason(choice.finish_reason) };
  if (typeof json.id === 'string') result.id = json.id;
  const toolCalls = readToolCalls(choice.message.tool_calls);
  if (toolCalls) result.toolCalls = toolCalls;
  const usage = readOpenAIUsage(json.usage);
  if (usage) result.usage = usage;
  return result;
}

export function embeddingBody(model: string, req: EmbedRequest): Json {
  const body: Json = { model, input: req.inputs.length === 1 ? req.inputs[0] : req.inputs };
  if (req.dimensions !== undefined) body.dimensions = req.dimensions;
  if (req.user !== undefined) body.user = req.user;
  return body;
}

/** Reads `data[]` back into input order (by each item's `index`); one vector per input. */
export function readEmbedding(json: unknown, inputs: number): EmbedResult {
  if (!isObject(json) || !Array.isArray(json.data) || json.data.length !== inputs) throw unexpectedResponse();
  const embeddings: number[][] = new Array(inputs);
  json.data.forEach((item: unknown, i: number) => {
    if (!isObject(item) || !Array.isArray(item.embedding)) throw unexpectedResponse();
    const index = typeof item.index === 'number' ? item.index : i;
    if (!Number.isInteger(index) || index < 0 || index >= inputs || embeddings[index]) throw unexpectedResponse();
    for (const v of item.embedding as unknown[]) if (typeof v !== 'number') throw unexpectedResponse();
    embeddings[index] = item.embedding as number[];
  });
  const result: EmbedResult = { embeddings };
  if (typeof json.id === 'string') result.id = json.id;
  if (isObject(json.usage)) {
    const input = count(json.usage.prompt_tokens);
    result.usage = {
      input_tokens: input,
      output_tokens: 0,
      total_tokens: typeof json.usage.total_tokens === 'number' ? count(json.usage.total_tokens) : input,
    };
  }
  return result;
}

/**
 * Folds a Chat Completions SSE stream: `accept` takes each event's data and
 * returns the chunks it carried (text, tool call pieces); `end` returns the
 * closing chunk once the stream ended, or throws when it ended before the
 * upstream said so. Tool calls arrive as `delta.tool_calls` items keyed by
 * `index`: the first item of a call carries its id and function name, later
 * ones more `function.arguments` text.
 */
export class OpenAIStreamReader {
  private id: string | undefined;
  private finish: FinishReason | undefined;
  private usage: Usage | undefined;
  private done = false;
  private readonly startedCalls = new Set<number>();
  private lastId: string | undefined;

  accept(data: string): StreamChunk[] {
    if (this.done) return [];
    if (data === '[DONE]') {
      this.done = true;
      return [];
    }
    const chunk = parseStreamData(data);
    // Several OpenAI-compatible servers report a failure inside the stream.
    if (chunk.error !== undefined) throw upstreamContentError('upstream reported an error mid-stream');
    if (this.id === undefined && typeof chunk.id === 'string') this.id = chunk.id;
    const usage = readOpenAIUsage(chunk.usage);
    if (usage) this.usage = usage;
    if (!Array.isArray(chunk.choices)) return [];
    const choice: unknown = chunk.choices[0];
    if (!isObject(choice)) return [];
    if (choice.finish_reason !== null && choice.finish_reason !== undefined)
      this.finish = openAIFinishReason(choice.finish_reason);
    const delta = choice.delta;
    if (!isObject(delta)) return [];
    const out: StreamChunk[] = [];
    if (typeof delta.content === 'string' && delta.content.length > 0) out.push({ type: 'token', text: delta.content });
    if (Array.isArray(delta.tool_calls)) {
      for (const item of delta.tool_calls as unknown[]) {
        const piece = this.toolCallPiece(item);
        if (piece) out.push(piece);
      }
    }
    return out;
  }

  private toolCallPiece(item: unknown): StreamChunk | null {
    if (!isObject(item)) throw malformedStream();
    const index = this.toolCallIndex(item);
    const fn = isObject(item.function) ? item.function : {};
    const args = fn.arguments ?? '';
    if (typeof args !== 'string') throw malformedStream();
    if (this.startedCalls.has(index)) return args.length > 0 ? { type: 'tool_call', index, arguments: args } : null;
    if (typeof item.id !== 'string' || typeof fn.name !== 'string') throw malformedStream();
    this.startedCalls.add(index);
    this.lastId = item.id;
    return { type: 'tool_call', index, id: item.id, name: fn.name, arguments: args };
  }

  /**
   * The call an item belongs to: its `index`; some OpenAI-compatible servers
   * leave `index` out, then an item with an id starts the next call and one
   * without continues the last.
   */
  private toolCallIndex(item: Json): number {
    if (item.index !== undefined) {
      if (!Number.isInteger(item.index) || (item.index as number) < 0) throw malformedStream();
      return item.index as number;
    }
    const last = this.startedCalls.size - 1;
    if (typeof item.id === 'string' && !(last >= 0 && this.lastId === item.id)) return this.startedCalls.size;
    if (last < 0) throw malformedStream();
    return last;
  }

  /** The stream's body ended cleanly: `[DONE]` or at least a finish reason must have been seen. */
  end(): StreamChunk {
    if (!this.done && this.finish === undefined) throw streamEndedEarly();
    const end: StreamChunk = { type: 'end', finishReason: this.finish ?? 'stop' };
    if (this.usage) end.usage = this.usage;
    if (this.id !== undefined) end.id = this.id;
    return end;
  }
}
