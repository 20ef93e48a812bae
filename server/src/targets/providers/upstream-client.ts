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
 * Exceeded → GatewayError('upstream_timeout'). undici's own headers/body timers
 * are disabled; this deadline replaces them.
 *
 * Client abort (`ctx.signal`): the in-flight upstream request is aborted at
 * once, which closes its connection (the upstream sees it), and the call
 * rejects with the signal's reason (an AbortError), never with a GatewayError,
 * so callers can tell a disconnect from a provider fault.
 *
 * Error messages are fixed strings (plus the upstream status code): never
 * upstream headers, upstream bodies (they may echo a credential) or our own
 * request headers. A provider 429 becomes `429 upstream_rate_limited` with the
 * provider's wait as `Retry-After` (see upstream-status.ts); other 4xx and 5xx
 * are `upstream` (502) naming the status: the client did nothing wrong with
 * the gateway's API, the gateway's exchange with its provider failed. Every
 * error built here carries an UpstreamDetail (phase, status, wait).
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../../errors.js';
import type { CallContext } from '../target.js';
import { SseParser, type SseEvent } from './sse-parser.js';
import { retryAfterMs, upstreamStatusError } from './upstream-status.js';

export interface UpstreamClientOptions {
  /** Provider base URL, possibly with a path prefix (`https://host/v1`). */
  baseUrl: string;
  timeoutMs: number;
  /** Headers sent on every request (auth, content type, version). */
  headers: Record<string, string>;
  /** When set, `ctx.requestId` is sent under this header name. */
  correlationHeader?: string;
  /** Target name, for log lines only. */
  targetName: string;
}

type Phase = 'connect' | 'body' | 'stream';

/** Splits a base URL into the pool's origin and the path prefix of every request. */
export function splitBaseUrl(baseUrl: string): { origin: string; pathPrefix: string } {
  const url = new URL(baseUrl);
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, '') };
}

export class UpstreamClient {
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly correlationHeader: string | undefined;
  private readonly targetName: string;

  constructor(options: UpstreamClientOptions) {
    const { origin, pathPrefix } = splitBaseUrl(options.baseUrl);
    this.pathPrefix = pathPrefix;
    this.timeoutMs = options.timeoutMs;
    this.headers = { 'content-type': 'application/json', ...options.headers };
    this.correlationHeader = options.correlationHeader?.toLowerCase();
    this.targetName = options.targetName;
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
    const deadline = new Deadline(ctx.signal, this.timeoutMs);
    let phase: Phase = 'connect';
    try {
      const res = await this.send(path, body, ctx, deadline.signal);
      await this.checkStatus(res, ctx);
      phase = 'body';
      const text = await res.body.text();
      try {
        return JSON.parse(text);
      } catch {
        throw this.fault(ctx, 'upstream sent malformed JSON');
      }
    } catch (err) {
      throw this.translate(err, deadline, phase, ctx);
    } finally {
      deadline.dispose();
    }
  }

  /**
   * POSTs a JSON body and yields the server-sent events of the response.
   * Stopping the iteration early (return/throw) closes the upstream connection.
   */
  async *postSse(path: string, body: unknown, ctx: CallContext): AsyncGenerator<SseEvent, void, undefined> {
    const deadline = new Deadline(ctx.signal, this.timeoutMs);
    let phase: Phase = 'connect';
    let res: Dispatcher.ResponseData | undefined;
    try {
      res = await this.send(path, body, ctx, deadline.signal);
      await this.checkStatus(res, ctx);
      phase = 'stream';
      deadline.rearm();
      const parser = new SseParser();
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        deadline.rearm();
        const events = parser.push(chunk);
        for (const event of events) {
          deadline.pause();
          yield event;
          deadline.resume();
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
      deadline.dispose();
      // Early exit (consumer stopped, fault): drop the connection rather than
      // leave a half-read response on it. A fully read body is already done.
      if (res && !res.body.readableEnded) res.body.destroy();
    }
  }

  async close(): Promise<void> {
    // The gateway drains requests before closing targets; anything still in
    // flight here is cut rather than waited for.
    await this.pool.destroy();
  }

  private send(path: string, body: unknown, ctx: CallContext, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    let headers = this.correlationHeader ? { ...this.headers, [this.correlationHeader]: ctx.requestId } : this.headers;
    if (ctx.traceHeaders) headers = { ...headers, ...ctx.traceHeaders };
    return this.pool.request({ method: 'POST', path, headers, body: JSON.stringify(body), signal });
  }

  private async checkStatus(res: Dispatcher.ResponseData, ctx: CallContext): Promise<void> {
    if (res.statusCode >= 200 && res.statusCode < 300) return;
    // Read (and discard) a bounded error body so the connection can be reused;
    // its content is never logged or returned: it may echo a credential.
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    const wait = retryAfterMs(res.headers, Date.now());
    ctx.log.warn({ target: this.targetName, upstreamStatus: res.statusCode, retryAfterMs: wait }, 'upstream returned an error status');
    throw upstreamStatusError(res.statusCode, wait);
  }

  private fault(ctx: CallContext, message: string): GatewayError {
    ctx.log.warn({ target: this.targetName }, message);
    return new GatewayError('upstream', message, undefined, { phase: 'stream' });
  }

  private translate(err: unknown, deadline: Deadline, phase: Phase, ctx: CallContext): unknown {
    if (deadline.cause === 'client') return ctx.signal.reason ?? err;
    if (deadline.cause === 'timeout' || isUndiciTimeout(err)) {
      ctx.log.warn({ target: this.targetName, phase }, 'upstream timed out');
      return new GatewayError('upstream_timeout', `upstream did not answer within ${this.timeoutMs / 1000} s`, undefined, { phase: 'timeout' });
    }
    if (err instanceof GatewayError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    ctx.log.warn({ target: this.targetName, phase, errorCode: typeof code === 'string' ? code : undefined }, 'upstream exchange failed');
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

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * One exchange's abort controller: fires on the client's signal or when the
 * timer runs out, and remembers which came first.
 */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private paused = false;
  cause: 'client' | 'timeout' | null = null;

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

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Restarts the full timeout (stream: bytes arrived). */
  rearm(): void {
    this.timer.refresh();
  }

  /** Stops counting while the consumer holds an event. */
  pause(): void {
    this.paused = true;
  }

  /** Counts again, from a full timeout. */
  resume(): void {
    this.paused = false;
    this.timer.refresh();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.clientSignal.removeEventListener('abort', this.onClientAbort);
  }

  private readonly onClientAbort = (): void => {
    if (this.cause) return;
    this.cause = 'client';
    this.controller.abort(this.clientSignal.reason);
  };

  private readonly onTimeout = (): void => {
    if (this.cause) return;
    if (this.paused) return; // resume() re-arms the timer
    this.cause = 'timeout';
    this.controller.abort(new Error('upstream deadline exceeded'));
  };
}
