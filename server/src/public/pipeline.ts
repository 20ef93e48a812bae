/**
 * The one request pipeline of the public listener, shared by every API
 * surface (Sipp, OpenAI, Anthropic). The documented check order
 * (docs/api.md#errors) runs here once, as named stages that modules register
 * into (stages.ts, modules/index.ts):
 *
 *   client identity (app.ts) → beforeBody [blocklist → rate limit → token] →
 *   body size and JSON → surface parse → beforeRun [authorization → target or
 *   group exists (and a member supports the operation and honours the
 *   request) → admission] → run (router: members, retries, fallbacks; each
 *   attempt wrapped by aroundAttempt) → render → afterFinish (app.ts)
 *
 * A surface only parses its wire format into the internal request and renders
 * the answer. See docs/architecture.md#request-path.
 */
import type { Operation } from '@sipp/shared';
import type { Context } from 'koa';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Router, Served } from '../routing/router.js';
import { IGNORED_HEADER, ignoredHeaderValue, type IgnorableField } from '../targets/ignored.js';
import type { CallContext, Target } from '../targets/target.js';
import type { RequestPolicy } from '../targets/request-checks.js';
import { parseJsonObject, readBody } from './body.js';
import { ClientSignal } from './client-signal.js';
import { checkJsonDepth } from './json-depth.js';
import { requestContext, type RunContext } from './request-context.js';
import { applyUsage, noteIgnored, type RequestState } from './request-state.js';
import type { Stages } from './stages.js';
import { pipeStream } from './stream.js';
import { JsonText, type ParsedRequest, type Surface } from '../surfaces/surface.js';
import { PassThrough } from '../surfaces/passthrough.js';
import { callTarget, type CallOutcome } from './target-call.js';
import { forwardCall, forwardsTo, pipeForwarded } from './forward.js';
import { jsonBody } from '../http/json-body.js';

export interface PipelineDeps {
  /** `max_request_bytes`. */
  maxRequestBytes: number;
  /** `max_json_depth` (default 64). */
  maxJsonDepth?: number;
  /** Target names, for the model list. */
  targets: ReadonlyMap<string, Target>;
  /** Runs attempts with retries, fallbacks and circuits; lists groups. */
  router: Pick<Router, 'run' | 'groupDefinitions' | 'resolve' | 'canonical' | 'aliasNames'>;
  /** The registered modules, composed (stages.ts). */
  stages: Stages;
  log: Logger;
  /** What image URLs may name (`allow_private_image_urls`), for routes that forward a body outside the stages (count-tokens.ts). */
  requestPolicy: RequestPolicy;
}

export function createSurfaceHandler<P extends ParsedRequest>(deps: PipelineDeps, surface: Surface<P>) {
  const limit = deps.maxRequestBytes;
  const operation: Operation = surface.operation;
  const { stages } = deps;

  return async function handle(ctx: Context): Promise<void> {
    const rc = requestContext(ctx);
    const st = rc.state;
    st.api = surface.api;
    st.operation = operation;
    rc.credential = surface.credential(ctx.req.headers);

    const checking = stages.beforeBody(rc);
    if (checking) await checking;

    const bytes = await readBody(ctx.req, limit);
    const body = parseJsonObject(bytes);
    checkJsonDepth(body, deps.maxJsonDepth ?? 64);
    const request = parseRequest(surface, body, bytes, ctx.req.headers);
    rc.request = request;
    rc.fields = surface;
    const run = rc as RunContext;

    // A surface's own async step once the caller is known (the Responses surface loads previous_response_id).
    if (surface.operation !== 'embed' && surface.prepare) await surface.prepare(request, rc.caller!);

    try {
      let short = stages.beforeRun(run);
      if (short instanceof Promise) short = await short;
      const route = rc.route;
      if (!short && !route) throw new Error('no pipeline module resolved the route');

      const abort = new ClientSignal();
      const onClose = () => {
        if (!ctx.res.writableFinished) abort.abort(new Error('client disconnected'));
      };
      // on, not once (no wrapper per request): the finally below removes it either way.
      ctx.res.on('close', onClose);
      try {
        // The router runs the one target-call seam per attempt (retry, fallback),
        // each with a call context of its own, wrapped by the aroundAttempt hooks;
        // the response names the member that served (x-sipp-target) but keeps
        // the `model` the client asked for.
        // Plain locals, no wrapper object or closure per request.
        let servedTarget: string;
        let outcome: CallOutcome;
        let ran: Served<CallOutcome> | null = null;
        if (short) {
          st.target = servedTarget = short.served;
          outcome = short.outcome;
        } else {
          const signal = abort.asSignal;
          const r = await deps.router.run(route!, signal, st, (target, o) => {
            const call = new RequestCall(st, signal, deps.log, o.noWait);
            // No module wraps attempts (tracing off): no Attempt object or closure per attempt.
            if (!stages.wrapsAttempts) return attemptOn(target, request, st, call);
            return stages.attempt({ rc: run, target, number: st.attempts.length + 1, call }, () =>
              attemptOn(target, request, st, call),
            );
          });
          ran = r;
          servedTarget = r.target.name;
          outcome = r.value;
        }
        // Node's setHeader rather than Koa's ctx.set, skipped as ctx.set skips it once a shutdown cut has answered.
        const res = ctx.res;
        if (!res.headersSent) {
          res.setHeader(TARGET_HEADER, servedTarget);
          const ignored = ignoredHeaderValue(st.ignored);
          if (ignored) res.setHeader(IGNORED_HEADER, ignored);
        }
        try {
          // The outcome's kind follows the surface's operation (a short-circuit module could break that: a 500).
          if (outcome.kind === 'forward-json') {
            applyUsage(st, outcome.result.usage);
            await surface.wire?.forwarded?.(request, servedTarget, outcome.result.id);
            sendJson(ctx, outcome.result.body, outcome.result.text);
          } else if (outcome.kind === 'forward-stream') {
            st.stream = true;
            await surface.wire?.forwarded?.(request, servedTarget, outcome.result.id());
            await pipeForwarded(ctx, st, request.passthrough!.api, outcome, () => rc.releaseHolds());
          } else if (surface.operation === 'embed') {
            if (outcome.kind !== 'embed') throw new Error(`a ${outcome.kind} outcome on an embeddings surface`);
            applyUsage(st, outcome.result.usage);
            sendJson(ctx, surface.renderEmbed(request, request.model, outcome.result));
          } else if (outcome.kind === 'text') {
            applyUsage(st, outcome.result.usage);
            const rendered = await surface.renderText(request, request.model, outcome.result);
            if (rendered instanceof JsonText) sendJson(ctx, rendered.text, rendered.text);
            else sendJson(ctx, rendered);
          } else if (outcome.kind === 'stream') {
            st.stream = true;
            await pipeStream(ctx, st, outcome, surface.openStream(request, request.model, st.id), outcome.callCtx, () =>
              rc.releaseHolds(),
            );
          } else {
            throw new Error('an embed outcome on a text surface');
          }
        } finally {
          ran?.done();
        }
      } catch (err) {
        if (st.target) ctx.set(TARGET_HEADER, st.target);
        if (abort.aborted) {
          st.statusOverride = 499;
          st.code = 'client_closed_request';
        }
        throw err;
      } finally {
        ctx.res.off('close', onClose);
      }
    } finally {
      rc.releaseHolds();
    }
  };
}

/**
 * The surface's parse. A surface with a wire API (docs/api.md#pass-through)
 * parses leniently: members that speak that API take the body as sent, so a
 * body the internal request cannot hold (a field only the provider knows)
 * still reaches them; the other members get the parse error as their refusal.
 */
function parseRequest<P extends ParsedRequest>(
  surface: Surface<P>,
  body: Record<string, unknown>,
  raw: Buffer,
  headers: IncomingHttpHeaders,
): P {
  const wire = surface.wire;
  if (!wire) return surface.parse(body);
  const passthrough = new PassThrough(wire.api, body, raw, headers, wire.hintHeaders ?? []);
  let parsed: P;
  try {
    parsed = surface.parse(body);
  } catch (err) {
    let basics: { model: string; stream: boolean };
    try {
      basics = wire.basics(body);
    } catch {
      throw err;
    }
    passthrough.parseError = err;
    // `call` is never used, nor the surface's renderers: only members that take the body as sent can serve (modules/checks.ts).
    return {
      ...basics,
      call: { operation: 'chat', text: { operation: 'chat', messages: [], options: {} } },
      passthrough,
    } as ParsedRequest as P;
  }
  // The surface's parse returns a fresh object of its own: set on it, not copied into another one.
  parsed.passthrough = passthrough;
  return parsed;
}

/** One attempt: the body as sent to a member that speaks the surface's API, else the translated call. */
function attemptOn(target: Target, request: ParsedRequest, st: RequestState, call: CallContext): Promise<CallOutcome> {
  const pt = request.passthrough;
  if (pt && forwardsTo(target, pt.api)) {
    return forwardCall(
      target,
      { api: pt.api, body: pt.body, raw: pt.raw, headers: pt.headers, stream: request.stream, model: request.model },
      call,
    );
  }
  // Hints the translation leaves out (docs/api.md#ignored-fields).
  for (const field of request.ignored ?? []) noteIgnored(st, field);
  for (const h of pt?.hintHeaders ?? []) if (pt!.headers[h] !== undefined) noteIgnored(st, h);
  return callTarget(target, request.call, request.stream, call);
}

/**
 * A listing route (OpenAI `GET /v1/models`): the beforeBody stage (the checks
 * up to the token), then the names this token may use as `model` (targets,
 * then groups).
 */
export function createListHandler(
  deps: PipelineDeps,
  api: RequestState['api'],
  credential: Surface['credential'],
  render: (models: string[]) => unknown,
) {
  return async function list(ctx: Context): Promise<void> {
    const rc = requestContext(ctx);
    rc.state.api = api;
    rc.credential = credential(ctx.req.headers);
    await deps.stages.beforeBody(rc);
    const allowed = rc.caller?.allowed;
    const names = [...deps.targets.keys(), ...deps.router.groupDefinitions().map((g) => g.name)];
    jsonBody(ctx, render(names.filter((n) => !allowed || allowed.has(n))));
  };
}

/**
 * A finite answer, written here as one string with its Content-Length
 * (headers and body leave in one write) rather than through Koa's body setter
 * and respond step, which cost more CPU than the write itself. The bytes
 * still leave after the request's afterFinish hooks and log line (the socket
 * is uncorked on the next tick). `text`, when given, is the document's JSON
 * text (a pass-through's provider text), sent instead of serializing `value`.
 * Anything but a JSON document (none today) goes the Koa way.
 */
function sendJson(ctx: Context, value: unknown, text?: string): void {
  const document = text !== undefined || (value !== null && typeof value === 'object' && !Buffer.isBuffer(value));
  if (!document || !ctx.writable) {
    ctx.body = value;
    return;
  }
  text ??= JSON.stringify(value);
  const res = ctx.res;
  ctx.respond = false;
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** Response header naming the target that served (or last tried) the request. */
export const TARGET_HEADER = 'x-sipp-target';

/**
 * One attempt's call context (targets/target.ts). A class, not an object
 * literal with a getter per attempt: the request-scoped logger is made on
 * first use (most attempts never log).
 */
class RequestCall implements CallContext {
  readonly requestId: string;
  private child: Logger | undefined = undefined;

  constructor(
    private readonly st: RequestState,
    readonly signal: AbortSignal,
    private readonly parent: Logger,
    readonly noWait: boolean,
  ) {
    this.requestId = st.id;
  }

  get log(): Logger {
    const st = this.st;
    return (this.child ??= this.parent.child(st.traceId ? { reqId: st.id, traceId: st.traceId } : { reqId: st.id }));
  }

  /** An own arrow, not a method: a dialect takes it detached (`ctx?.ignore`). */
  readonly ignore = (field: IgnorableField): void => noteIgnored(this.st, field);
}
