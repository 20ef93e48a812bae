/**
 * OpenAI legacy Completions (`POST /v1/completions`, `prompt` string) as a
 * surface: the internal `query` operation (local targets: raw completion).
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import { bearerCredential, type ParsedRequest, type StreamRenderer, type TextSurface } from '../surface.js';
import type { TextResult } from '../../targets/target.js';
import { failOn } from '../fields.js';
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

const CompletionSchema = z.looseObject({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  ...samplingFields,
});

const KNOWN = new Set([...Object.keys(CompletionSchema.shape), 'echo', 'logprobs', 'suffix', 'best_of']);

export interface OpenAICompletionRequest extends ParsedRequest {
  includeUsage: boolean;
}

function parse(body: Record<string, unknown>): OpenAICompletionRequest {
  const r = CompletionSchema.safeParse(body);
  if (!r.success) failOn(r.error, 'dots');
  const b = r.data;
  if (body.echo === true) throw new InvalidFieldError('echo', 'echo is not supported by the gateway');
  if (body.logprobs != null) throw new InvalidFieldError('logprobs', 'logprobs are not supported by the gateway');
  if (body.suffix != null) throw new InvalidFieldError('suffix', 'suffix is not supported by the gateway');
  if (typeof body.best_of === 'number' && body.best_of > 1)
    throw new InvalidFieldError('best_of', 'only best_of = 1 is supported');
  const options = samplingOptions(b, b.max_tokens);
  const extras = extrasOf(body, KNOWN);
  if (extras) options.openaiExtras = extras;
  const prompt = typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!;
  return {
    model: b.model,
    stream: b.stream === true,
    includeUsage: b.stream_options?.include_usage === true,
    call: { operation: 'query', text: { operation: 'query', prompt, options } },
  };
}

function renderText(_req: OpenAICompletionRequest, model: string, result: TextResult): unknown {
  return {
    id: result.id ?? responseId('cmpl'),
    object: 'text_completion',
    created: unixSeconds(),
    model,
    choices: [{ text: result.text, index: 0, logprobs: null, finish_reason: openAIFinish(result.finishReason) }],
    ...(result.usage ? { usage: toOpenAIUsage(result.usage) } : {}),
  };
}

function openStream(req: OpenAICompletionRequest, model: string): StreamRenderer {
  const head = JSON.stringify({ id: responseId('cmpl'), object: 'text_completion', created: unixSeconds(), model }).slice(0, -1);
  const choice = (text: string, finish: string | null): string =>
    dataFrame(
      `${head},"choices":[{"text":${JSON.stringify(text)},"index":0,"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]}`,
    );
  return {
    start: () => '',
    token: (text) => choice(text, null),
    toolCall: () => '',
    end: (chunk, usage, outputTokens) =>
      streamEnd(head, choice('', openAIFinish(chunk.finishReason)), req.includeUsage, usage, outputTokens),
    error: (e) => dataFrame(JSON.stringify(openAIError(e))),
  };
}

export const openAICompletionsSurface: TextSurface<OpenAICompletionRequest> = {
  api: 'openai',
  operation: 'query',
  credential: bearerCredential,
  parse,
  field: (neutral) => neutral,
  renderText,
  openStream,
};
