/**
 * The inference route handler: the SPEC §3 check order, then the target call.
 *
 *   client identity → blocklist → rate limit → bearer token → body size and
 *   JSON → authorization → target or group exists (and supports the
 *   operation) → admission → run (router: members, retries, fallbacks)
 *
 * Identity is resolved by the app before this handler runs.
 */
import { randomUUID } from 'node:crypto';
import type { Operation, TextResponse } from '@sipp/shared';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Admission, Release } from '../security/admission.js';
import type { Authenticator } from '../security/bearer.js';
import type { Blocklist } from '../security/blocklist.js';
import type { RateLimiter } from '../security/rate-limit.js';
import type { Router } from '../routing/router.js';
import type { CallContext, StreamChunk, Target, TextRequest } from '../targets/target.js';
import { parseJsonObject, readBody } from './body.js';
import type { RequestState } from './request-state.js';
import { SSE_HEADERS, SseWriter } from './sse.js';
import { validateRequest } from './validate.js';

export interface InferenceDeps {
  config: GatewayConfig;
  targets: ReadonlyMap<string, Target>;
  /** Resolves `model` (target or group) and runs attempts with retries, fallbacks and circuits. */
  router: Router;
  blocklist: Blocklist;
  rateLimiter: RateLimiter;
  authenticate: Authenticator;
  admission: Admission;
  log: Logger;
}

export function createInferenceHandler(deps: InferenceDeps, operation: Operation) {
  const limit = deps.config.max_request_bytes;

  return async function inference(ctx: Context): Promise<void> {
    const st = ctx.state.request as RequestState;
    st.operation = operation;

    if (deps.blocklist.has(st.client)) throw new GatewayError('blocked', 'client address is blocked');

    const decision = await deps.rateLimiter.admit(st.client);
    if (!decision.ok) {
      throw new GatewayError('rate_limited', 'rate limit exceeded; retry later', {
        'retry-after': String(decision.retryAfterSeconds),
      });
    }

    const caller = deps.authenticate(ctx.get('authorization') || undefined);
    if (!caller) {
      throw new GatewayError('authentication', 'missing, malformed or unknown bearer token', {
        'www-authenticate': 'Bearer',
      });
    }
    st.caller = caller.label;

    const body = parseJsonObject(await readBody(ctx.req, limit));
    const request = validateRequest(operation, body);

    if (caller.allowed && !caller.allowed.has(request.model)) {
      throw new GatewayError('authorization', `this token may not use target "${request.model}"`);
    }
    st.model = request.model;
    const route = deps.router.resolve(request.model, operation);

    const release = deps.admission.tryAcquire();
    if (!release) throw new GatewayError('admission', 'the gateway is at max_concurrent_requests; retry later');

    const abort = new AbortController();
    const onClose = () => {
      if (!ctx.res.writableFinished) abort.abort(new Error('client disconnected'));
    };
    ctx.res.once('close', onClose);
    // Routing: every attempt (retry, fallback) gets a call context of its own;
    // the response names the member that served (x-sipp-target) but keeps the
    // `model` the client asked for.
    const attempt = <T>(call: (target: Target, callCtx: CallContext) => Promise<T>) =>
      deps.router.run(route, abort.signal, st, (target, o) => call(target, callContext(st.id, abort.signal, deps.log, o.noWait)));

    try {
      if (request.operation === 'embed') {
        const served = await attempt((t, c) => t.embed({ inputs: [request.input] }, c));
        served.done();
        ctx.set(TARGET_HEADER, served.target.name);
        const result = served.value;
        applyUsage(st, result.usage);
        ctx.body = {
          id: result.id ?? gatewayId(),
          model: request.model,
          embedding: result.embeddings[0] ?? [],
          ...(result.usage ? { usage: result.usage } : {}),
        };
      } else if (!request.stream) {
        const served = await attempt((t, c) => t.complete(request.text, c));
        served.done();
        ctx.set(TARGET_HEADER, served.target.name);
        const result = served.value;
        applyUsage(st, result.usage);
        const response: TextResponse = {
          id: result.id ?? gatewayId(),
          model: request.model,
          text: result.text,
          finish_reason: result.finishReason,
        };
        if (result.usage) response.usage = result.usage;
        ctx.body = response;
      } else {
        st.stream = true;
        // An attempt opens the stream and waits for its first chunk, so any
        // failure before the first byte to the client can fall over.
        const served = await attempt((t, c) => openStream(t, request.text, c));
        ctx.set(TARGET_HEADER, served.target.name);
        try {
          await streamResponse(ctx, st, served.value, release);
        } finally {
          served.done();
        }
      }
    } catch (err) {
      if (st.target) ctx.set(TARGET_HEADER, st.target);
      if (abort.signal.aborted) {
        st.statusOverride = 499;
        st.code = 'client_closed_request';
      }
      throw err;
    } finally {
      ctx.res.off('close', onClose);
      release();
    }
  };
}

function gatewayId(): string {
  return `sipp-${randomUUID()}`;
}

function applyUsage(st: RequestState, usage: { input_tokens: number; output_tokens: number } | undefined): void {
  if (!usage) return;
  st.inputTokens = usage.input_tokens;
  st.outputTokens = usage.output_tokens;
}

/** Response header naming the target that served (or last tried) the request. */
export const TARGET_HEADER = 'x-sipp-target';

function callContext(requestId: string, signal: AbortSignal, log: Logger, noWait: boolean): CallContext {
  let child: Logger | undefined;
  return {
    requestId,
    signal,
    noWait,
    get log() {
      child ??= log.child({ reqId: requestId });
      return child;
    },
  };
}

interface OpenedStream {
  iterator: AsyncIterator<StreamChunk>;
  first: IteratorResult<StreamChunk>;
  callCtx: CallContext;
}

/** Starts a target's stream and waits for its first chunk (errors propagate: nothing was sent yet). */
async function openStream(target: Target, text: TextRequest, callCtx: CallContext): Promise<OpenedStream> {
  const iterator = target.stream(text, callCtx)[Symbol.asyncIterator]();
  const first = await iterator.next();
  return { iterator, first, callCtx };
}

/**
 * Streams a generation as SSE from its first chunk on: errors become an
 * `event: error` frame (the router's retries and fallbacks are over by now).
 */
async function streamResponse(ctx: Context, st: RequestState, opened: OpenedStream, release: Release): Promise<void> {
  const { iterator, callCtx } = opened;
  let next: IteratorResult<StreamChunk> = opened.first;

  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  const sse = new SseWriter(res);
  let sequence = 0;
  try {
    while (!next.done) {
      const chunk = next.value;
      if (chunk.type === 'token') {
        if (chunk.text.length > 0) {
          st.firstTokenAt ??= performance.now();
          if (!sse.token({ text: chunk.text, sequence })) await sse.drain();
        }
        sequence += chunk.tokens ?? 1;
      } else if (chunk.type === 'end') {
        if (chunk.usage) {
          applyUsage(st, chunk.usage);
          sse.usage(chunk.usage);
        } else {
          st.outputTokens = sequence;
        }
        release();
        sse.done({ finish_reason: chunk.finishReason });
        break;
      }
      if (callCtx.signal.aborted) break;
      next = await iterator.next();
    }
    if (callCtx.signal.aborted) {
      st.statusOverride = 499;
      st.code = 'client_closed_request';
    } else if (sse.open) {
      // The target ended without an `end` chunk: that is a broken stream.
      throw new GatewayError('execution', 'stream ended without a finish reason');
    }
  } catch (err) {
    if (callCtx.signal.aborted) {
      st.statusOverride = 499;
      st.code = 'client_closed_request';
    } else {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'internal error');
      if (!(err instanceof GatewayError)) callCtx.log.error({ err: { message: (err as Error)?.message } }, 'stream failed');
      st.code = e.code;
      sse.error({ error: { code: e.code, message: e.message } });
    }
  } finally {
    sse.end();
    void iterator.return?.().catch(() => {});
  }
}
