/**
 * Anthropic Messages API wire format: request bodies built from the gateway's
 * validated requests, responses and the streaming event sequence read back.
 * Pure functions; the HTTP exchange lives in upstream-client.ts.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import { contentText } from '../content.js';
import type { StreamChunk, TextRequest, TextResult } from '../target.js';
import { count, isObject, normalizeReason, parseStreamData, streamEndedEarly, unexpectedResponse, type Json } from './wire-shape.js';

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

function usageOf(input: number, output: number): Usage {
  return { input_tokens: input, output_tokens: output, total_tokens: input + output };
}

interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Messages body. System messages (wherever they appear) are lifted into
 * `system`, joined by a blank line; consecutive messages of the same role are
 * merged the same way, since the API expects user and assistant to alternate.
 */
export function messagesBody(model: string, req: TextRequest, stream: boolean): Json {
  const messages: AnthropicMessage[] = [];
  const system: string[] = [];
  if (req.operation === 'query') {
    messages.push({ role: 'user', content: req.prompt });
  } else {
    for (const m of req.messages) {
      const text = contentText(m.content);
      if (m.role === 'system') {
        system.push(text);
        continue;
      }
      const role = m.role === 'assistant' ? 'assistant' : 'user';
      const last = messages[messages.length - 1];
      if (last && last.role === role) last.content = `${last.content}\n\n${text}`;
      else messages.push({ role, content: text });
    }
    if (messages.length === 0) {
      throw new GatewayError('invalid_request', 'messages: anthropic targets need at least one user or assistant message');
    }
  }
  const o = req.options;
  const body: Json = { model, max_tokens: o.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS, messages };
  if (system.length > 0) body.system = system.join('\n\n');
  if (o.temperature !== undefined) body.temperature = o.temperature;
  if (o.topP !== undefined) body.top_p = o.topP;
  if (o.stop !== undefined && o.stop.length > 0) body.stop_sequences = o.stop;
  if (stream) body.stream = true;
  return body;
}

export function readMessage(json: unknown): TextResult {
  if (!isObject(json) || !Array.isArray(json.content)) throw unexpectedResponse();
  let text = '';
  for (const block of json.content as unknown[]) {
    if (!isObject(block)) throw unexpectedResponse();
    if (block.type === 'text') {
      if (typeof block.text !== 'string') throw unexpectedResponse();
      text += block.text;
    }
  }
  const result: TextResult = { text, finishReason: anthropicStopReason(json.stop_reason) };
  if (typeof json.id === 'string') result.id = json.id;
  if (isObject(json.usage)) result.usage = usageOf(inputTokens(json.usage), count(json.usage.output_tokens));
  return result;
}

const ERROR_TYPE = /^[a-z_]{1,40}$/;

/**
 * Folds the Messages streaming event sequence: message_start (id, input
 * usage), content_block_start / content_block_delta (text_delta) /
 * content_block_stop, message_delta (stop_reason, output usage),
 * message_stop, interleaved `ping`s, or an `error` event. Unknown event types
 * are ignored, as Anthropic's versioning policy asks of clients.
 */
export class AnthropicStreamReader {
  private id: string | undefined;
  private input = 0;
  private output = 0;
  private sawUsage = false;
  private stop: FinishReason | undefined;
  private done = false;

  accept(data: string): StreamChunk | null {
    if (this.done) return null;
    const event = parseStreamData(data);
    switch (event.type) {
      case 'message_start': {
        const message = event.message;
        if (!isObject(message)) throw unexpectedResponse();
        if (typeof message.id === 'string') this.id = message.id;
        if (isObject(message.usage)) {
          this.sawUsage = true;
          this.input = inputTokens(message.usage);
          this.output = count(message.usage.output_tokens);
        }
        return null;
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (isObject(delta) && delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text.length > 0) {
          return { type: 'token', text: delta.text };
        }
        return null;
      }
      case 'message_delta': {
        if (isObject(event.delta) && event.delta.stop_reason != null) this.stop = anthropicStopReason(event.delta.stop_reason);
        if (isObject(event.usage)) {
          this.sawUsage = true;
          // Cumulative counts; newer API versions may restate input here too.
          if (typeof event.usage.output_tokens === 'number') this.output = count(event.usage.output_tokens);
          if (typeof event.usage.input_tokens === 'number') this.input = inputTokens(event.usage);
        }
        return null;
      }
      case 'message_stop':
        this.done = true;
        return null;
      case 'error': {
        const type = isObject(event.error) ? event.error.type : undefined;
        const suffix = typeof type === 'string' && ERROR_TYPE.test(type) ? ` (${type})` : '';
        throw new GatewayError('upstream', `upstream reported an error mid-stream${suffix}`);
      }
      default:
        return null; // ping, content_block_start, content_block_stop, future event types
    }
  }

  /** The body ended cleanly: message_stop or at least a stop reason must have been seen. */
  end(): StreamChunk {
    if (!this.done && this.stop === undefined) throw streamEndedEarly();
    const end: StreamChunk = { type: 'end', finishReason: this.stop ?? 'stop' };
    if (this.sawUsage) end.usage = usageOf(this.input, this.output);
    if (this.id !== undefined) end.id = this.id;
    return end;
  }
}
