/**
 * Generation with function tools on a local target (docs/local-models.md#tools),
 * through node-llama-cpp's LlamaChat and the model's chat wrapper:
 * - the tools are rendered into the prompt by the wrapper (TypeScript-like
 *   signatures with their parameters documented, in the wrapper's own syntax);
 * - `auto`: the model writes text or starts a call in the wrapper's call syntax;
 *   once it does, the function name and the arguments are grammar-constrained;
 * - `required` / a named tool: generation starts inside a call (the wrapper's
 *   call prefix is already written), so the model can only pick a tool name
 *   (the named one only) and write arguments the tool's JSON Schema grammar
 *   accepts: the arguments always parse once the grammar completes;
 * - parallel calls where the wrapper has a parallel call syntax, unless
 *   `parallel_tool_calls` is false; otherwise one call per turn.
 * Text streams as `token` chunks, each call as `tool_call` chunks (id and name
 * first, then the arguments as the grammar produces them); a turn that ends in
 * calls finishes with `tool_calls`.
 *
 * The budget: once the tokens left (`max_tokens`, or the context) come down to
 * what closing the call's arguments takes (`closeReserve`, from the tools'
 * schemas), tokens that end the current value (`"`, then `}` / `]`, then `,`)
 * are strongly favoured, so the arguments end as valid JSON within the budget,
 * with shortened values; that turn finishes with `length` (the model did not
 * end it on its own). With less budget than that, `max_tokens` can still run
 * out inside a call: the turn finishes with `length` and that call's arguments
 * are what was written so far (not valid JSON), as OpenAI does.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  LlamaChat,
  LlamaText,
  TokenBias,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  type ChatWrapperGenerateContextStateOptions,
  type LlamaContextSequence,
  type LlamaTextJSON,
  type GbnfJsonSchema,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { FinishReason } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import type { Message, StreamChunk, ToolChoice, ToolDefinition } from '../target.js';
import type { ChatTemplateInfo } from './prompt.js';
import { toChatFunctions, toChatHistory } from './tools.js';

export interface ToolChatPlan {
  history: ChatHistoryItem[];
  /** Functions the model may call (all tools, or only the named one). */
  functions: ChatModelFunctions;
  wrapper: ChatWrapper;
  forced: boolean;
  maxParallelCalls?: number;
  /** Tokens of the rendered prompt (history and tool documentation). */
  promptTokens: number;
  /** Tokens kept back at the end of the budget for closing a call's arguments. */
  closeReserve: number;
  /** Biases that steer towards closing the arguments (see the top of this file). */
  closingBias: TokenBias;
}

export interface ToolSampling {
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: readonly string[];
  seed?: number;
}

export interface ToolGenerationSummary {
  finishReason: FinishReason;
  inputTokens: number;
  outputTokens: number;
  promptSeconds: number;
  generationSeconds: number;
  firstTokenAt: number | null;
  stopSequence?: string;
}

/** Whether a chat request goes through function calling: it offers tools and does not say `none`. */
export function usesFunctionCalling(tools: readonly ToolDefinition[] | undefined, choice: ToolChoice | undefined): boolean {
  return tools !== undefined && tools.length > 0 && choice?.type !== 'none';
}

/**
 * Wraps a chat wrapper so that every turn starts inside a function call (the
 * wrapper's call prefix written, the name next), while still documenting all
 * of `documented` in the prompt (a named tool_choice limits what may be
 * called, not what the model is told about).
 */
function forcedCallWrapper(inner: ChatWrapper, documented: ChatModelFunctions): ChatWrapper {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'generateContextState') {
        return (options: ChatWrapperGenerateContextStateOptions) => ({
          ...target.generateContextState({ ...options, availableFunctions: documented }),
          functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
        });
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function planToolChat(
  model: LlamaModel,
  chat: ChatTemplateInfo,
  messages: readonly Message[],
  tools: readonly ToolDefinition[],
  choice: ToolChoice | undefined,
  parallel: boolean | undefined,
): ToolChatPlan {
  const all = toChatFunctions(tools);
  let functions = all;
  if (choice?.type === 'tool') {
    const fn = Object.hasOwn(all, choice.name) ? all[choice.name] : undefined;
    if (!fn) throw new GatewayError('invalid_request', `tool_choice: no tool named "${choice.name}" in tools`);
    functions = { [choice.name]: fn };
  }
  const forced = choice?.type === 'required' || choice?.type === 'tool';
  const wrapper = forced ? forcedCallWrapper(chat.wrapper, all) : chat.wrapper;
  const { history } = toChatHistory(messages);
  const state = wrapper.generateContextState({
    chatHistory: history,
    availableFunctions: functions,
    documentFunctionParams: true,
  });
  let skeleton = 0;
  for (const fn of Object.values(functions)) {
    if (fn.params) skeleton = Math.max(skeleton, model.tokenize(skeletonJson(fn.params, fn.params, 0), false).length);
  }
  return {
    history,
    functions,
    wrapper,
    forced,
    ...(parallel === false ? { maxParallelCalls: 1 } : {}),
    promptTokens: state.contextText.tokenize(model.tokenizer).length,
    closeReserve: 2 * skeleton + 8,
    closingBias: closingBias(model),
  };
}

/**
 * The shortest JSON text with every property of `schema` (strings empty,
 * numbers 0, arrays at their fewest items): what closing the arguments may
 * still have to write, as an upper bound of the keys and punctuation.
 */
function skeletonJson(schema: GbnfJsonSchema, root: GbnfJsonSchema, depth: number): string {
  const s = schema as Record<string, unknown>;
  if (depth > 8) return 'null';
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return JSON.stringify(s.enum[0] ?? null);
  if (typeof s.$ref === 'string') {
    const defs = (s.$defs ?? (root as Record<string, unknown>).$defs ?? {}) as Record<string, GbnfJsonSchema>;
    const def = defs[s.$ref.replace('#/$defs/', '')];
    return def ? skeletonJson(def, root, depth + 1) : 'null';
  }
  if (Array.isArray(s.oneOf)) {
    const alternatives = (s.oneOf as GbnfJsonSchema[]).map((a) => skeletonJson(a, root, depth + 1));
    return alternatives.reduce((a, b) => (b.length > a.length ? b : a), 'null');
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'object' || s.properties) {
    const props = (s.properties ?? {}) as Record<string, GbnfJsonSchema>;
    const inner = Object.entries(props).map(([k, v]) => `${JSON.stringify(k)}: ${skeletonJson(v, root, depth + 1)}`);
    return `{${inner.join(', ')}}`;
  }
  if (type === 'array') {
    const items = [...((s.prefixItems ?? []) as GbnfJsonSchema[])];
    const min = typeof s.minItems === 'number' ? s.minItems : 0;
    while (items.length < min) items.push((s.items ?? { type: 'null' }) as GbnfJsonSchema);
    return `[${items.map((i) => skeletonJson(i, root, depth + 1)).join(', ')}]`;
  }
  if (type === 'string') return JSON.stringify('x'.repeat(typeof s.minLength === 'number' ? s.minLength : 0));
  if (type === 'number' || type === 'integer') return '0';
  if (type === 'boolean') return 'false';
  return 'null';
}

/** How strongly each kind of closing token is favoured: ending a string first, then an object or array, then a value. */
const CLOSERS: ReadonlyArray<readonly [string, number]> = [
  ['"', 300],
  ['}', 200],
  [']', 200],
  [',', 100],
];

const closingBiases = new WeakMap<LlamaModel, TokenBias>();

/** A TokenBias favouring the model's single tokens that close a JSON value (cached per model). */
function closingBias(model: LlamaModel): TokenBias {
  const cached = closingBiases.get(model);
  if (cached) return cached;
  const bias = new TokenBias(model.tokenizer);
  const seen = new Set<Token>();
  const candidates = ['"', '}', ']', ',', '"}', '"]', '",', '},', '}]', ']}', '}}', '],', '"}}', '"]}'];
  for (const text of candidates) {
    const variants = [
      model.tokenize(text, false, 'trimLeadingSpace'),
      model.tokenize(text, false),
      model.tokenize(` ${text}`, false),
    ];
    for (const tokens of variants) {
      if (tokens.length !== 1 || seen.has(tokens[0]!)) continue;
      const token = tokens[0]!;
      const first = model.detokenize([token]).trimStart()[0];
      const weight = CLOSERS.find(([c]) => c === first)?.[1];
      if (weight === undefined) continue;
      seen.add(token);
      bias.set(token, { logit: weight });
    }
  }
  closingBiases.set(model, bias);
  return bias;
}

/** Hands chunks from node-llama-cpp's callbacks to an async iterator. */
class ChunkQueue<T, R> {
  private items: T[] = [];
  private outcome: { ok: true; value: R } | { ok: false; error: unknown } | null = null;
  private wake: (() => void) | null = null;

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  settle(outcome: { ok: true; value: R } | { ok: false; error: unknown }): void {
    this.outcome = outcome;
    this.notify();
  }

  async next(): Promise<{ item: T } | { done: R }> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return { item };
      if (this.outcome) {
        if (!this.outcome.ok) throw this.outcome.error;
        return { done: this.outcome.value };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

const callId = (): string => `call_${randomBytes(12).toString('base64url')}`;

/**
 * The arguments text inside a finished call's raw text (`prefix name paramsPrefix ARGS suffix`
 * in the wrapper's syntax), decoded from all its tokens at once; undefined when it does not
 * have that shape.
 */
export function argumentsOfRawCall(wrapper: ChatWrapper, name: string, raw: LlamaTextJSON): string | undefined {
  const call = wrapper.settings.functions.call;
  const text = (t: unknown): string =>
    LlamaText(t as LlamaText)
      .toString()
      .replaceAll('{{functionName}}', name);
  const before = text(call.prefix) + name + text(call.paramsPrefix);
  const after = text(call.suffix);
  const full = LlamaText.fromJSON(raw).toString();
  const start = full.indexOf(before);
  if (start < 0 || !full.endsWith(after) || start + before.length > full.length - after.length) return undefined;
  return full.slice(start + before.length, full.length - after.length).trim();
}

/** Trailing newlines of a params chunk are held back: the grammar ends arguments with four of them. */
const TRAILING_NEWLINES = /\n+$/;

type GenerateResult = Awaited<ReturnType<LlamaChat['generateResponse']>>;

export async function* generateWithTools(
  sequence: LlamaContextSequence,
  plan: ToolChatPlan,
  options: ToolSampling,
  signal: AbortSignal,
): AsyncGenerator<StreamChunk, ToolGenerationSummary, void> {
  const started = performance.now();
  let firstTokenAt: number | null = null;
  const queue = new ChunkQueue<StreamChunk, GenerateResult>();
  const push = (chunk: StreamChunk): void => {
    firstTokenAt ??= performance.now();
    queue.push(chunk);
  };

  /**
   * Calls by node-llama-cpp's callIndex: `held` = trailing newlines not yet sent; `sent` = the
   * arguments sent so far. Arguments are streamed as decoded token by token; once a piece holds
   * a replacement character (a token carrying part of a multi-byte character), the rest of that
   * call waits for the call to end and comes from decoding all its tokens at once, so non-ASCII
   * arguments arrive intact (`lossy` then keeps the pieces, for a call that never ends).
   */
  const calls = new Map<number, { held: string; sent: string; lossy: string | null }>();
  /** Arguments being written now; the budget's end steered a call closed. */
  let inArguments = false;
  let steered = false;
  let completedCalls = 0;
  const sendArguments = (index: number, call: { sent: string }, text: string): void => {
    if (text === '') return;
    call.sent += text;
    push({ type: 'tool_call', index, arguments: text });
  };
  const startCall = (index: number, name: string): { held: string; sent: string; lossy: string | null } => {
    let call = calls.get(index);
    if (!call) {
      call = { held: '', sent: '', lossy: null };
      calls.set(index, call);
      push({ type: 'tool_call', index, id: callId(), name, arguments: '' });
    }
    return call;
  };

  const meterBefore = sequence.tokenMeter.getState();
  const budget = Math.max(1, Math.min(options.maxTokens, sequence.contextSize - plan.promptTokens));
  const stopper = new AbortController();
  const onAbort = (): void => stopper.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });

  const noBias = new TokenBias(sequence.model.tokenizer);
  const tokenBias = (): TokenBias => {
    if (!inArguments) return noBias;
    const used = sequence.tokenMeter.diff(meterBefore).usedOutputTokens;
    if (budget - used > plan.closeReserve) return noBias;
    steered = true;
    return plan.closingBias;
  };

  const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: plan.wrapper });
  const run = chat
    .generateResponse(plan.history, {
      functions: plan.functions,
      documentFunctionParams: true,
      ...(plan.maxParallelCalls !== undefined ? { maxParallelFunctionCalls: plan.maxParallelCalls } : {}),
      maxTokens: budget,
      temperature: options.temperature,
      topP: options.topP,
      // node-llama-cpp's default seed is the current time: concurrent requests would sample alike.
      seed: options.seed ?? randomInt(2 ** 31),
      // The same sampling as requests without tools (generation.ts): no repeat penalty.
      repeatPenalty: false,
      tokenBias,
      ...(options.stop.length > 0 ? { customStopTriggers: [...options.stop] } : {}),
      signal: stopper.signal,
      onResponseChunk: (chunk) => {
        // Main response text only; thought segments of reasoning models are not returned here.
        if (chunk.type === undefined && chunk.text !== '') push({ type: 'token', text: chunk.text, tokens: chunk.tokens.length });
      },
      onFunctionCallParamsChunk: ({ callIndex, functionName, paramsChunk, done }) => {
        const call = startCall(callIndex, functionName);
        inArguments = !done;
        if (call.lossy === null && paramsChunk.includes('\uFFFD')) call.lossy = '';
        if (call.lossy !== null) {
          call.lossy += paramsChunk;
          return;
        }
        const text = call.held + paramsChunk;
        const out = done ? text.trimEnd() : text.replace(TRAILING_NEWLINES, '');
        call.held = done ? '' : text.slice(out.length);
        sendArguments(callIndex, call, out);
      },
      onFunctionCall: ({ functionName, params, raw }) => {
        const index = completedCalls++;
        const call = calls.get(index);
        if (!call) {
          // A function without parameters streams no arguments: it is called with an empty object.
          const args = argumentsOfRawCall(plan.wrapper, functionName, raw) || JSON.stringify(params ?? {});
          sendArguments(index, startCall(index, functionName), args);
        } else if (call.lossy !== null) {
          const exact = argumentsOfRawCall(plan.wrapper, functionName, raw) ?? JSON.stringify(params);
          const rest = exact.startsWith(call.sent) ? exact.slice(call.sent.length) : (call.held + call.lossy).trimEnd();
          sendArguments(index, call, rest);
          call.lossy = null;
        }
      },
    })
    .then(
      (value) => queue.settle({ ok: true, value }),
      (error: unknown) => queue.settle({ ok: false, error }),
    );

  try {
    let result: GenerateResult;
    for (;;) {
      const next = await queue.next();
      if ('done' in next) {
        result = next.done;
        break;
      }
      yield next.item;
    }
    if (signal.aborted) throw signal.reason;
    // A call cut off by the budget: what it wrote, as decoded.
    for (const [index, call] of calls) {
      if (call.lossy !== null)
        yield { type: 'tool_call', index, arguments: (call.held + call.lossy).replace(TRAILING_NEWLINES, '') };
    }
    const meta = result.metadata;
    let finishReason: FinishReason = 'stop';
    let stopSequence: string | undefined;
    if (meta.stopReason === 'maxTokens') finishReason = 'length';
    else if (meta.stopReason === 'functionCalls') finishReason = steered ? 'length' : 'tool_calls';
    else if (meta.stopReason === 'customStopTrigger') {
      const text = meta.customStopTrigger.filter((v): v is string => typeof v === 'string').join('');
      if (options.stop.includes(text)) stopSequence = text;
    }
    const ended = performance.now();
    const first = firstTokenAt ?? ended;
    const used = sequence.tokenMeter.diff(meterBefore);
    return {
      finishReason,
      inputTokens: plan.promptTokens,
      // Sampled tokens (one per decode that produced logits); never more than the budget.
      outputTokens: Math.min(used.usedOutputTokens, budget),
      promptSeconds: (first - started) / 1000,
      generationSeconds: (ended - first) / 1000,
      firstTokenAt,
      ...(stopSequence !== undefined ? { stopSequence } : {}),
    };
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Runs when the consumer stops early too: stop generating, then let go of the sequence.
    stopper.abort(new DOMException('The operation was aborted', 'AbortError'));
    await run;
    chat.dispose({ disposeSequence: false });
  }
}
