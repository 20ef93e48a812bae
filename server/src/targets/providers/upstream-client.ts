/**
 * HTTP exchange with one provider origin: a keep-alive undici Pool created once
 * per target, the per-request deadline, client-abort propagation, and the
 * translation of every transport fault into a sanitized GatewayError.
 *
 * Timeout policy (`timeout_seconds`, here `timeoutMs`):
 * - finite requests (complete, embed): one deadline bounds the whole exchange —
 *   connecting, sending, waiting for headers and reading the full body;
 * - streams: the same deadline bounds everything up to the response headers;
 *   after that it bounds each gap between two body chunks (an idle timeout,
 *   re-armed whenever bytes arrive), not the stream's total length, so a long
 *   generation that keeps producing is never cut, while a stalled one is. The
 *   clock is paused while the gateway's consumer holds an event (a slow client
 *   reading the SSE response must not count as a stalled upstream).
 *   Keep-alives alone (SSE comments, Anthropic `ping` events) re-arm that gap
 *   but not a second one, `keepaliveTimeoutMs`, which only content events
 *   re-arm: a provider that pings forever and says nothing is cut too.
 * Exceeded → GatewayError('upstream_timeout'). undici's own headers/body timers
 * are disabled; this deadline replaces them.
 *
 * Size bounds (docs/configuration.md#provider-limits): a finite answer over
 * `maxResponseBytes` → 502 `upstream_too_large`, one SSE event over
 * `maxEventBytes` → 502 `upstream_protocol` (an `event: error` frame once the
 * stream began); nothing past the bound is buffered.
 *
 * Only real upstream outcomes carry an UpstreamDetail (the mark routing uses
 * to count a failure against the circuit, retry or fall over): a transport
 * fault from the host (refused, reset, DNS, TLS, malformed HTTP), a timeout, a
 * status. A failure to build or send the request here (serializing the body,
 * an invalid argument, any non-network error) is the gateway's own: 500
 * `internal` without UpstreamDetail, logged at error level with its cause.
 *
 * Client abort (`ctx.signal`): the in-flight upstream request is aborted at
 * once, which closes its connection (the upstream sees it), and the call
 * rejects with the signal's reason (an AbortError), never with a GatewayError,
 * so callers can tell a disconnect from a provider fault.
 *
 * Error messages are fixed strings (plus the upstream status code): never
 * upstream headers, upstream bodies (they may echo a credential) or our own
 * request headers, except the cleaned message of a provider's 400/413/422,
 * which is the client's own mistake (see upstream-status.ts). A provider 429
 * becomes `429 upstream_rate_limited` with the provider's wait as `Retry-After`;
 * other 4xx and 5xx are `upstream` (502) naming the status: the client did
 * nothing wrong with the gateway's API, the gateway's exchange with its provider failed. Every
 * error built here carries an UpstreamDetail (phase, status, wait).
 */
import { EventEmitter } from 'node:events';
import type { Dispatcher, Pool as PoolType } from 'undici';
import { Pool } from './undici-pool.js';
import { AnswerTooLarge, GatewayError } from '../../errors.js';
import type { CallContext } from '../target.js';
import { SseEventTooLarge, SseParser, type SseEvent } from './sse-parser.js';
import { isClientRejection, providerMessage, retryAfterMs, upstreamStatusError } from './upstream-status.js';

export interface UpstreamClientOptions {
  /** Provider base URL, possibly with a path prefix (`https://host/v1`). */
  baseUrl: string;
  timeoutMs: number;
  /** Headers sent on every request (auth, content type, version). */
  headers: Record<string, string>;
  /** The credential headers among `headers`: pass-through headers never override them. */
  credentialHeaders?: readonly string[];
  /** When set, `ctx.requestId` is sent under this header name. */
  correlationHeader?: string;
  /** Target name, for log lines only. */
  targetName: string;
  /** Most bytes of one SSE event (default 1 MiB). */
  maxEventBytes?: number;
  /** Most bytes of a finite answer (default 16 MiB). */
  maxResponseBytes?: number;
  /** Longest gap between two content events of a stream when only keep-alives arrive (default: no such bound). */
  keepaliveTimeoutMs?: number;
}

type Phase = 'connect' | 'body' | 'stream';

/** One pass-through exchange (see UpstreamClient.rawJson). */
export interface RawExchange {
  method: 'POST' | 'GET' | 'DELETE';
  path: string;
  body?: unknown;
  /** The body as bytes to send as they are (a pass-through body, docs/api.md#pass-through); wins over `body`. */
  bytes?: Buffer;
  /** Request headers on top of the target's own (never its credential). */
  headers?: Record<string, string>;
  /** The error for a non-2xx status, given the provider's wait (ms) and its bounded body text. */
  statusError(status: number, retryAfterMs: number | undefined, body: string): Error;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/** Splits a base URL into the pool's origin and the path prefix of every request. */
export function splitBaseUrl(baseUrl: string): { origin: string; pathPrefix: string } {
  const url = new URL(baseUrl);
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, '') };
}

export class UpstreamClient {
  private readonly pool: PoolType;
  private readonly pathPrefix: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly credential: Record<string, string>;
  private readonly correlationHeader: string | undefined;
  private readonly targetName: string;
  private readonly maxEventBytes: number | undefined;
  private readonly maxResponseBytes: number;
  private readonly keepaliveTimeoutMs: number | undefined;

  constructor(options: UpstreamClientOptions) {
    const { origin, pathPrefix } = splitBaseUrl(options.baseUrl);
    this.pathPrefix = pathPrefix;
    this.timeoutMs = options.timeoutMs;
    this.headers = { 'content-type': 'application/json', ...options.headers };
    this.credential = Object.fromEntries((options.credentialHeaders ?? []).map((h) => [h, this.headers[h]!]));
    this.correlationHeader = options.correlationHeader?.toLowerCase();
    this.targetName = options.targetName;
    this.maxEventBytes = options.maxEventBytes;
    this.maxResponseBytes = options.maxResponseBytes ?? 16 * 1_048_576;
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs;
    this.pool = new Pool(origin, {
      connect: { timeout: options.timeoutMs },
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** The request path for an API path such as `/chat/completions`. */
  path(apiPath: string): string {
    return this.pathPrefix + apiPath;
  }

  /** POSTs a JSON body and returns the parsed JSON response (finite exchange). */
  async postJson(path: string, body: unknown, ctx: CallContext): Promise<unknown> {
    const text = await this.finite('POST', path, this.serialize(body, ctx), ctx);
    try {
      return JSON.parse(text);
    } catch {
      throw this.fault(ctx, 'upstream sent malformed JSON');
    }
  }

  /**
   * POSTs a JSON body and yields the server-sent events of the response.
   * Stopping the iteration early (return/throw) closes the upstream connection.
   */
  postSse(path: string, body: unknown, ctx: CallContext): AsyncGenerator<SseEvent, void, undefined> {
    return this.sse(path, body, ctx);
  }

  /**
   * Pass-through exchange (docs/api.md#pass-through): any method, extra
   * headers (they override the target's, never its credential), the answer's
   * text as the provider sent it and its parse (what accounting reads). A
   * non-2xx status becomes `raw.statusError(status, wait, body)`.
   */
  async rawJson(raw: RawExchange, ctx: CallContext): Promise<{ text: string; json: unknown }> {
    const payload = raw.bytes ?? (raw.body === undefined ? null : this.serialize(raw.body, ctx));
    const text = await this.finite(raw.method, raw.path, payload, ctx, raw.headers, raw.statusError);
    try {
      return { text, json: JSON.parse(text) };
    } catch {
      throw this.fault(ctx, 'upstream sent malformed JSON');
    }
  }

  /**
   * One finite exchange through undici's handler callbacks (FiniteExchange), as
   * streams are read (docs/architecture.md#streams): the body's chunks are
   * collected as they arrive, up to maxResponseBytes, and decoded once.
   */
  private async finite(
    method: RawExchange['method'],
    path: string,
    payload: string | Buffer | null,
    ctx: CallContext,
    extra?: Record<string, string>,
    map?: RawExchange['statusError'],
  ): Promise<string> {
    const deadline = new Deadline(ctx.signal, this.timeoutMs);
    const up = new FiniteExchange(this.maxResponseBytes, map !== undefined);
    const cancel = () => up.cancel(deadline.signal.reason);
    if (deadline.signal.aborted) cancel();
    else deadline.signal.once('abort', cancel);
    try {
      this.pool.dispatch({ method, path, headers: this.requestHeaders(ctx, extra), body: payload }, up);
      const answer = await up.done;
      const status = up.status;
      if (status < 200 || status >= 300) {
        // The error body was read (bounded, FiniteExchange) so the connection can be reused.
        throw this.statusFailure(status, up.headers(), answer.toString('utf8'), ctx, map);
      }
      return answer.toString('utf8');
    } catch (err) {
      if (err instanceof AnswerTooLarge) {
        throw this.protocolFault(ctx, 'upstream_too_large', `upstream answer larger than ${this.maxResponseBytes} bytes`);
      }
      throw this.translate(err, deadline, up.status === 0 ? 'connect' : 'body', ctx);
    } finally {
      deadline.signal.off('abort', cancel);
      deadline.dispose();
    }
  }

  /** Pass-through stream: as postSse, with rawJson's method, headers and status mapping. */
  rawSse(raw: RawExchange, ctx: CallContext): AsyncGenerator<SseEvent, void, undefined> {
    return this.sse(raw.path, raw.bytes ?? raw.body, ctx, raw);
  }

  private async *sse(
    path: string,
    body: unknown,
    ctx: CallContext,
    raw?: RawExchange,
  ): AsyncGenerator<SseEvent, void, undefined> {
    const payload = body === undefined ? null : Buffer.isBuffer(body) ? body : this.serialize(body, ctx);
    const deadline = new Deadline(ctx.signal, this.timeoutMs);
    let phase: Phase = 'connect';
    // The answer through undici's handler callbacks, not request()'s body stream (docs/architecture.md#streams).
    const up = new StreamExchange();
    const cancel = () => up.cancel(deadline.signal.reason);
    if (deadline.signal.aborted) cancel();
    else deadline.signal.once('abort', cancel);
    try {
      this.pool.dispatch(
        { method: raw?.method ?? 'POST', path, headers: this.requestHeaders(ctx, raw?.headers), body: payload },
        up,
      );
      const status = await up.head;
      if (status < 200 || status >= 300) await this.failStatus(up, status, ctx, raw?.statusError);
      phase = 'stream';
      deadline.rearm();
      if (this.keepaliveTimeoutMs !== undefined) deadline.watchContent(this.keepaliveTimeoutMs);
      const parser = new SseParser({ maxEventBytes: this.maxEventBytes });
      for (;;) {
        const chunk = up.take() ?? (await up.next());
        if (chunk === null) break;
        deadline.rearm();
        let events: SseEvent[];
        try {
          events = parser.push(chunk);
        } catch (err) {
          if (err instanceof SseEventTooLarge)
            throw this.protocolFault(ctx, 'upstream_protocol', `upstream sent an event larger than ${err.limit} bytes`);
          throw err;
        }
        for (const event of events) {
          // Anthropic's `ping` event is a keep-alive, like an SSE comment (which never becomes an event).
          const content = event.event !== 'ping';
          deadline.pause();
          yield event;
          deadline.resume(content);
        }
      }
      for (const event of parser.end()) {
        deadline.pause();
        yield event;
        deadline.resume();
      }
    } catch (err) {
      throw this.translate(err, deadline, phase, ctx);
    } finally {
      deadline.signal.off('abort', cancel);
      deadline.dispose();
      // Early exit (consumer stopped, fault): drop the connection rather than
      // leave a half-read response on it. A fully read body is already done.
      up.stop();
    }
  }

  /** A stream's non-2xx answer: its body read (bounded) so the connection can be reused, then statusFailure's error. */
  private async failStatus(
    up: StreamExchange,
    status: number,
    ctx: CallContext,
    map?: RawExchange['statusError'],
  ): Promise<never> {
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = map !== undefined || isClientRejection(status);
    try {
      for (;;) {
        const chunk = up.take() ?? (await up.next());
        if (chunk === null) break;
        if (keep && size < ERROR_BODY_LIMIT) chunks.push(chunk.subarray(0, ERROR_BODY_LIMIT - size));
        size += chunk.length;
        if (size > ERROR_BODY_LIMIT) break; // the rest is not read: the connection is dropped
      }
    } catch {
      // A body cut short is read as far as it came.
    }
    throw this.statusFailure(status, up.headers(), Buffer.concat(chunks).toString('utf8'), ctx, map);
  }

  async close(): Promise<void> {
    // The gateway drains requests before closing targets; anything still in
    // flight here is cut rather than waited for.
    await this.pool.destroy();
  }

  /** The request body as JSON; a body that cannot be serialized (too deep, a cycle) is the gateway's own failure. */
  private serialize(body: unknown, ctx: CallContext): string {
    try {
      return JSON.stringify(body);
    } catch (err) {
      throw this.localFault(ctx, err, 'build');
    }
  }

  /** The target's headers, a pass-through's own on top (never over the credential), correlation and trace headers. */
  private requestHeaders(ctx: CallContext, extra?: Record<string, string>): Record<string, string> {
    let headers = extra ? { ...this.headers, ...extra, ...this.credential } : this.headers;
    if (this.correlationHeader) headers = { ...headers, [this.correlationHeader]: ctx.requestId };
    if (ctx.traceHeaders) headers = { ...headers, ...ctx.traceHeaders };
    return headers;
  }

  /**
   * The error for a non-2xx status, given its headers and (bounded) body text.
   * The body's content is never logged. A pass-through mapper rebuilds the
   * provider's error document from it; otherwise only a client rejection's
   * cleaned message goes back (upstream-status.ts), credentials scrubbed.
   */
  private statusFailure(
    status: number,
    headers: Dispatcher.ResponseData['headers'],
    text: string,
    ctx: CallContext,
    map?: RawExchange['statusError'],
  ): Error {
    const wait = retryAfterMs(headers, Date.now());
    ctx.log.warn({ target: this.targetName, upstreamStatus: status, retryAfterMs: wait }, 'upstream returned an error status');
    if (map) return map(status, wait, text);
    const credentials = Object.values(this.headers).flatMap((v) => [v, v.replace(/^bearer\s+/i, '')]);
    return upstreamStatusError(status, wait, isClientRejection(status) ? providerMessage(text, credentials) : undefined);
  }

  /**
   * The provider answered, but not within the gateway's bounds: its fault, yet
   * not a transient one (another try gets the same answer) and proof that it is
   * up, so routing neither retries nor counts it against the circuit.
   */
  private protocolFault(ctx: CallContext, code: 'upstream_protocol' | 'upstream_too_large', message: string): GatewayError {
    ctx.log.warn({ target: this.targetName, code }, message);
    return new GatewayError(code, message, undefined, { phase: 'protocol' });
  }

  /** A failure of the gateway's own making while building, sending or reading the exchange: never the target's. */
  private localFault(ctx: CallContext, err: unknown, stage: 'build' | 'send' | 'read'): GatewayError {
    ctx.log.error(
      { target: this.targetName, stage, cause: describeError(err) },
      'failed to build, send or read the upstream request (gateway error, not counted against the target)',
    );
    return new GatewayError('internal', 'internal error while calling the upstream');
  }

  private fault(ctx: CallContext, message: string): GatewayError {
    ctx.log.warn({ target: this.targetName }, message);
    return new GatewayError('upstream', message, undefined, { phase: 'stream' });
  }

  private translate(err: unknown, deadline: Deadline, phase: Phase, ctx: CallContext): unknown {
    if (deadline.cause === 'client') return ctx.signal.reason ?? err;
    if (deadline.cause === 'timeout' || isUndiciTimeout(err)) {
      if (deadline.keepaliveOnly) {
        const seconds = (this.keepaliveTimeoutMs ?? 0) / 1000;
        ctx.log.warn({ target: this.targetName, phase, keepaliveTimeoutSeconds: seconds }, 'upstream sent only keep-alives');
        return new GatewayError('upstream_timeout', `upstream sent only keep-alives for ${seconds} s`, undefined, {
          phase: 'timeout',
        });
      }
      ctx.log.warn({ target: this.targetName, phase }, 'upstream timed out');
      return new GatewayError('upstream_timeout', `upstream did not answer within ${this.timeoutMs / 1000} s`, undefined, {
        phase: 'timeout',
      });
    }
    if (err instanceof GatewayError) return err;
    if (!isTransportFault(err)) return this.localFault(ctx, err, phase === 'connect' ? 'send' : 'read');
    const code = (err as { code?: unknown } | null)?.code;
    ctx.log.warn(
      { target: this.targetName, phase, errorCode: typeof code === 'string' ? code : undefined, cause: describeError(err) },
      'upstream exchange failed',
    );
    switch (phase) {
      case 'connect':
        return new GatewayError('upstream', 'upstream connection failed', undefined, { phase: 'connect' });
      case 'body':
        return new GatewayError('upstream', 'upstream response ended unexpectedly', undefined, { phase: 'stream' });
      case 'stream':
        return new GatewayError('upstream', 'upstream stream ended unexpectedly', undefined, { phase: 'stream' });
    }
  }
}

/**
 * Whether an error is the network's or the host's doing: a system error
 * (ECONNREFUSED, ECONNRESET, ENOTFOUND, EPIPE…), a TLS failure, an HTTP
 * message the host garbled (llhttp `HPE_*`), or undici's socket-level faults.
 * Anything else (TypeError, RangeError, an invalid argument) was raised by the
 * gateway itself.
 */
const UNDICI_TRANSPORT_CODES = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);

export function isTransportFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (UNDICI_TRANSPORT_CODES.has(code)) return true;
  if (code.startsWith('ERR_')) return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
  if (code.startsWith('HPE_')) return true;
  if (/^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code)) return true;
  return /^E[A-Z0-9_]+$/.test(code);
}

/** What a log line says about a cause: class, code and a bounded message (never a stack, never a body). */
function describeError(err: unknown): { name: string; code?: string; message: string } {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : typeof err;
  const message = typeof e?.message === 'string' ? e.message.slice(0, 200) : String(err).slice(0, 200);
  return typeof e?.code === 'string' ? { name, code: e.code, message } : { name, message };
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** An answer's raw headers as undici's `request()` gives them (lower-case names, repeated ones as an array). */
function headerRecord(rawHeaders: readonly Buffer[]): Dispatcher.ResponseData['headers'] {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1').toLowerCase();
    const value = rawHeaders[i + 1]!.toString('latin1');
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}

/**
 * One finite answer through undici's dispatch handler (UpstreamClient.finite):
 * the body's chunks are kept as undici reads them and handed over once, when
 * the answer is complete, without request()'s body stream, its async iterator
 * and a promise per chunk in between.
 * - A 2xx answer is refused (AnswerTooLarge, the connection closed) as soon as it
 *   declares or reaches more than `maxBytes`: nothing past the bound is kept.
 * - Any other status: at most ERROR_BODY_LIMIT bytes of its body are read (so
 *   the connection can be reused), kept only when a pass-through mapper or a
 *   client rejection's message needs them; past the bound the connection is
 *   dropped, and a body cut short counts as read as far as it came.
 * A failure before a complete 2xx answer rejects `done` with undici's error
 * (or the cancel reason), which UpstreamClient.translate maps.
 */
class FiniteExchange {
  /** The body, once complete (an error status's: bounded, possibly cut short). */
  readonly done: Promise<Buffer>;
  /** The final status; 0 until the headers are in. */
  status = 0;
  private settle!: { resolve(body: Buffer): void; reject(err: unknown): void };
  private abortFn: ((err?: Error) => void) | null = null;
  private cancelled: { reason: unknown } | null = null;
  private finished = false;
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private limit: number;
  private keep = true;

  constructor(
    private readonly maxBytes: number,
    /** A pass-through mapper reads every error body (RawExchange.statusError). */
    private readonly keepErrors: boolean,
  ) {
    this.limit = maxBytes;
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A failure is also thrown by whoever awaits `done`; no unhandled rejection when none does.
    this.done.catch(() => {});
  }

  /** The answer's headers (only read for an error status). */
  headers(): Dispatcher.ResponseData['headers'] {
    return headerRecord(this.rawHeaders);
  }

  /** Aborts the exchange (closing its connection) unless it is already over. */
  cancel(reason: unknown): void {
    if (this.finished || this.cancelled) return;
    this.cancelled = { reason };
    this.abortFn?.(reason as Error);
  }

  private ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** Stops reading: the connection is closed, onError settles `done`. */
  private stop(err: Error): false {
    this.cancelled ??= { reason: err };
    this.abortFn?.(err);
    return false;
  }

  // undici's handler callbacks.
  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.cancelled) abort(this.cancelled.reason as Error);
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    if (status < 200) return true; // 1xx: the answer is still to come
    this.status = status;
    this.rawHeaders = rawHeaders;
    if (this.ok()) {
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        if (rawHeaders[i]!.length !== 14 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'content-length') continue;
        if (Number(rawHeaders[i + 1]!.toString('latin1')) > this.maxBytes) return this.stop(new AnswerTooLarge());
      }
    } else {
      this.limit = ERROR_BODY_LIMIT;
      this.keep = this.keepErrors || isClientRejection(status);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.cancelled) return false;
    const room = this.limit - this.size;
    this.size += chunk.length;
    if (this.ok()) {
      if (chunk.length > room) return this.stop(new AnswerTooLarge());
      this.chunks.push(chunk);
      return true;
    }
    if (this.keep && room > 0) this.chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    // The rest of an error body is not read: the connection is dropped.
    if (chunk.length > room) return this.stop(new Error('upstream error body over its bound'));
    return true;
  }

  onComplete(): void {
    this.finished = true;
    this.settle.resolve(this.body());
  }

  onError(err: unknown): void {
    this.finished = true;
    // An error status's body cut short is read as far as it came.
    if (this.status !== 0 && !this.ok()) this.settle.resolve(this.body());
    else this.settle.reject(err);
  }

  private body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
}

/** Bytes a stream may hold between undici and the parser before the upstream socket is paused (request()'s default). */
const STREAM_HIGH_WATER = 64 * 1024;

/**
 * One stream's answer through undici's dispatch handler (docs/architecture.md#streams):
 * each body chunk is queued from inside undici's socket read, and the
 * reader takes it from there, without request()'s body stream and its async
 * iterator in between (measured: the first frame leaves ~100 µs sooner).
 * Backpressure: past STREAM_HIGH_WATER queued bytes, onData returns false,
 * which pauses the upstream socket until the reader has taken them.
 */
export class StreamExchange {
  /** The status, once the answer's headers are in (rejects on a failure before). */
  readonly head: Promise<number>;
  private settleHead!: { resolve(status: number): void; reject(err: unknown): void };
  private abortFn: ((err?: Error) => void) | null = null;
  private cancelled: { reason: unknown } | null = null;
  private rawHeaders: Buffer[] = [];
  private resumeFn: () => void = () => {};
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private ended = false;
  private failure: { err: unknown } | null = null;
  private waiter: { resolve(chunk: Buffer | null): void; reject(err: unknown): void } | null = null;

  constructor() {
    this.head = new Promise((resolve, reject) => (this.settleHead = { resolve, reject }));
    // A failure before the headers is also thrown by whoever awaits them; no unhandled rejection when none does.
    this.head.catch(() => {});
  }

  /** The answer's headers (only read for an error status). */
  headers(): Dispatcher.ResponseData['headers'] {
    const out: Record<string, string | string[]> = {};
    for (let i = 0; i + 1 < this.rawHeaders.length; i += 2) {
      const name = this.rawHeaders[i]!.toString('latin1').toLowerCase();
      const value = this.rawHeaders[i + 1]!.toString('latin1');
      const had = out[name];
      out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    return out;
  }

  /** The next queued chunk, if one is here now. */
  take(): Buffer | undefined {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued < STREAM_HIGH_WATER) {
        this.paused = false;
        this.resumeFn();
      }
    }
    return chunk;
  }

  /** Waits for the next chunk (null: the body ended); throws the exchange's failure. */
  next(): Promise<Buffer | null> {
    const chunk = this.take();
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.failure) return Promise.reject(this.failure.err);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Aborts the exchange (closing its connection) unless it is already over. */
  cancel(reason: unknown): void {
    if (this.ended || this.failure || this.cancelled) return;
    this.cancelled = { reason };
    this.abortFn?.(reason as Error);
  }

  /**
   * The reader stopped (early exit, fault): aborts the exchange unless it is already over. Its
   * reason is made only then: an Error and its stack trace cost ~10 µs, on every stream that ends.
   */
  stop(): void {
    if (this.ended || this.failure || this.cancelled) return;
    this.cancel(new Error('stream closed by the gateway'));
  }

  // undici's handler callbacks.
  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.cancelled) abort(this.cancelled.reason as Error);
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx: the answer is still to come
    this.rawHeaders = rawHeaders;
    this.resumeFn = resume;
    this.settleHead.resolve(status);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.resolve(chunk);
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued < STREAM_HIGH_WATER) return true;
    this.paused = true;
    return false;
  }

  onComplete(): void {
    this.ended = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve(null);
  }

  onError(err: unknown): void {
    this.failure = { err };
    this.settleHead.reject(err);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }
}

/**
 * The deadline's abort event, which cancels its exchange: an EventEmitter
 * with `aborted` and `reason`. An AbortController per exchange cost several
 * µs of CPU on every request; this costs next to nothing.
 */
class DeadlineSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/**
 * One exchange's abort controller: fires on the client's signal or when the
 * timer runs out, and remembers which came first.
 */
class Deadline {
  private readonly controller = new DeadlineSignal();
  private readonly timer: NodeJS.Timeout;
  /** Re-armed by content only (streams with keepaliveTimeoutMs). */
  private contentTimer: NodeJS.Timeout | null = null;
  private paused = false;
  /** The content gap ran out while the consumer held a keep-alive event. */
  private contentDue = false;
  cause: 'client' | 'timeout' | null = null;
  /** The timeout was the content gap (keep-alives only), not the plain gap. */
  keepaliveOnly = false;

  constructor(
    private readonly clientSignal: AbortSignal,
    timeoutMs: number,
  ) {
    if (clientSignal.aborted) {
      this.cause = 'client';
      this.controller.abort(clientSignal.reason);
    } else {
      clientSignal.addEventListener('abort', this.onClientAbort, { once: true });
    }
    this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  /** For undici's `signal` option only. */
  get signal(): DeadlineSignal {
    return this.controller;
  }

  /** Restarts the full timeout (stream: bytes arrived). */
  rearm(): void {
    this.timer.refresh();
  }

  /** From now on, content events (content()) must arrive at most `ms` apart, whatever else arrives. */
  watchContent(ms: number): void {
    this.contentTimer = setTimeout(this.onContentTimeout, ms);
  }

  /** Stops counting while the consumer holds an event. */
  pause(): void {
    this.paused = true;
  }

  /** Counts again, from a full timeout; the content gap restarts too when the event held was content. */
  resume(content = true): void {
    this.paused = false;
    this.timer.refresh();
    if (content) {
      this.contentDue = false;
      this.contentTimer?.refresh();
    } else if (this.contentDue) this.onContentTimeout();
  }

  dispose(): void {
    clearTimeout(this.timer);
    if (this.contentTimer) clearTimeout(this.contentTimer);
    this.clientSignal.removeEventListener('abort', this.onClientAbort);
  }

  private readonly onClientAbort = (): void => {
    if (this.cause) return;
    this.cause = 'client';
    this.controller.abort(this.clientSignal.reason);
  };

  private readonly onContentTimeout = (): void => {
    if (this.cause) return;
    if (this.paused) {
      this.contentDue = true;
      return;
    }
    this.keepaliveOnly = true;
    this.onTimeout();
  };

  private readonly onTimeout = (): void => {
    if (this.cause) return;
    if (this.paused) return; // resume() re-arms the timer
    this.cause = 'timeout';
    this.controller.abort(new Error('upstream deadline exceeded'));
  };
}
