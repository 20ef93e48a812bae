/**
 * Token-level generation on one context sequence: evaluates the prompt,
 * samples up to the token budget, and yields valid-UTF-8 text pieces with the
 * number of model tokens each covers. Ends with `stop` (end-of-generation
 * token, template end-of-turn token or stop string) or `length` (max_tokens or
 * the sequence's context is full). Stops at once when the signal aborts.
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

export async function* generate(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  prompt: PreparedPrompt,
  options: SamplingOptions,
  signal: AbortSignal,
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

  const iterator = sequence.evaluate(prompt.tokens, {
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
  if (signal.aborted) throw signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
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
