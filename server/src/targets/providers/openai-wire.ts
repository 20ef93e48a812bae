/**
 * OpenAI Chat Completions / Embeddings wire format: request bodies built from
 * the gateway's validated requests, responses and stream chunks read back.
 * Pure functions; the HTTP exchange lives in upstream-client.ts.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import { contentText } from '../content.js';
import type { EmbedRequest, EmbedResult, StreamChunk, TextRequest, TextResult } from '../target.js';
import { count, isObject, normalizeReason, parseStreamData, streamEndedEarly, unexpectedResponse, type Json } from './wire-shape.js';

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

export function openAIUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const input = count(raw.prompt_tokens);
  const output = count(raw.completion_tokens);
  const total = typeof raw.total_tokens === 'number' ? count(raw.total_tokens) : input + output;
  return { input_tokens: input, output_tokens: output, total_tokens: total };
}

/**
 * The Chat Completions body. Only known fields are sent. OpenAI's current
 * models reject `max_tokens` in favour of `max_completion_tokens`, while
 * OpenAI-compatible servers (vLLM, llama.cpp server, ...) widely accept only
 * `max_tokens`: the flavour picks the field.
 */
export function chatCompletionBody(model: string, flavor: OpenAIFlavor, req: TextRequest, stream: boolean): Json {
  const messages =
    req.operation === 'query'
      ? [{ role: 'user', content: req.prompt }]
      : req.messages.map((m) => ({ role: m.role, content: contentText(m.content) }));
  const body: Json = { model, messages };
  const o = req.options;
  if (o.maxTokens !== undefined) body[flavor === 'openai' ? 'max_completion_tokens' : 'max_tokens'] = o.maxTokens;
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.topP !== undefined) body.top_p = o.topP;
  if (o.stop !== undefined && o.stop.length > 0) body.stop = o.stop;
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

export function readChatCompletion(json: unknown): TextResult {
  if (!isObject(json) || !Array.isArray(json.choices)) throw unexpectedResponse();
  const choice: unknown = json.choices[0];
  if (!isObject(choice) || !isObject(choice.message)) throw unexpectedResponse();
  const content = choice.message.content;
  if (content !== null && content !== undefined && typeof content !== 'string') throw unexpectedResponse();
  const result: TextResult = { text: content ?? '', finishReason: openAIFinishReason(choice.finish_reason) };
  if (typeof json.id === 'string') result.id = json.id;
  const usage = openAIUsage(json.usage);
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
    result.usage = { input_tokens: input, output_tokens: 0, total_tokens: typeof json.usage.total_tokens === 'number' ? count(json.usage.total_tokens) : input };
  }
  return result;
}

/**
 * Folds a Chat Completions SSE stream: `accept` takes each event's data and
 * returns the token it carried (if any); `end` returns the closing chunk once
 * the stream ended, or throws when it ended before the upstream said so.
 */
export class OpenAIStreamReader {
  private id: string | undefined;
  private finish: FinishReason | undefined;
  private usage: Usage | undefined;
  private done = false;

  accept(data: string): StreamChunk | null {
    if (this.done) return null;
    if (data === '[DONE]') {
      this.done = true;
      return null;
    }
    const chunk = parseStreamData(data);
    // Several OpenAI-compatible servers report a failure inside the stream.
    if (chunk.error !== undefined) throw new GatewayError('upstream', 'upstream reported an error mid-stream');
    if (this.id === undefined && typeof chunk.id === 'string') this.id = chunk.id;
    const usage = openAIUsage(chunk.usage);
    if (usage) this.usage = usage;
    if (!Array.isArray(chunk.choices)) return null;
    const choice: unknown = chunk.choices[0];
    if (!isObject(choice)) return null;
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.finish = openAIFinishReason(choice.finish_reason);
    const delta = choice.delta;
    if (isObject(delta) && typeof delta.content === 'string' && delta.content.length > 0) {
      return { type: 'token', text: delta.content };
    }
    return null;
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
