/**
 * What a public API surface (Sipp, OpenAI, Anthropic wire format) supplies to
 * the one request pipeline: how to read its credential, how to parse its body
 * into the internal request, and how to render results, streams and errors
 * back in its own format. Surfaces hold no policy: every check runs in
 * the pipeline (public/pipeline.ts), once, for all of them. This is the
 * surface contract, as targets/target.ts is the target contract; the registry
 * of which surface speaks which route is surfaces/index.ts.
 *
 * A surface is a union discriminated by its operation: a text surface
 * (`query`, `chat`) renders results and streams, an embeddings surface renders
 * vectors; neither implements the other's methods.
 */
import type { Api, Operation, Usage } from '@sipp/shared';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayError } from '../errors.js';
import type { Caller } from '../security/bearer.js';
import type { IgnorableField } from '../targets/ignored.js';
import type { PassThrough } from './passthrough.js';
import type { EmbedRequest, EmbedResult, StreamChunk, TextRequest, TextResult, WireApi } from '../targets/target.js';

export type TargetCall = { operation: 'query' | 'chat'; text: TextRequest } | { operation: 'embed'; embed: EmbedRequest };

/** A validated request in the internal model, plus whatever the surface needs to render the answer. */
export interface ParsedRequest {
  /** Target name the client asked for. */
  model: string;
  stream: boolean;
  call: TargetCall;
  /** Hint-only fields the translation ignores whatever the target (docs/api.md#ignored-fields). */
  ignored?: readonly IgnorableField[];
  /**
   * Set by the pipeline on surfaces with a wire API (docs/api.md#pass-through):
   * the client's body, bytes and headers as sent, for members that speak its
   * `api` natively. When `parseError` is set the body did not parse into
   * `call` (which is then empty): only those members can serve. The body is
   * changed only through `setMember`, which drops the client's bytes.
   */
  passthrough?: PassThrough;
}

export type ToolCallChunk = Extract<StreamChunk, { type: 'tool_call' }>;
export type EndChunk = Extract<StreamChunk, { type: 'end' }>;

/** Renders one stream as text frames. Each method returns what to write (possibly ''). */
export interface StreamRenderer {
  /** Written right after the headers, once the target's first chunk has arrived. */
  start(): string;
  /** A non-empty piece of text; `sequence` counts model tokens before it. */
  token(text: string, sequence: number): string;
  toolCall(chunk: ToolCallChunk): string;
  /** The closing frames. `usage` is the target's, when it reported one. May wait (e.g. to store the response first). */
  end(chunk: EndChunk, usage: Usage | undefined, outputTokens: number): string | Promise<string>;
  /** A failure after the stream began. */
  error(err: GatewayError): string;
}

/** What every surface supplies, whatever its operation. */
interface SurfaceBase<P extends ParsedRequest> {
  readonly api: Api;
  /**
   * The provider API this surface speaks, when a provider target can take it
   * natively (docs/api.md#pass-through): such members get the client's body
   * as sent, and `basics` is all the gateway reads of it (`model`, `stream`).
   */
  readonly wire?: {
    api: WireApi;
    basics(body: Record<string, unknown>): { model: string; stream: boolean };
    /** Request headers that only tune the provider: named in x-sipp-ignored when the request is translated. */
    hintHeaders?: readonly IgnorableField[];
    /**
     * After a member took the body as sent, before its answer goes out: `id` is the provider's
     * id of what it made, when the API has one (the Responses surface remembers which target made it).
     */
    forwarded?(req: P, target: string, id: string | undefined): Promise<void>;
  };
  /** The presented credential as an `Authorization` value (`Bearer …`), if any. */
  credential(headers: IncomingHttpHeaders): string | undefined;
  /** Validates the body; throws InvalidFieldError / GatewayError naming the field. */
  parse(body: Record<string, unknown>): P;
  /** A neutral capability field name (`stop`, `messages.1.content.0`) in this surface's naming. */
  field(neutral: string, req: P): string;
}

/** A finite answer a surface has already written as JSON text (exactly JSON.stringify of the document): the pipeline sends the text, not a second serialization. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A surface of a text operation (`query`, `chat`): a finite answer or a stream. */
export interface TextSurface<P extends ParsedRequest = ParsedRequest> extends SurfaceBase<P> {
  readonly operation: TextOperation;
  /**
   * Optional step once the caller is known and allowed the model, before
   * routing: e.g. the Responses surface loads `previous_response_id`
   * (docs/api.md#responses). Throws GatewayError / InvalidFieldError.
   */
  prepare?(req: P, caller: Caller): Promise<void>;
  /**
   * The finite answer; may be a promise (e.g. to store the response first), which the pipeline awaits.
   * A surface that already serialized the document (to store it) returns it as JsonText, sent as is.
   */
  renderText(req: P, model: string, result: TextResult): unknown;
  openStream(req: P, model: string, requestId: string): StreamRenderer;
}

/** A surface of the `embed` operation: vectors, never a stream. */
export interface EmbedSurface<P extends ParsedRequest = ParsedRequest> extends SurfaceBase<P> {
  readonly operation: 'embed';
  renderEmbed(req: P, model: string, result: EmbedResult): unknown;
}

export type Surface<P extends ParsedRequest = ParsedRequest> = TextSurface<P> | EmbedSurface<P>;

export type TextOperation = Exclude<Operation, 'embed'>;

/** The common credential: `Authorization: Bearer`. */
export function bearerCredential(headers: IncomingHttpHeaders): string | undefined {
  return headers.authorization || undefined;
}
