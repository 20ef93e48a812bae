/**
 * Token-level generation on one context sequence: evaluates the prompt,
 * samples up to the token budget, and yields valid-UTF-8 text pieces with the
 * number of model tokens each covers. Ends with `stop` (end-of-generation
 * token, template end-of-turn token or stop string) or `length` (max_tokens or
 * the sequence's context is full). Stops at once when the signal aborts.
 *
 * A long prompt is evaluated in chunks of `promptChunkTokens` (the context's
 * batch size), with the abort signal checked between chunks: a client that
 * leaves during prompt processing frees its sequence within one chunk, not
 * after the whole prompt (one native decode call cannot be interrupted).
 *
 * Concurrent generations on sequences of one context are decoded together in
 * one llama.cpp batch by node-llama-cpp's batching dispatcher.
 */
import { randomInt } from 'node:crypto';
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import type { PreparedPrompt } from './prompt.js';
import { IncrementalDetokenizer, StopMatcher } from './text-stream.js';

export interface SamplingOptions {
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: readonly string[];
  /** Sampling seed (default: a random one per request). */
  seed?: number;
}

export interface GenerationPiece {
  text: string;
  tokens: number;
}

export interface GenerationSummary {
  finishReason: 'stop' | 'length';
  inputTokens: number;
  outputTokens: number;
  /** Prompt evaluation (prefill), up to the first sampled token. */
  promptSeconds: number;
  /** Sampling of the remaining tokens. */
  generationSeconds: number;
  /** performance.now() when the first token was sampled (null: none). */
  firstTokenAt: number | null;
  /** The request stop string (`options.stop`) that ended generation, if one did. */
  stopSequence?: string;
}

/** The part of a context sequence generation uses (a narrow seam for tests). */
export type GenerationSequence = Pick<LlamaContextSequence, 'contextSize' | 'evaluate' | 'evaluateWithoutGeneratingNewTokens'>;

export async function* generate(
  sequence: GenerationSequence,
  model: LlamaModel,
  prompt: PreparedPrompt,
  options: SamplingOptions,
  signal: AbortSignal,
  promptChunkTokens: number,
): AsyncGenerator<GenerationPiece, GenerationSummary, void> {
  const budget = Math.min(options.maxTokens, sequence.contextSize - prompt.tokens.length);
  const detok = new IncrementalDetokenizer(
    (tokens, last) => model.detokenize(tokens as Token[], false, last as Token[]),
    prompt.tokens,
  );
  const stops = new StopMatcher([...options.stop, ...prompt.stopStrings]);
  const started = performance.now();
  let firstTokenAt: number | null = null;
  let outputTokens = 0;
  let pendingTokens = 0;
  // null until we end the loop ourselves; node-llama-cpp ends it on an end-of-generation token.
  let finishReason: 'stop' | 'length' | null = null;
  let stoppedByString = false;
  let matchedStop: string | undefined;

  // All but the last chunk without sampling; the last one starts generation.
  const chunk = Math.max(1, Math.floor(promptChunkTokens));
  let evaluated = 0;
  while (prompt.tokens.length - evaluated > chunk) {
    if (signal.aborted) throw abortReason(signal);
    await sequence.evaluateWithoutGeneratingNewTokens(prompt.tokens.slice(evaluated, evaluated + chunk));
    evaluated += chunk;
  }
  if (signal.aborted) throw abortReason(signal);

  const iterator = sequence.evaluate(prompt.tokens.slice(evaluated), {
    temperature: options.temperature,
    topP: options.topP,
    // node-llama-cpp's default seed is the current time: concurrent requests would sample alike.
    seed: options.seed ?? randomInt(2 ** 31),
  });
  try {
    for await (const token of iterator) {
      if (signal.aborted) break;
      firstTokenAt ??= performance.now();
      if (model.isEogToken(token) || prompt.stopTokens.has(token)) {
        finishReason = 'stop';
        break;
      }
      outputTokens++;
      const piece = detok.push(token);
      pendingTokens += piece.tokens;
      if (piece.text) {
        const { emit, stopped, matched } = stops.push(piece.text);
        matchedStop = matched;
        if (emit) {
          yield { text: emit, tokens: pendingTokens };
          pendingTokens = 0;
        }
        if (stopped) {
          finishReason = 'stop';
          stoppedByString = true;
          break;
        }
      }
      if (outputTokens >= budget) {
        finishReason = 'length';
        break;
      }
    }
  } finally {
    // Ends the evaluation generator so the sequence stops decoding now.
    await iterator.return();
  }
  if (signal.aborted) throw abortReason(signal);
  finishReason ??= 'stop';

  if (!stoppedByString) {
    // Text still held back (partial UTF-8, possible stop-string prefix) is ordinary output now.
    const rest = detok.flush();
    pendingTokens += rest.tokens;
    const { emit, stopped, matched } = stops.push(rest.text);
    matchedStop = matched;
    const tail = stopped ? emit : emit + stops.flush();
    if (stopped) finishReason = 'stop';
    if (tail) yield { text: tail, tokens: pendingTokens };
  }

  const ended = performance.now();
  const first = firstTokenAt ?? ended;
  return {
    finishReason,
    inputTokens: prompt.tokens.length,
    outputTokens,
    promptSeconds: (first - started) / 1000,
    generationSeconds: (ended - first) / 1000,
    firstTokenAt,
    // Template stop strings end a turn like end-of-turn tokens: only the client's own are reported.
    ...(matchedStop !== undefined && options.stop.includes(matchedStop) ? { stopSequence: matchedStop } : {}),
  };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
