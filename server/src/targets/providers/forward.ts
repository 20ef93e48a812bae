/**
 * Same API in, same API out (docs/api.md#pass-through): a provider target
 * forwards the client's body in the client's own API, with only `model`
 * rewritten to the target's model, and the API's own headers (Anthropic's
 * `anthropic-version`, the client's winning over the target's default, and
 * `anthropic-beta`). The answer and every stream frame are relayed as the
 * provider sent them, only `model` renamed to the name the client asked for;
 * usage is read on the way for metrics and the request record. A provider's
 * error answer keeps its status and error document (ProviderError), except a
 * 401/403/407: those are about the gateway's own credential, not the client's
 * request, and stay `502 upstream`.
 */
import type { FinishReason, Usage } from '@sipp/shared';
import { anthropicStopReason } from './anthropic-wire.js';
import { openAIFinishReason } from './openai-wire.js';
import type { CallContext, ForwardFrame, ForwardRequest, Forwarded, WireApi } from '../target.js';
import { ProviderError, providerErrorBody } from '../provider-error.js';
import { spliceBytes, spliceString } from './json-splice.js';
import type { SseEvent } from './sse-parser.js';
import type { RawExchange, UpstreamClient } from './upstream-client.js';
import { retryAfterHeader, upstreamStatusError } from './upstream-status.js';
import { count, isObject, streamEndedEarly, type Json } from './wire-shape.js';

/** How one wire API's answers are read and renamed. */
interface WireCodec {
  /** Error documents follow this provider's shape. */
  errors: 'anthropic' | 'openai';
  /** Request headers of the API copied from the client (lower-case names). */
  headers: readonly string[];
  /** Renames the model of a finite answer in place; returns its usage. */
  finite(json: Json, model: string): Usage | undefined;
  /** The normalized finish reason of a finite answer. */
  finish(json: Json): FinishReason | undefined;
  /** A new stream reader. */
  stream(model: string): FrameReader;
  /** The provider's id of what a finite answer made (Responses only). */
  id?(json: Json): string | undefined;
}

/** Where a frame's `model` is (json-splice.ts paths). */
const TOP_MODEL = ['model'] as const;
const RESPONSE_MODEL = ['response', 'model'] as const;
const MESSAGE_MODEL = ['message', 'model'] as const;
type ModelPath = typeof TOP_MODEL | typeof RESPONSE_MODEL | typeof MESSAGE_MODEL;

interface FrameReader {
  /** Reads one frame's JSON; where its `model` must be renamed (null: nothing to rename). */
  read(event: string, json: Json): ModelPath | null;
  /** A frame that is not JSON (OpenAI's `[DONE]`). */
  text?(data: string): void;
  usage(): Usage | undefined;
  /** Content deltas relayed so far: what an aborted stream is charged as output when no usage came (docs/budgets.md#cost). */
  generated(): number;
  finish(): FinishReason | undefined;
  /** The provider sent its terminal frame. */
  ended(): boolean;
  errorType(): string | undefined;
  id?(): string | undefined;
}

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0): Usage => {
  const u: Usage = { input_tokens: input, output_tokens: output, total_tokens: input + output };
  // Prompt-cache reads and writes, priced apart (docs/budgets.md#cost).
  if (cacheRead > 0) u.cache_read_tokens = Math.min(cacheRead, input);
  if (cacheWrite > 0) u.cache_write_tokens = cacheWrite;
  return u;
};

const anthropicInput = (u: Json): number =>
  count(u.input_tokens) + count(u.cache_creation_input_tokens) + count(u.cache_read_input_tokens);

const anthropicUsage = (u: Json, output: number): Usage =>
  usage(anthropicInput(u), output, count(u.cache_read_input_tokens), count(u.cache_creation_input_tokens));

function renameModel(obj: unknown, model: string): boolean {
  if (!isObject(obj) || typeof obj.model !== 'string' || obj.model === model) return false;
  obj.model = model;
  return true;
}

/** Sets the string at `path` (the fallback when a frame's text cannot be spliced). */
function renameAt(json: Json, path: ModelPath, model: string): void {
  renameModel(path.length === 1 ? json : json[path[0]], model);
}

/** Whether a frame's member holds a `model` other than `model` (then `path` is renamed). */
const needsRename = (obj: unknown, model: string, path: ModelPath): ModelPath | null =>
  isObject(obj) && typeof obj.model === 'string' && obj.model !== model ? path : null;

function errorTypeOf(json: Json): string | undefined {
  const e = json.error;
  const type = isObject(e) ? e.type : undefined;
  return typeof type === 'string' && /^[a-z_]{1,40}$/.test(type) ? type : 'error';
}

const anthropicMessages: WireCodec = {
  errors: 'anthropic',
  headers: ['anthropic-version', 'anthropic-beta'],
  finite(json, model) {
    renameModel(json, model);
    return isObject(json.usage) ? anthropicUsage(json.usage, count(json.usage.output_tokens)) : undefined;
  },
  finish: (json) => (json.stop_reason != null ? anthropicStopReason(json.stop_reason) : undefined),
  stream(model) {
    let stop: FinishReason | undefined;
    let inputUsage: Json = {};
    let output = 0;
    let seen = false;
    let done = false;
    let deltas = 0;
    let error: string | undefined;
    return {
      read(_event, json) {
        switch (json.type) {
          case 'message_start': {
            const m = json.message;
            if (isObject(m) && isObject(m.usage)) {
              seen = true;
              inputUsage = m.usage;
              output = count(m.usage.output_tokens);
            }
            return needsRename(m, model, MESSAGE_MODEL);
          }
          case 'message_delta':
            if (isObject(json.delta) && json.delta.stop_reason != null) stop = anthropicStopReason(json.delta.stop_reason);
            if (isObject(json.usage)) {
              seen = true;
              if (typeof json.usage.output_tokens === 'number') output = count(json.usage.output_tokens);
              if (typeof json.usage.input_tokens === 'number') inputUsage = json.usage;
            }
            return null;
          case 'content_block_delta':
            deltas++;
            return null;
          case 'message_stop':
            done = true;
            return null;
          case 'error':
            error = errorTypeOf(json);
            done = true;
            return null;
          default:
            return null;
        }
      },
      usage: () => (seen ? anthropicUsage(inputUsage, output) : undefined),
      generated: () => deltas,
      finish: () => stop,
      ended: () => done,
      errorType: () => error,
    };
  },
};

function openAIUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  // Chat Completions counts prompt/completion tokens; Responses input/output tokens.
  const input = count(raw.prompt_tokens ?? raw.input_tokens);
  const output = count(raw.completion_tokens ?? raw.output_tokens);
  // Cached input: Chat Completions `prompt_tokens_details`, Responses `input_tokens_details` (reasoning is in the output count).
  const details = raw.prompt_tokens_details ?? raw.input_tokens_details;
  return usage(input, output, isObject(details) ? count(details.cached_tokens) : 0);
}

const openAIChat: WireCodec = {
  errors: 'openai',
  headers: [],
  finite(json, model) {
    renameModel(json, model);
    return openAIUsage(json.usage);
  },
  finish(json) {
    const c: unknown = Array.isArray(json.choices) ? json.choices[0] : undefined;
    return isObject(c) && c.finish_reason != null ? openAIFinishReason(c.finish_reason) : undefined;
  },
  stream(model) {
    let u: Usage | undefined;
    let stop: FinishReason | undefined;
    let finished = false;
    let done = false;
    let deltas = 0;
    let error: string | undefined;
    return {
      read(_event, json) {
        const found = openAIUsage(json.usage);
        if (found) u = found;
        if (Array.isArray(json.choices) && isObject(json.choices[0]) && isObject(json.choices[0].delta)) {
          const d = json.choices[0].delta;
          if ((typeof d.content === 'string' && d.content !== '') || d.tool_calls !== undefined) deltas++;
        }
        if (json.error !== undefined) {
          error = errorTypeOf(json);
          done = true;
        }
        const c: unknown = Array.isArray(json.choices) ? json.choices[0] : undefined;
        if (isObject(c) && c.finish_reason != null) {
          finished = true;
          stop = openAIFinishReason(c.finish_reason);
        }
        return needsRename(json, model, TOP_MODEL);
      },
      text(data) {
        if (data === '[DONE]') done = true;
      },
      usage: () => u,
      generated: () => deltas,
      finish: () => stop,
      // Some OpenAI-compatible servers end the body after the finish chunk without `[DONE]`.
      ended: () => done || finished,
      errorType: () => error,
    };
  },
};

const RESPONSE_END = new Set(['response.completed', 'response.failed', 'response.incomplete']);

const responseId = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

const openAIResponses: WireCodec = {
  errors: 'openai',
  headers: [],
  finite(json, model) {
    renameModel(json, model);
    return openAIUsage(json.usage);
  },
  id: (json) => responseId(json.id),
  finish: (json) => (json.status === 'completed' ? 'stop' : json.status === 'incomplete' ? 'length' : undefined),
  stream(model) {
    let u: Usage | undefined;
    let stop: FinishReason | undefined;
    let done = false;
    let deltas = 0;
    let error: string | undefined;
    let id: string | undefined;
    return {
      read(event, json) {
        const type = typeof json.type === 'string' ? json.type : event;
        if (id === undefined && isObject(json.response)) id = responseId(json.response.id);
        if (type.endsWith('.delta')) deltas++;
        if (RESPONSE_END.has(type)) done = true;
        if (type === 'response.completed') stop = 'stop';
        if (type === 'response.incomplete') stop = 'length';
        if (type === 'error') {
          error = errorTypeOf({ error: json });
          done = true;
        }
        const response = json.response;
        if (isObject(response)) {
          const found = openAIUsage(response.usage);
          if (found) u = found;
        }
        return needsRename(response, model, RESPONSE_MODEL);
      },
      usage: () => u,
      generated: () => deltas,
      finish: () => stop,
      ended: () => done,
      errorType: () => error,
      id: () => id,
    };
  },
};

export const WIRE_CODECS: Readonly<Record<WireApi, WireCodec>> = {
  anthropic_messages: anthropicMessages,
  openai_chat: openAIChat,
  openai_responses: openAIResponses,
};

export interface ForwardTargetInit {
  client: UpstreamClient;
  /** The target's own model name (what replaces the client's `model`). */
  model: string;
  /** Generation path (under the base URL) of each API the target speaks natively. */
  paths: Partial<Record<WireApi, string>>;
  /** Strings scrubbed from any provider text passed on (the target's credential). */
  secrets: readonly string[];
}

/** The status mapping of a pass-through exchange (see the module comment). */
function statusError(api: 'anthropic' | 'openai', secrets: readonly string[]) {
  return (status: number, wait: number | undefined, text: string): Error => {
    if (status === 401 || status === 403 || status === 407 || status < 400) return upstreamStatusError(status, wait);
    const gateway = upstreamStatusError(status, wait);
    const body = providerErrorBody(api, text, secrets);
    const headers = wait !== undefined ? { 'retry-after': retryAfterHeader(wait) } : undefined;
    return new ProviderError(gateway.code, gateway.message, status, body, headers, gateway.upstream!);
  };
}

function headersFor(req: ForwardRequest, names: readonly string[]): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of names) {
    const v = req.headers[name];
    const value = Array.isArray(v) ? v.join(',') : v;
    if (typeof value === 'string' && value.length > 0) (out ??= {})[name] = value;
  }
  return out;
}

/** Forwards one pass-through request (Target.forward of provider targets). */
export async function forwardRequest(init: ForwardTargetInit, req: ForwardRequest, ctx: CallContext): Promise<Forwarded> {
  const codec = WIRE_CODECS[req.api];
  const path = init.client.path(req.path ?? init.paths[req.api]!);
  const raw: RawExchange = { method: req.method ?? 'POST', path, statusError: statusError(codec.errors, init.secrets) };
  if (req.body !== undefined) {
    const renamed = 'model' in req.body;
    // The client's bytes with only `model` replaced (json-splice.ts); else `model` keeps its place among the parsed fields.
    const bytes = req.raw && (renamed ? spliceBytes(req.raw, 'model', init.model) : req.raw);
    if (bytes) raw.bytes = bytes;
    else raw.body = renamed ? { ...req.body, model: init.model } : req.body;
  }
  const headers = headersFor(req, codec.headers);
  if (headers) raw.headers = headers;
  if (!req.stream) {
    const { text, json } = await init.client.rawJson(raw, ctx);
    // The provider's text goes back as it came, only `model` replaced (json-splice.ts); the parse is read for accounting.
    const out: Extract<Forwarded, { kind: 'json' }> = { kind: 'json', body: json, text };
    if (isObject(json)) {
      const rename = needsRename(json, req.model, TOP_MODEL);
      const u = codec.finite(json, req.model);
      if (rename) out.text = spliceString(text, TOP_MODEL, req.model) ?? JSON.stringify(json);
      if (u) out.usage = u;
      const finish = codec.finish(json);
      if (finish) out.finishReason = finish;
      const id = codec.id?.(json);
      if (id) out.id = id;
    }
    return out;
  }
  const events = init.client.rawSse(raw, ctx);
  const reader = codec.stream(req.model);
  // Wait for the response headers (and a first event): a failure up to here can still fall over or be a JSON error.
  const first = await events.next();
  return {
    kind: 'stream',
    frames: relay(first, events, reader, req.model),
    usage: () => reader.usage(),
    generated: () => reader.generated(),
    finishReason: () => reader.finish(),
    errorType: () => reader.errorType(),
    streamed: () => reader.generated(),
    id: () => reader.id?.(),
  };
}

async function* relay(
  first: IteratorResult<SseEvent>,
  events: AsyncGenerator<SseEvent, void, undefined>,
  reader: FrameReader,
  model: string,
): AsyncGenerator<ForwardFrame, void, undefined> {
  try {
    let next = first;
    while (!next.done) {
      yield frameOf(next.value, reader, model);
      next = await events.next();
    }
    if (!reader.ended()) throw streamEndedEarly();
  } finally {
    void events.return(undefined).catch(() => {});
  }
}

function frameOf(e: SseEvent, reader: FrameReader, model: string): ForwardFrame {
  let data = e.data;
  const c = data.charCodeAt(0);
  if (c === 123 /* { */) {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      json = undefined;
    }
    const path = isObject(json) ? reader.read(e.event, json) : null;
    // Only `model` changes; the rest of the frame stays as the provider wrote it (json-splice.ts).
    if (path) data = spliceString(data, path, model) ?? (renameAt(json as Json, path, model), JSON.stringify(json));
  } else {
    reader.text?.(data);
  }
  return e.event === 'message' ? { data } : { event: e.event, data };
}
