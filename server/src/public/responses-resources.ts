/**
 * The stored-response routes under the Responses route (docs/api.md#responses):
 * `GET` / `DELETE {path}/{id}` and `GET {path}/{id}/input_items`. Each runs
 * the beforeBody stage (the checks up to the token), then answers from the
 * store for this caller only: another caller's id is a 404 like an unknown one.
 * A response a native Responses target made (docs/api.md#native-responses-targets)
 * is kept by the provider: the request goes to that target as sent, when this
 * caller's claim on the id says which.
 */
import type { Context } from 'koa';
import { GatewayError, InvalidFieldError } from '../errors.js';
import type { Caller } from '../security/bearer.js';
import { guarded, RESPONSE_ID as ID } from '../surfaces/responses/index.js';
import { replayStream } from '../surfaces/responses/render.js';
import { ownerOf, type ResponseStore, type StoredResponse } from '../surfaces/responses/store.js';
import { bearerCredential } from '../surfaces/surface.js';
import type { CallContext } from '../targets/target.js';
import { forwardsTo, pipeForwarded } from './forward.js';
import type { PipelineDeps } from './pipeline.js';
import { requestContext } from './request-context.js';
import { noteIgnored, type RequestState } from './request-state.js';
import { SSE_HEADERS } from './stream.js';
import { jsonBody } from '../http/json-body.js';

export interface ResponsesResourceDeps extends Pick<PipelineDeps, 'stages' | 'targets' | 'log'> {
  /** Stored Responses API responses ([responses]). */
  responses: ResponseStore;
}

type Handle = (store: ResponseStore, ctx: Context, caller: Caller) => Promise<unknown>;

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No response found with id '${id}'.`);
}

/** Where the route goes under the target's base URL (`/responses/{id}` or `/responses/{id}/input_items`), query as sent. */
type NativePath = (id: string) => string;

/** `GET {id}?stream=true`: the response as its streaming event sequence (docs/api.md#responses). */
const wantsStream = (ctx: Context): boolean => ctx.method === 'GET' && ctx.query.stream === 'true';

/**
 * A provider-kept response this caller's claim names: the request goes to the
 * target that made it, as sent (query string included); the provider's answer
 * and errors come back as it sent them, a stream (`?stream=true`) frame for
 * frame with only `model` renamed. Null when this caller has no claim on the
 * id; `streamed` once the stream was relayed.
 */
async function native(
  deps: ResponsesResourceDeps,
  ctx: Context,
  st: RequestState,
  caller: Caller,
  method: 'GET' | 'DELETE',
  path: NativePath,
): Promise<{ body: unknown } | 'streamed' | null> {
  const id = String(ctx.params?.id ?? '');
  if (!ID.test(id)) return null;
  const owner = ownerOf(caller.label);
  const claim = await guarded(() => deps.responses.claimOf(owner, id));
  if (!claim) return null;
  const target = deps.targets.get(claim.target);
  // The target left the configuration: nothing can reach that response any more.
  if (!target || !forwardsTo(target, 'openai_responses')) return null;
  st.target = target.name;
  st.model = claim.model;
  ctx.set('x-sipp-target', target.name);
  const abort = new AbortController();
  const onClose = () => {
    if (!ctx.res.writableFinished) abort.abort(new Error('client disconnected'));
  };
  ctx.res.once('close', onClose);
  const call: CallContext = { requestId: st.id, signal: abort.signal, log: deps.log, ignore: (f) => noteIgnored(st, f) };
  try {
    const q = ctx.querystring;
    const stream = path === NATIVE_PATHS.retrieve && wantsStream(ctx);
    const answer = await target.forward!(
      {
        api: 'openai_responses',
        method,
        path: path(id) + (q ? `?${q}` : ''),
        headers: ctx.req.headers,
        stream,
        model: claim.model,
      },
      call,
    );
    if (answer.kind === 'stream' && stream) {
      // Replaying a kept response generates nothing: no usage is recorded for it.
      const replay = { ...answer, usage: () => undefined, generated: () => 0, streamed: () => 0 };
      const first = await answer.frames.next();
      await pipeForwarded(
        ctx,
        st,
        'openai_responses',
        { kind: 'forward-stream', result: replay, first, callCtx: call },
        () => {},
      );
      return 'streamed';
    }
    if (answer.kind !== 'json') throw new GatewayError('upstream', 'upstream sent an unexpected response');
    if (method === 'DELETE') await guarded(() => deps.responses.unclaim(owner, id));
    return { body: answer.body };
  } finally {
    ctx.res.off('close', onClose);
  }
}

/** The provider-side path of each route, per response id. */
const NATIVE_PATHS = {
  retrieve: (id: string) => `/responses/${id}`,
  inputItems: (id: string) => `/responses/${id}/input_items`,
} satisfies Record<string, NativePath>;

async function lookup(store: ResponseStore, ctx: Context, caller: Caller): Promise<StoredResponse> {
  const id = String(ctx.params?.id ?? '');
  const found = ID.test(id) ? await guarded(() => store.get(ownerOf(caller.label), id)) : null;
  if (!found) throw notFound(id);
  return found;
}

/** `starting_after` of a streamed retrieve: the sequence number after which events are sent (none: all). */
function startingAfter(ctx: Context): number {
  const v = ctx.query.starting_after;
  if (v === undefined) return -1;
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidFieldError('starting_after', 'must be a non-negative integer');
  return n;
}

const retrieve: Handle = async (store, ctx, caller) => {
  const stream = wantsStream(ctx);
  const after = stream ? startingAfter(ctx) : -1;
  const { response } = await lookup(store, ctx, caller);
  if (!stream) return response;
  // A response the gateway kept, streamed again as a streamed create sends it.
  ctx.set(SSE_HEADERS);
  return replayStream(response, after);
};

const remove: Handle = async (store, ctx, caller) => {
  const id = String(ctx.params?.id ?? '');
  if (!ID.test(id) || !(await guarded(() => store.delete(ownerOf(caller.label), id)))) throw notFound(id);
  return { id, object: 'response', deleted: true };
};

const inputItems: Handle = async (store, ctx, caller) => {
  const stored = await lookup(store, ctx, caller);
  const q = ctx.query;
  const limit = q.limit === undefined ? 20 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new InvalidFieldError('limit', 'must be an integer from 1 to 100');
  const order = q.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new InvalidFieldError('order', 'must be "asc" or "desc"');
  let items = order === 'desc' ? [...stored.input].reverse() : [...stored.input];
  if (typeof q.after === 'string') {
    const at = items.findIndex((i) => i.id === q.after);
    if (at < 0) throw new InvalidFieldError('after', 'no such item in this response');
    items = items.slice(at + 1);
  }
  const data = items.slice(0, limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: items.length > limit,
  };
};

function createResourceHandler(deps: ResponsesResourceDeps, handle: Handle, method: 'GET' | 'DELETE', path: NativePath) {
  return async function resource(ctx: Context): Promise<void> {
    const rc = requestContext(ctx);
    rc.state.api = 'openai';
    rc.credential = bearerCredential(ctx.req.headers);
    await deps.stages.beforeBody(rc);
    if (!rc.caller)
      throw new GatewayError('authentication', 'missing, malformed or unknown bearer token', { 'www-authenticate': 'Bearer' });
    try {
      jsonBody(ctx, await handle(deps.responses, ctx, rc.caller));
    } catch (err) {
      // Not kept by the gateway: perhaps by the provider of a native target, if this caller made it there.
      if (!(err instanceof GatewayError) || err.code !== 'not_found') throw err;
      const forwarded = await native(deps, ctx, rc.state, rc.caller, method, path);
      if (!forwarded) throw err;
      if (forwarded !== 'streamed') jsonBody(ctx, forwarded.body);
    }
  };
}

export const createResponseRetrieveHandler = (deps: ResponsesResourceDeps) =>
  createResourceHandler(deps, retrieve, 'GET', NATIVE_PATHS.retrieve);
export const createResponseDeleteHandler = (deps: ResponsesResourceDeps) =>
  createResourceHandler(deps, remove, 'DELETE', NATIVE_PATHS.retrieve);
export const createResponseInputItemsHandler = (deps: ResponsesResourceDeps) =>
  createResourceHandler(deps, inputItems, 'GET', NATIVE_PATHS.inputItems);
