/**
 * The Sipp protocol (docs/api.md) as a surface: `/v1/query`, `/v1/chat`,
 * `/v1/embed`. Its wire format is unchanged byte for byte.
 */
import {
  ChatRequestSchema,
  EmbedRequestSchema,
  QueryRequestSchema,
  type EmbeddingResponse,
  type Operation,
  type TextResponse,
  type Usage,
} from '@sipp/shared';
import { randomUUID } from 'node:crypto';
import type { GatewayError } from '../../errors.js';
import {
  bearerCredential,
  type ParsedRequest,
  type EmbedSurface,
  type StreamRenderer,
  type TextOperation,
  type TextSurface,
} from '../surface.js';
import type { EmbedResult, GenerationOptions, Message, TextResult, ToolCall } from '../../targets/target.js';
import { bracketed, failOn, opt } from '../fields.js';
import { sippError } from './errors.js';
import { SippToolChatSchema, toolMessages, toolOptions, usesTools } from './tools.js';

function gatewayId(): string {
  return `sipp-${randomUUID()}`;
}

function options(body: {
  max_tokens?: number | null | undefined;
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  stop?: string[] | null | undefined;
}): GenerationOptions {
  const o: GenerationOptions = {};
  const maxTokens = opt(body.max_tokens);
  const temperature = opt(body.temperature);
  const topP = opt(body.top_p);
  const stop = opt(body.stop);
  if (maxTokens !== undefined) o.maxTokens = maxTokens;
  if (temperature !== undefined) o.temperature = temperature;
  if (topP !== undefined) o.topP = topP;
  if (stop !== undefined && stop.length) o.stop = stop;
  return o;
}

function parse(operation: Operation, body: Record<string, unknown>): ParsedRequest {
  switch (operation) {
    case 'query': {
      const r = QueryRequestSchema.safeParse(body);
      if (!r.success) failOn(r.error);
      const b = r.data;
      return {
        model: b.model,
        stream: b.stream === true,
        call: { operation, text: { operation, prompt: b.prompt, options: options(b) } },
      };
    }
    case 'chat': {
      if (usesTools(body)) {
        // Tools (docs/api.md#tools-on-v1chat).
        const r = SippToolChatSchema.safeParse(body);
        if (!r.success) failOn(r.error);
        const b = r.data;
        return {
          model: b.model,
          stream: b.stream === true,
          call: {
            operation,
            text: { operation, messages: toolMessages(b.messages), options: { ...options(b), ...toolOptions(b) } },
          },
        };
      }
      const r = ChatRequestSchema.safeParse(body);
      if (!r.success) failOn(r.error);
      const b = r.data;
      // Only role and content travel on: extra per-message fields are never forwarded.
      const messages: Message[] = b.messages.map((m) => ({ role: m.role, content: m.content }));
      return {
        model: b.model,
        stream: b.stream === true,
        call: { operation, text: { operation, messages, options: options(b) } },
      };
    }
    case 'embed': {
      const r = EmbedRequestSchema.safeParse(body);
      if (!r.success) failOn(r.error);
      return { model: r.data.model, stream: false, call: { operation, embed: { inputs: [r.data.input] } } };
    }
  }
}

const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The wire usage (docs/api.md): the three counts, never the gateway-internal cache counts. */
const wireUsage = (u: Usage): Usage => ({
  input_tokens: u.input_tokens,
  output_tokens: u.output_tokens,
  total_tokens: u.total_tokens,
});

const streamRenderer: StreamRenderer = {
  start: () => '',
  token: (text, sequence) => frame('token', { text, sequence }),
  // Only a request with tools can get one (docs/api.md#tools-on-v1chat): the first piece of a call carries id and name.
  toolCall: (c) =>
    frame('tool_call', {
      index: c.index,
      ...(c.id ? { id: c.id } : {}),
      ...(c.name ? { name: c.name } : {}),
      arguments: c.arguments,
    }),
  end: (chunk, usage: Usage | undefined) =>
    (usage ? frame('usage', wireUsage(usage)) : '') + frame('done', { finish_reason: chunk.finishReason }),
  error: (e: GatewayError) => frame('error', sippError(e)),
};

function renderText(_req: ParsedRequest, model: string, result: TextResult): TextResponse & { tool_calls?: ToolCall[] } {
  const response: TextResponse & { tool_calls?: ToolCall[] } = {
    id: result.id ?? gatewayId(),
    model,
    text: result.text,
    finish_reason: result.finishReason,
  };
  if (result.toolCalls?.length)
    response.tool_calls = result.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
  if (result.usage) response.usage = wireUsage(result.usage);
  return response;
}

/** Neutral field names in the Sipp naming (`messages[1].tool_call_id`; a named tool_choice is `{name}`). */
function sippField(neutral: string): string {
  return bracketed(neutral === 'tool_choice.function.name' ? 'tool_choice.name' : neutral);
}

function renderEmbed(_req: ParsedRequest, model: string, result: EmbedResult): EmbeddingResponse {
  return {
    id: result.id ?? gatewayId(),
    model,
    embedding: result.embeddings[0] ?? [],
    ...(result.usage ? { usage: wireUsage(result.usage) } : {}),
  };
}

/** `/v1/query` and `/v1/chat`. */
export function sippTextSurface(operation: TextOperation): TextSurface {
  return {
    api: 'sipp',
    operation,
    credential: bearerCredential,
    parse: (body) => parse(operation, body),
    field: sippField,
    renderText,
    openStream: () => streamRenderer,
  };
}

/** `/v1/embed`. */
export const sippEmbedSurface: EmbedSurface = {
  api: 'sipp',
  operation: 'embed',
  credential: bearerCredential,
  parse: (body) => parse('embed', body),
  field: bracketed,
  renderEmbed,
};
