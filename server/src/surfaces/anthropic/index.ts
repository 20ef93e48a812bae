/**
 * Anthropic Messages (`POST /v1/messages`) as a surface: request → internal
 * chat request; result → `message`; stream → message_start, ping,
 * content_block_start/delta/stop (text_delta, input_json_delta for tool_use),
 * message_delta (stop_reason, usage), message_stop.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import type { IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { ParsedRequest, StreamRenderer, TextSurface } from '../surface.js';
import type { TextResult, ToolCall } from '../../targets/target.js';
import { wireBasics } from '../fields.js';
import { anthropicError } from './errors.js';
import { anthropicField, parseMessagesRequest, type MessagePath } from './request.js';

export interface AnthropicRequest extends ParsedRequest {
  paths: MessagePath[];
}

/** `Authorization: Bearer` when present, else `x-api-key` (what the Anthropic SDK sends). */
function credential(headers: IncomingHttpHeaders): string | undefined {
  if (headers.authorization) return headers.authorization;
  const key = headers['x-api-key'];
  return typeof key === 'string' && key ? `Bearer ${key}` : undefined;
}

function stopReason(reason: FinishReason, stopSequence: string | undefined): string {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return stopSequence !== undefined ? 'stop_sequence' : 'end_turn';
  }
}

function messageId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

function toolInput(call: ToolCall): unknown {
  try {
    const v: unknown = JSON.parse(call.arguments || '{}');
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

function renderText(_req: AnthropicRequest, model: string, result: TextResult): unknown {
  const content: unknown[] = [];
  if (result.text || !result.toolCalls?.length) content.push({ type: 'text', text: result.text });
  for (const c of result.toolCalls ?? []) content.push({ type: 'tool_use', id: c.id, name: c.name, input: toolInput(c) });
  return {
    id: result.id ?? messageId(),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(result.finishReason, result.stopSequence),
    stop_sequence: result.stopSequence ?? null,
    usage: { input_tokens: result.usage?.input_tokens ?? 0, output_tokens: result.usage?.output_tokens ?? 0 },
  };
}

const event = (name: string, data: string): string => `event: ${name}\ndata: ${data}\n\n`;
const PING = event('ping', '{"type":"ping"}');

function openStream(_req: AnthropicRequest, model: string): StreamRenderer {
  let index = -1;
  let open: 'text' | { tool: number } | null = null;
  let pinged = false;
  const startBlock = (block: unknown): string => {
    index += 1;
    const out = event('content_block_start', JSON.stringify({ type: 'content_block_start', index, content_block: block }));
    if (pinged) return out;
    pinged = true;
    return out + PING;
  };
  const stopBlock = (): string => {
    if (open === null) return '';
    open = null;
    return event('content_block_stop', `{"type":"content_block_stop","index":${index}}`);
  };
  const delta = (d: unknown): string =>
    event('content_block_delta', `{"type":"content_block_delta","index":${index},"delta":${JSON.stringify(d)}}`);
  return {
    start: () =>
      event(
        'message_start',
        JSON.stringify({
          type: 'message_start',
          message: {
            id: messageId(),
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 0, output_tokens: 0 },
          },
        }),
      ),
    token(text) {
      let out = '';
      if (open !== 'text') {
        out = stopBlock() + startBlock({ type: 'text', text: '' });
        open = 'text';
      }
      return out + delta({ type: 'text_delta', text });
    },
    toolCall(c) {
      let out = '';
      if (open === null || open === 'text' || open.tool !== c.index) {
        out =
          stopBlock() +
          startBlock({
            type: 'tool_use',
            id: c.id ?? `toolu_${randomUUID().replaceAll('-', '')}`,
            name: c.name ?? '',
            input: {},
          });
        open = { tool: c.index };
      }
      return c.arguments ? out + delta({ type: 'input_json_delta', partial_json: c.arguments }) : out;
    },
    end(chunk, usage: Usage | undefined, outputTokens) {
      const u = { input_tokens: usage?.input_tokens ?? 0, output_tokens: usage?.output_tokens ?? outputTokens };
      return (
        stopBlock() +
        event(
          'message_delta',
          JSON.stringify({
            type: 'message_delta',
            delta: { stop_reason: stopReason(chunk.finishReason, chunk.stopSequence), stop_sequence: chunk.stopSequence ?? null },
            usage: u,
          }),
        ) +
        event('message_stop', '{"type":"message_stop"}')
      );
    },
    error: (e) => event('error', JSON.stringify(anthropicError(e))),
  };
}

export const anthropicMessagesSurface: TextSurface<AnthropicRequest> = {
  api: 'anthropic',
  operation: 'chat',
  wire: { api: 'anthropic_messages', basics: wireBasics, hintHeaders: ['anthropic-beta'] },
  credential,
  parse(body) {
    const p = parseMessagesRequest(body);
    return {
      model: p.model,
      stream: p.stream,
      paths: p.paths,
      ignored: p.ignored,
      call: { operation: 'chat', text: { operation: 'chat', messages: p.messages, options: p.options } },
    };
  },
  field: (neutral, req) => anthropicField(neutral, req.paths),
  renderText,
  openStream,
};
