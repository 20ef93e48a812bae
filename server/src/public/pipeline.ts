/**
 * The one request pipeline of the public listener, shared by every API
 * surface (Sipp, OpenAI, Anthropic). The SPEC §3 check order runs here once:
 *
 *   client identity → blocklist → rate limit → token → body size and JSON →
 *   authorization → target or group exists (and a member supports the
 *   operation and honours the request) → admission → run (router: members,
 *   retries, fallbacks)
 *
 * Identity is resolved by the app before this handler runs. A surface only
 * parses its wire format into the internal request and renders the answer.
 */
import type { Operation, Usage } from '@sipp/shared';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Admission } from '../security/admission.js';
import type { Authenticator, Caller } from '../security/bearer.js';
import type { Blocklist } from '../security/blocklist.js';
import type { RateLimiter } from '../security/rate-limit.js';
import type { Router } from '../routing/router.js';
import { checkEmbedCapabilities, checkTextCapabilities } from '../targets/capabilities.js';
import type { CallContext, Target } from '../targets/target.js';
import { parseJsonObject, readBody } from './body.js';
import { InvalidFieldError } from './field-error.js';
import { IGNORED_HEADER, ignoredHeaderValue } from '../targets/ignored.js';
import { noteIgnored, type RequestState } from './request-state.js';
import { pipeStream } from './stream.js';
import type { ParsedRequest, Surface } from './surface.js';
import { callTarget, type CallOutcome } from './target-call.js';
import { forwardCall, forwardsTo, pipeForwarded, type ForwardOutcome } from './forward.js';

export interface PipelineDeps {
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

/** blocklist → rate limit → token: the checks before any body byte is read. */
async function admitCaller(deps: PipelineDeps, st: RequestState, credential: string | undefined): Promise<Caller> {
  if (deps.blocklist.has(st.client)) throw new GatewayError('blocked', 'client address is blocked');

  const decision = await deps.rateLimiter.admit(st.client);
  if (!decision.ok) {
    throw new GatewayError('rate_limited', 'rate limit exceeded; retry later', {
      'retry-after': String(decision.retryAfterSeconds),
    });
  }

  const caller = deps.authenticate(credential);
  if (!caller) {
    throw new GatewayError('authentication', 'missing, malformed or unknown bearer token', {
      'www-authenticate': 'Bearer',
    });
  }
  st.caller = caller.label;
  return caller;
}

export function createSurfaceHandler<P extends ParsedRequest>(deps: PipelineDeps, surface: Surface<P>) {
  const limit = deps.config.max_request_bytes;
  const operation: Operation = surface.operation;

  return async function handle(ctx: Context): Promise<void> {
    const st = ctx.state.request as RequestState;
    st.api = surface.api;
    st.operation = operation;

    const caller = await admitCaller(deps, st, surface.credential(ctx.req.headers));

    const body = parseJsonObject(await readBody(ctx.req, limit));
    // A surface with a wire API parses leniently: members that speak it take
    // the body as sent, so only the others need the internal request.
    const wire = surface.wire;
    let request: P | null = null;
    let parseError: unknown = null;
    if (wire) {
      try {
        request = surface.parse(body);
      } catch (err) {
        parseError = err;
      }
    } else request = surface.parse(body);
    const asked = request ?? basicsOr(wire!, body, parseError);

    if (caller.allowed && !caller.allowed.has(asked.model)) {
      throw new GatewayError('authorization', `this token may not use target "${asked.model}"`);
    }
    st.model = asked.model;
    // Members that cannot honour the request (a field their type refuses) are
    // skipped; when none can, the first refusal is the answer (400 naming the field).
    const route = deps.router.resolve(asked.model, surface.operation, (target) => {
      if (forwardsTo(target, wire?.api)) return null;
      if (!request) return parseError as Error;
      const call = request.call;
      const issue =
        call.operation === 'embed'
          ? checkEmbedCapabilities(call.embed, target.capabilities, target)
          : checkTextCapabilities(call.text, target.capabilities, target);
      if (!issue) return null;
      // "temperature must be …" reads "temperature: must be …" once the field leads.
      const detail = issue.message.startsWith(`${issue.field} `) ? issue.message.slice(issue.field.length + 1) : issue.message;
      return new InvalidFieldError(surface.field(issue.field, request), detail);
    });

    const release = deps.admission.tryAcquire();
    if (!release) {
      throw new GatewayError('admission', 'the gateway is at max_concurrent_requests; retry later', { 'retry-after': '1' });
    }

    const abort = new AbortController();
    const onClose = () => {
      if (!ctx.res.writableFinished) abort.abort(new Error('client disconnected'));
    };
    ctx.res.once('close', onClose);
    try {
      // The router runs the one target-call seam per attempt (retry, fallback),
      // each with a call context of its own; the response names the member
      // that served (x-sipp-target) but keeps the `model` the client asked for.
      const served = await deps.router.run(route, abort.signal, st, (target, o): Promise<CallOutcome | ForwardOutcome> => {
        const cc = callContext(st, abort.signal, deps.log, o.noWait);
        if (forwardsTo(target, wire?.api)) {
          return forwardCall(target, { api: wire!.api, body, headers: ctx.req.headers, stream: asked.stream, model: asked.model }, cc);
        }
        for (const field of request!.ignored ?? []) noteIgnored(st, field);
        for (const h of wire?.hintHeaders ?? []) if (ctx.req.headers[h] !== undefined) noteIgnored(st, h);
        return callTarget(target, request!.call, request!.stream, cc);
      });
      ctx.set(TARGET_HEADER, served.target.name);
      const ignored = ignoredHeaderValue(st.ignored);
      if (ignored) ctx.set(IGNORED_HEADER, ignored);
      const outcome = served.value;
      try {
        switch (outcome.kind) {
          case 'forward-json':
            applyUsage(st, outcome.result.usage);
            ctx.body = outcome.result.body;
            break;
          case 'forward-stream':
            st.stream = true;
            await pipeForwarded(ctx, st, wire!.api, outcome, release);
            break;
          case 'embed':
            applyUsage(st, outcome.result.usage);
            ctx.body = surface.renderEmbed(request!, asked.model, outcome.result);
            break;
          case 'text':
            applyUsage(st, outcome.result.usage);
            ctx.body = surface.renderText(request!, asked.model, outcome.result);
            break;
          case 'stream':
            st.stream = true;
            await pipeStream(ctx, st, outcome, surface.openStream(request!, asked.model, st.id), outcome.callCtx, release);
            break;
        }
      } finally {
        served.done();
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

/** A surface's `basics` (model, stream) when its full parse failed; the parse error when even those are missing. */
function basicsOr(wire: NonNullable<Surface['wire']>, body: Record<string, unknown>, parseError: unknown): { model: string; stream: boolean } {
  try {
    return wire.basics(body);
  } catch {
    throw parseError;
  }
}

/**
 * A listing route (OpenAI `GET /v1/models`): the same checks up to the token,
 * then the names this token may use as `model` (targets, then groups).
 */
export function createListHandler(
  deps: PipelineDeps,
  api: RequestState['api'],
  credential: Surface['credential'],
  render: (models: string[]) => unknown,
) {
  return async function list(ctx: Context): Promise<void> {
    const st = ctx.state.request as RequestState;
    st.api = api;
    const caller = await admitCaller(deps, st, credential(ctx.req.headers));
    const names = [...deps.targets.keys(), ...deps.router.groupDefinitions().map((g) => g.name)];
    ctx.body = render(names.filter((n) => !caller.allowed || caller.allowed.has(n)));
  };
}

export function applyUsage(st: RequestState, usage: Usage | undefined): void {
  if (!usage) return;
  st.inputTokens = usage.input_tokens;
  st.outputTokens = usage.output_tokens;
}

/** Response header naming the target that served (or last tried) the request. */
export const TARGET_HEADER = 'x-sipp-target';

function callContext(st: RequestState, signal: AbortSignal, log: Logger, noWait: boolean): CallContext {
  let child: Logger | undefined;
  return {
    requestId: st.id,
    signal,
    noWait,
    get log() {
      child ??= log.child({ reqId: st.id });
      return child;
    },
    ignore: (field) => noteIgnored(st, field),
  };
}
