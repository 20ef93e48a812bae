/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`) as a surface: request
 * → internal chat request; result → `chat.completion`; stream →
 * `chat.completion.chunk` frames (role delta, content / tool-call deltas,
 * finish chunk, usage chunk on `stream_options.include_usage`, `[DONE]`).
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import { bearerCredential, type ParsedRequest, type StreamRenderer, type TextSurface } from '../surface.js';
import type { TextResult } from '../../targets/target.js';
import { failOn, wireBasics } from '../fields.js';
import {
  dataFrame,
  extrasOf,
  openAIFinish,
  toOpenAIUsage,
  responseId,
  samplingFields,
  samplingOptions,
  streamEnd,
  unixSeconds,
} from './common.js';
import { openAIError } from './errors.js';
import { parseMessages } from './messages.js';
import { parseToolChoice, parseTools } from './tools.js';

const ChatSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.unknown()).min(1),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
  ...samplingFields,
});

/** Fields read here; any other non-null top-level field is an OpenAI extra. */
const KNOWN = new Set([
  ...Object.keys(ChatSchema.shape),
  'tools',
  'tool_choice',
  'logprobs',
  'top_logprobs',
  'functions',
  'function_call',
  'audio',
  'modalities',
]);

export interface OpenAIChatRequest extends ParsedRequest {
  includeUsage: boolean;
}

/** Fields whose answer the gateway cannot carry back: refused on every target. */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (body.logprobs === true) throw new InvalidFieldError('logprobs', 'logprobs are not supported by the gateway');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) {
    throw new InvalidFieldError('top_logprobs', 'logprobs are not supported by the gateway');
  }
  if (body.functions != null) throw new InvalidFieldError('functions', 'deprecated; use "tools"');
  if (body.function_call != null) throw new InvalidFieldError('function_call', 'deprecated; use "tool_choice"');
  if (body.audio != null) throw new InvalidFieldError('audio', 'audio output is not supported by the gateway');
  const modalities = body.modalities;
  if (modalities != null && !(Array.isArray(modalities) && modalities.every((m) => m === 'text'))) {
    throw new InvalidFieldError('modalities', 'only ["text"] is supported');
  }
}

function parse(body: Record<string, unknown>): OpenAIChatRequest {
  const r = ChatSchema.safeParse(body);
  if (!r.success) failOn(r.error, 'dots');
  const b = r.data;
  refuseUnsupported(body);
  const messages = parseMessages(b.messages);
  const options = samplingOptions(b, b.max_completion_tokens ?? b.max_tokens);
  if (body.tools != null) options.tools = parseTools(body.tools);
  if (body.tool_choice != null) options.toolChoice = parseToolChoice(body.tool_choice);
  if (b.parallel_tool_calls != null) options.parallelToolCalls = b.parallel_tool_calls;
  if (b.response_format != null && b.response_format.type !== 'text') options.responseFormat = b.response_format;
  // A reasoning hint: translated by targets that think, else ignored by name (docs/api.md#ignored-fields).
  if (b.reasoning_effort != null && b.reasoning_effort !== 'none') {
    const effort = b.reasoning_effort === 'xhigh' ? 'high' : b.reasoning_effort;
    options.reasoning = { effort, from: ['reasoning_effort'] };
  }
  const extras = extrasOf(body, KNOWN);
  if (extras) options.openaiExtras = extras;
  return {
    model: b.model,
    stream: b.stream === true,
    includeUsage: b.stream_options?.include_usage === true,
    call: { operation: 'chat', text: { operation: 'chat', messages, options } },
  };
}

function renderText(_req: OpenAIChatRequest, model: string, result: TextResult): unknown {
  const message: Record<string, unknown> = { role: 'assistant', content: result.text, refusal: null };
  if (result.toolCalls?.length) {
    if (!result.text) message.content = null;
    message.tool_calls = result.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id: result.id ?? responseId('chatcmpl'),
    object: 'chat.completion',
    created: unixSeconds(),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openAIFinish(result.finishReason) }],
    ...(result.usage ? { usage: toOpenAIUsage(result.usage) } : {}),
  };
}

/** Chunks share one prefix, rendered once per stream. */
function openStream(req: OpenAIChatRequest, model: string): StreamRenderer {
  const head = JSON.stringify({
    id: responseId('chatcmpl'),
    object: 'chat.completion.chunk',
    created: unixSeconds(),
    model,
  }).slice(0, -1);
  const choice = (delta: unknown, finish: string | null): string =>
    dataFrame(
      `${head},"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]}`,
    );
  return {
    start: () => choice({ role: 'assistant', content: '' }, null),
    token: (text) => choice({ content: text }, null),
    toolCall: (c) =>
      choice(
        {
          tool_calls: [
            c.id !== undefined || c.name !== undefined
              ? { index: c.index, id: c.id ?? '', type: 'function', function: { name: c.name ?? '', arguments: c.arguments } }
              : { index: c.index, function: { arguments: c.arguments } },
          ],
        },
        null,
      ),
    end: (chunk, usage, outputTokens) =>
      streamEnd(head, choice({}, openAIFinish(chunk.finishReason)), req.includeUsage, usage, outputTokens),
    error: (e) => dataFrame(JSON.stringify(openAIError(e))),
  };
}

export const openAIChatSurface: TextSurface<OpenAIChatRequest> = {
  api: 'openai',
  operation: 'chat',
  wire: { api: 'openai_chat', basics: wireBasics },
  credential: bearerCredential,
  parse,
  field: (neutral) => neutral,
  renderText,
  openStream,
};
