/**
 * The stored-response routes under the Responses route (docs/api.md#responses):
 * `GET` / `DELETE {path}/{id}` and `GET {path}/{id}/input_items`. Each runs
 * the beforeBody stage (the checks up to the token), then answers from the
 * store for this caller only: another caller's id is a 404 like an unknown one.
 */
import type { Context } from 'koa';
import { GatewayError, InvalidFieldError } from '../errors.js';
import type { Caller } from '../security/bearer.js';
import { guarded } from '../surfaces/responses/index.js';
import { ownerOf, type ResponseStore, type StoredResponse } from '../surfaces/responses/store.js';
import { bearerCredential } from '../surfaces/surface.js';
import type { PipelineDeps } from './pipeline.js';
import { requestContext } from './request-context.js';

export interface ResponsesResourceDeps extends Pick<PipelineDeps, 'stages'> {
  /** Stored Responses API responses ([responses]). */
  responses: ResponseStore;
}

type Handle = (store: ResponseStore, ctx: Context, caller: Caller) => Promise<unknown>;

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No response found with id '${id}'.`);
}

const ID = /^[A-Za-z0-9_-]{1,256}$/;

async function lookup(store: ResponseStore, ctx: Context, caller: Caller): Promise<StoredResponse> {
  const id = String(ctx.params?.id ?? '');
  const found = ID.test(id) ? await guarded(() => store.get(ownerOf(caller.label), id)) : null;
  if (!found) throw notFound(id);
  return found;
}

const retrieve: Handle = async (store, ctx, caller) => {
  if (ctx.query.stream === 'true')
    throw new InvalidFieldError('stream', 'streaming a stored response again is not supported by the gateway');
  return (await lookup(store, ctx, caller)).response;
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

function createResourceHandler(deps: ResponsesResourceDeps, handle: Handle) {
  return async function resource(ctx: Context): Promise<void> {
    const rc = requestContext(ctx);
    rc.state.api = 'openai';
    rc.credential = bearerCredential(ctx.req.headers);
    await deps.stages.beforeBody(rc);
    if (!rc.caller)
      throw new GatewayError('authentication', 'missing, malformed or unknown bearer token', { 'www-authenticate': 'Bearer' });
    ctx.body = await handle(deps.responses, ctx, rc.caller);
  };
}

export const createResponseRetrieveHandler = (deps: ResponsesResourceDeps) => createResourceHandler(deps, retrieve);
export const createResponseDeleteHandler = (deps: ResponsesResourceDeps) => createResourceHandler(deps, remove);
export const createResponseInputItemsHandler = (deps: ResponsesResourceDeps) => createResourceHandler(deps, inputItems);
