/**
 * The contract every target (local GGUF model or provider API) implements.
 * Public routes only talk to targets through this interface.
 */
import type { FinishReason, Operation, Usage } from '@sipp/shared';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { IncomingHttpHeaders } from 'node:http';
import type { IgnorableField } from './ignored.js';

// ------------------------------------------------------------------ requests
//
// One internal request shape for every public API surface (Sipp, OpenAI,
// Anthropic): a surface parses its wire format into these types, the pipeline
// and router pass them on, and each target translates them into what its
// backend speaks. Nothing here is tied to one provider's wire format.

/** An image given inline (base64) or by URL. */
export type ImageSource =
  { kind: 'url'; url: string; detail?: 'auto' | 'low' | 'high' } | { kind: 'base64'; mediaType: string; data: string };

export type ContentPart = { type: 'text'; text: string } | { type: 'image'; source: ImageSource };

/** Message content: plain text, or an ordered list of parts. */
export type Content = string | ContentPart[];

/** A tool call the model made. `arguments` is the JSON text of the arguments object. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * A conversation message. `system` also carries OpenAI `developer` messages and
 * Anthropic's top-level `system`; `tool` carries a tool's result (OpenAI `tool`
 * role, Anthropic `tool_result` block).
 */
export type Message =
  | { role: 'system'; content: Content }
  | { role: 'user'; content: Content }
  | { role: 'assistant'; content: Content; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: Content; isError?: boolean };

/** A function the model may call; `parameters` is a JSON Schema object. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  /** OpenAI strict mode: the arguments must follow `parameters` exactly (forwarded to openai-type targets). */
  strict?: boolean;
}

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

export interface GenerationOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  /** End-user id for the provider's abuse monitoring (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  /**
   * How much the model should think before answering: Anthropic `thinking`
   * (`budgetTokens`, or `adaptive`), OpenAI `reasoning_effort` / Responses
   * `reasoning.effort` (`effort`). A hint: a target translates it to its own
   * form where it has one and otherwise ignores it, naming `reasoning` or
   * `thinking` in x-sipp-ignored (docs/api.md#ignored-fields).
   */
  reasoning?: {
    effort?: 'minimal' | 'low' | 'medium' | 'high';
    budgetTokens?: number;
    adaptive?: boolean;
    /** The client's fields it came from (`thinking`, `output_config`, `reasoning_effort` …), named when a target ignores it. */
    from?: IgnorableField[];
  };
  /** OpenAI `response_format` object (JSON mode / JSON schema), as the client sent it. */
  responseFormat?: Record<string, unknown>;
  /**
   * Further OpenAI Chat Completions fields from the OpenAI surface, forwarded
   * unchanged to openai-type targets only. Targets of other types refuse a
   * request carrying one (400 naming the field): never silently dropped.
   */
  openaiExtras?: Record<string, unknown>;
}

/** A query (raw prompt) or chat (messages) generation request, already validated. */
export type TextInput = { operation: 'query'; prompt: string } | { operation: 'chat'; messages: Message[] };

export interface CallContext {
  /** The gateway request id (x-request-id), for correlation headers and logs. */
  requestId: string;
  /** Aborted when the client disconnects or the gateway gives up: stop work at once. */
  signal: AbortSignal;
  /** Request-scoped logger (already carries the request id). Never log prompts. */
  log: Logger;
  /**
   * Local targets: fail at once with a `busy` GatewayError when no sequence is
   * free instead of waiting in the queue (the router sets it when another
   * group member can take the request). Providers ignore it.
   */
  noWait?: boolean;
  /**
   * Records a field the target ignored because it only tunes how a provider
   * works and this target has no equivalent (docs/api.md#ignored-fields).
   * Call it before the first chunk of a stream: the header goes out with it.
   */
  ignore?(field: IgnorableField): void;
  /** Trace-context headers (`traceparent`) for the upstream request, set by the tracing module per attempt. */
  traceHeaders?: Record<string, string>;
  /**
   * Local targets report their internal phases here (docs/operations.md#traces):
   * times are performance.now() milliseconds. Set by the tracing module per
   * attempt only when tracing is on, so a target checks for it and pays nothing otherwise.
   */
  phase?(name: LocalPhase, startMs: number, endMs: number, attributes?: Record<string, string | number>): void;
}

/** A local target's phases: waiting for a free sequence, evaluating the prompt, generating. */
export type LocalPhase = 'queue' | 'prompt' | 'generation';

export type TextRequest = TextInput & { options: GenerationOptions };

export interface TextResult {
  /** Upstream response id when there is one. */
  id?: string;
  text: string;
  /** `tool_calls` when the model called tools (then `toolCalls` is set). */
  finishReason: FinishReason;
  toolCalls?: ToolCall[];
  /** The stop string that ended generation, when the backend says which (finishReason `stop`). */
  stopSequence?: string;
  usage?: Usage;
}

/**
 * Streamed pieces. `token` chunks carry text and how many model tokens it spans
 * (default 1). `tool_call` chunks carry a tool call incrementally: the first
 * chunk of a call (per `index`) has its `id` and `name`, later ones only more
 * `arguments` text. Exactly one `end` chunk closes a successful stream.
 */
export type StreamChunk =
  | { type: 'token'; text: string; tokens?: number }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'end'; finishReason: FinishReason; usage?: Usage; id?: string; stopSequence?: string };

/** One embeddings call: one vector per input, in order. */
export interface EmbedRequest {
  inputs: string[];
  /** OpenAI `dimensions` (openai-type targets only). */
  dimensions?: number;
  user?: string;
}

export interface EmbedResult {
  id?: string;
  /** One vector per input, in input order. */
  embeddings: number[][];
  usage?: Usage;
}

/**
 * What a target accepts beyond the basics; the pipeline refuses a request that
 * asks for more (400 naming the field) instead of dropping it silently.
 */
export interface TargetCapabilities {
  /** Inclusive range of `temperature` the backend accepts (OpenAI 0-2, Anthropic 0-1). */
  temperature: { min: number; max: number };
  /** Most stop strings the backend takes (OpenAI: 4); null = no limit beyond the gateway's own. */
  maxStop: number | null;
  /** Takes `seed` (the Anthropic Messages API has none). */
  seed: boolean;
  tools: boolean;
  images: boolean;
  /** Takes images in system messages too (Anthropic: text only there). */
  systemImages: boolean;
  responseFormat: boolean;
  /** Accepts `openaiExtras` (openai and openai_compatible targets). */
  openaiExtras: boolean;
  /** Honours `EmbedRequest.dimensions`. */
  embeddingDimensions: boolean;
  /**
   * Translates `GenerationOptions.reasoning` into its own form (OpenAI
   * reasoning models, Anthropic thinking). Absent or false: the hint is ignored
   * and named in x-sipp-ignored (docs/api.md#ignored-fields).
   */
  reasoning?: boolean;
}

export type TargetType = 'local' | 'openai' | 'openai_compatible' | 'anthropic';

/** What the index and the admin dashboard may show about a target. Never secrets. */
export interface TargetDescription {
  name: string;
  type: TargetType;
  model: string;
  operations: Operation[];
  /** Provider base URL (no credentials, no query string). */
  baseUrl?: string;
  /** Local targets: requested/selected backend and devices. */
  backend?: {
    requested: string;
    selected: string | null;
    devices?: string[];
    vramBytes?: { total: number; used: number } | null;
  };
  stats?: 'off' | 'basic' | 'profile';
  /** Target-specific runtime numbers (local: busy sequences, queue depth, tokens/s...). */
  runtime?: Record<string, number | string | boolean | null>;
  /** Per-request phase timings (local targets with stats = "profile"). */
  profile?: Record<string, number | string | null>;
}

// ------------------------------------------------------------- pass-through
//
// Same API in, same API out (docs/api.md#pass-through): when a surface speaks
// the API a provider target speaks natively, the client's body is forwarded
// with only `model` rewritten, and the answer relayed as the provider sent it.

/** A provider wire API a surface can speak and a provider target can speak natively. */
export type WireApi = 'anthropic_messages' | 'openai_chat' | 'openai_responses';

export interface ForwardRequest {
  api: WireApi;
  /** HTTP method (default POST). */
  method?: 'POST' | 'GET' | 'DELETE';
  /** API path under the target's base URL when it is not the API's generation path (`/v1/messages/count_tokens`, `/responses/{id}`). */
  path?: string;
  /** The client's JSON body as sent (POST); the target replaces only `model`. */
  body?: Readonly<Record<string, unknown>>;
  /** `body`'s bytes as the client sent them, while `body` is unchanged: the target sends them with only `model` replaced. */
  raw?: Buffer;
  /** The client's request headers; the target picks the ones its API defines (`anthropic-version`, `anthropic-beta`). */
  headers: IncomingHttpHeaders;
  stream: boolean;
  /** The name the client asked for: the answer's `model` is renamed to it. */
  model: string;
}

/** One server-sent event as the provider sent it (`event` absent for unnamed events). */
export interface ForwardFrame {
  event?: string;
  data: string;
}

export type Forwarded =
  | {
      kind: 'json';
      /** The answer, parsed (its `model` renamed). */
      body: unknown;
      /** The same answer as JSON text, sent as it is when present (a pass-through relays the provider's own text). */
      text?: string;
      usage?: Usage;
      finishReason?: FinishReason;
      id?: string;
    }
  | {
      kind: 'stream';
      frames: AsyncIterator<ForwardFrame>;
      /** The provider's id of what it made (a Responses response id), once a frame carried it. */
      id(): string | undefined;
      /** Usage read from the frames so far (final once the stream ended). */
      usage(): Usage | undefined;
      /** Content deltas relayed so far (an aborted stream's output when no usage came; docs/budgets.md#cost). */
      generated?(): number;
      /** The finish reason read from the frames, normalized (tracing); undefined until one came. */
      finishReason(): FinishReason | undefined;
      /** The provider's own error type when it sent an in-stream error frame (relayed as sent). */
      errorType(): string | undefined;
      /** Text and tool-call frames relayed so far: the output a stream cut short is recorded with (docs/dashboard.md#reasons). */
      streamed?(): number;
    };

export interface Target {
  readonly name: string;
  readonly type: TargetType;
  /** Operations this target supports; others are rejected with 400 invalid_request. */
  readonly operations: ReadonlySet<Operation>;
  /** Request features this target honours (see TargetCapabilities). */
  readonly capabilities: TargetCapabilities;
  /** Loads models / opens pools. Readiness waits for every target's load(). */
  load(): Promise<void>;
  /** Finite generation. Throws GatewayError (upstream, upstream_timeout, execution, admission...). */
  complete(req: TextRequest, ctx: CallContext): Promise<TextResult>;
  /**
   * Streaming generation. May throw GatewayError before the first chunk (then
   * the client gets a JSON error) or later (then an `event: error` frame).
   */
  stream(req: TextRequest, ctx: CallContext): AsyncIterable<StreamChunk>;
  embed(req: EmbedRequest, ctx: CallContext): Promise<EmbedResult>;
  /** Wire APIs this target speaks natively (pass-through); absent or empty = translation only. */
  readonly forwards?: ReadonlySet<WireApi>;
  /**
   * Pass-through: sends the client's body in its own API (one of `forwards`),
   * only `model` rewritten. Throws ProviderError (the provider's own status and
   * error document) on a non-2xx answer, GatewayError on a transport fault.
   * Streams: resolves once the response headers arrived.
   */
  forward?(req: ForwardRequest, ctx: CallContext): Promise<Forwarded>;
  /**
   * Input tokens of a chat request with the model's own tokenizer and chat
   * template (local targets; `POST /v1/messages/count_tokens`, docs/api.md#count-tokens).
   */
  countTokens?(req: TextRequest, ctx: CallContext): Promise<number>;
  describe(): TargetDescription;
  /** Releases models, sockets and timers. */
  close(): Promise<void>;
}

/** What a target factory gets from the gateway. */
export interface TargetDeps {
  log: Logger;
  /** The gateway's own prom-client registry (not the global one). */
  registry: Registry;
  /** Reads a secret from the environment; only called by `serve`, never by `check`. */
  secret(envName: string): string;
}
