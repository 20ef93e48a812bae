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
import { callTarget } from './target-call.js';

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
    const request = surface.parse(body);
    const call = request.call;
    for (const field of request.ignored ?? []) noteIgnored(st, field);

    if (caller.allowed && !caller.allowed.has(request.model)) {
      throw new GatewayError('authorization', `this token may not use target "${request.model}"`);
    }
    st.model = request.model;
    if (surface.prepare) await surface.prepare(request, caller);
    // Members that cannot honour the request (a field their type refuses) are
    // skipped; when none can, the first refusal is the answer (400 naming the field).
    const route = deps.router.resolve(request.model, call.operation, (target) => {
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
      const served = await deps.router.run(route, abort.signal, st, (target, o) =>
        callTarget(target, call, request.stream, callContext(st, abort.signal, deps.log, o.noWait)),
      );
      ctx.set(TARGET_HEADER, served.target.name);
      const ignored = ignoredHeaderValue(st.ignored);
      if (ignored) ctx.set(IGNORED_HEADER, ignored);
      const outcome = served.value;
      try {
        switch (outcome.kind) {
          case 'embed':
            applyUsage(st, outcome.result.usage);
            ctx.body = surface.renderEmbed(request, request.model, outcome.result);
            break;
          case 'text':
            applyUsage(st, outcome.result.usage);
            ctx.body = await surface.renderText(request, request.model, outcome.result);
            break;
          case 'stream':
            st.stream = true;
            await pipeStream(ctx, st, outcome, surface.openStream(request, request.model, st.id), outcome.callCtx, release);
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

/**
 * A stored-resource route (Responses retrieve / delete / input_items): the
 * same checks up to the token, then `handle` answers for this caller.
 */
export function createResourceHandler(
  deps: PipelineDeps,
  api: RequestState['api'],
  credential: Surface['credential'],
  handle: (ctx: Context, caller: Caller) => Promise<unknown>,
) {
  return async function resource(ctx: Context): Promise<void> {
    const st = ctx.state.request as RequestState;
    st.api = api;
    const caller = await admitCaller(deps, st, credential(ctx.req.headers));
    ctx.body = await handle(ctx, caller);
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
