/**
 * Pieces shared by the OpenAI routes: sampling parameters, finish reasons,
 * usage, response ids, and the fields the gateway refuses on every target.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import type { GenerationOptions } from '../../targets/target.js';

/** Most stop strings the gateway takes at all; targets may take fewer (OpenAI: 4). */
export const MAX_STOP = 16;

/** Sampling fields common to Chat Completions and Completions; `null` = unset. */
export const samplingFields = {
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP)]).nullish(),
  seed: z.number().int().nullish(),
  user: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().min(1).nullish(),
};

export interface SamplingBody {
  max_tokens?: number | null | undefined;
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  stop?: string | string[] | null | undefined;
  seed?: number | null | undefined;
  user?: string | null | undefined;
  n?: number | null | undefined;
}

export function samplingOptions(b: SamplingBody, maxTokens: number | null | undefined): GenerationOptions {
  if (b.n != null && b.n > 1) throw new InvalidFieldError('n', 'only n = 1 is supported');
  const o: GenerationOptions = {};
  if (maxTokens != null) o.maxTokens = maxTokens;
  if (b.temperature != null) o.temperature = b.temperature;
  if (b.top_p != null) o.topP = b.top_p;
  if (b.stop != null) {
    const stop = typeof b.stop === 'string' ? [b.stop] : b.stop;
    if (stop.length) o.stop = stop;
  }
  if (b.seed != null) o.seed = b.seed;
  if (b.user != null) o.user = b.user;
  return o;
}

/**
 * Other top-level fields travel to openai-type targets as `openaiExtras`
 * (other target types refuse them by name). `null` values are dropped.
 */
export function extrasOf(body: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> | undefined {
  let extras: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(body)) {
    if (known.has(k) || v === null || v === undefined) continue;
    (extras ??= {})[k] = v;
  }
  return extras;
}

const OPENAI_FINISH = new Set(['stop', 'length', 'content_filter', 'tool_calls']);

export function openAIFinish(reason: FinishReason): string {
  return OPENAI_FINISH.has(reason) ? reason : 'stop';
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The internal Usage in the OpenAI wire shape (what the OpenAI surfaces answer). */
export function toOpenAIUsage(u: Usage): OpenAIUsage {
  return { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens, total_tokens: u.total_tokens };
}

/** Usage for a stream whose target reported none: the tokens streamed. */
export function streamedUsage(usage: Usage | undefined, outputTokens: number): OpenAIUsage {
  return usage ? toOpenAIUsage(usage) : { prompt_tokens: 0, completion_tokens: outputTokens, total_tokens: outputTokens };
}

export function responseId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '')}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** `data: <json>` frames (OpenAI streams use unnamed events). */
export const dataFrame = (json: string): string => `data: ${json}\n\n`;
export const DONE_FRAME = 'data: [DONE]\n\n';

/**
 * The end of an OpenAI stream: the finish chunk, then (with
 * `stream_options.include_usage`) a chunk with empty `choices` and the usage,
 * then `[DONE]`. `head` is the chunk's JSON without its closing brace.
 */
export function streamEnd(
  head: string,
  finishChunk: string,
  includeUsage: boolean,
  usage: Usage | undefined,
  outputTokens: number,
): string {
  const usageChunk = includeUsage
    ? dataFrame(`${head},"choices":[],"usage":${JSON.stringify(streamedUsage(usage, outputTokens))}}`)
    : '';
  return finishChunk + usageChunk + DONE_FRAME;
}
