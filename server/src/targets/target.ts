/**
 * The contract every target (local GGUF model or provider API) implements.
 * Public routes only talk to targets through this interface.
 */
import type { ChatMessage, FinishReason, Operation, Usage } from '@sipp/shared';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface GenerationOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
}

/** A query (raw prompt) or chat (messages) generation request, already validated. */
export type TextInput =
  | { operation: 'query'; prompt: string }
  | { operation: 'chat'; messages: ChatMessage[] };

export interface CallContext {
  /** The gateway request id (x-request-id), for correlation headers and logs. */
  requestId: string;
  /** Aborted when the client disconnects or the gateway gives up: stop work at once. */
  signal: AbortSignal;
  /** Request-scoped logger (already carries the request id). Never log prompts. */
  log: Logger;
}

export type TextRequest = TextInput & { options: GenerationOptions };

export interface TextResult {
  /** Upstream response id when there is one. */
  id?: string;
  text: string;
  finishReason: FinishReason;
  usage?: Usage;
}

/**
 * Streamed pieces. `token` chunks carry text and how many model tokens it spans
 * (default 1); exactly one `end` chunk closes a successful stream.
 */
export type StreamChunk =
  | { type: 'token'; text: string; tokens?: number }
  | { type: 'end'; finishReason: FinishReason; usage?: Usage; id?: string };

export interface EmbedResult {
  id?: string;
  embedding: number[];
  usage?: Usage;
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

export interface Target {
  readonly name: string;
  readonly type: TargetType;
  /** Operations this target supports; others are rejected with 400 invalid_request. */
  readonly operations: ReadonlySet<Operation>;
  /** Loads models / opens pools. Readiness waits for every target's load(). */
  load(): Promise<void>;
  /** Finite generation. Throws GatewayError (upstream, upstream_timeout, execution, admission...). */
  complete(req: TextRequest, ctx: CallContext): Promise<TextResult>;
  /**
   * Streaming generation. May throw GatewayError before the first chunk (then
   * the client gets a JSON error) or later (then an `event: error` frame).
   */
  stream(req: TextRequest, ctx: CallContext): AsyncIterable<StreamChunk>;
  embed(input: string, ctx: CallContext): Promise<EmbedResult>;
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
