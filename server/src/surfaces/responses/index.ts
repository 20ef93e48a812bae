/**
 * The OpenAI Responses API as a surface (`[routes] openai_responses`,
 * default `/v1/responses`; docs/api.md#responses): `POST` creates a response
 * (finite or streamed) on any target through the one pipeline; with `store`
 * (the default) the response is kept for `previous_response_id` chaining and
 * for `GET` / `DELETE {path}/{id}` and `GET {path}/{id}/input_items`, visible
 * only to the caller that created it.
 */
import type { Context } from 'koa';
import { GatewayError } from '../../errors.js';
import { InvalidFieldError } from '../../public/field-error.js';
import { bearerCredential, type StreamRenderer, type Surface } from '../../public/surface.js';
import type { Caller } from '../../security/bearer.js';
import { StateUnavailableError } from '../../state/index.js';
import type { TextResult } from '../../targets/target.js';
import type { StoredItem } from './items.js';
import { renderResponse, ResponsesStream } from './render.js';
import { buildConversation, parseResponsesRequest, type ResponsesRequest } from './request.js';
import { ownerOf, type ResponseStore, type StoredResponse } from './store.js';

/** Runs a store operation; an unreachable store is a 503, never a lost response reported as kept. */
async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof StateUnavailableError)
      throw new GatewayError('unavailable', 'the response store is unreachable; retry later');
    throw err;
  }
}

/** The neutral capability field (`messages.3.content.1`) in this request's own naming (`input.2.content.1`). */
function field(neutral: string, req: ResponsesRequest): string {
  const m = /^messages\.(\d+)(.*)$/.exec(neutral);
  if (m) {
    // Parts of an input item keep their index; `instructions` and the chain's items are named as a whole.
    const f = req.fields[Number(m[1])] ?? 'input';
    return f.startsWith('input.') ? f + m[2] : f;
  }
  if (neutral === 'response_format') return 'text.format';
  if (neutral === 'max_tokens') return 'max_output_tokens';
  return neutral;
}

export function openAIResponsesSurface(store: ResponseStore): Surface<ResponsesRequest> {
  const keep = (req: ResponsesRequest, response: Record<string, unknown>): Promise<void> =>
    guarded(() => store.put(req.owner!, req.id, { response, input: [...req.history, ...req.input] }));

  return {
    api: 'openai',
    operation: 'chat',
    credential: bearerCredential,
    parse: (body) => parseResponsesRequest(body),
    async prepare(req: ResponsesRequest, caller: Caller) {
      req.owner = ownerOf(caller.label);
      const prevId = req.echo.previous_response_id;
      if (prevId === null) return;
      const prev = await guarded(() => store.get(req.owner!, prevId));
      // Unknown, expired, deleted, never stored, or another caller's: the same answer for each.
      if (!prev) throw new InvalidFieldError('previous_response_id', `no stored response with id ${JSON.stringify(prevId)}`);
      req.history = [...prev.input, ...(prev.response.output as StoredItem[])];
      buildConversation(req);
    },
    field,
    async renderText(req: ResponsesRequest, model: string, result: TextResult) {
      const response = renderResponse(req, model, result);
      if (req.echo.store) await keep(req, response);
      return response;
    },
    renderEmbed: () => {
      throw new Error('not an embeddings route');
    },
    openStream(req: ResponsesRequest, model: string): StreamRenderer {
      const s = new ResponsesStream(req, model);
      return {
        start: () => s.start(),
        token: (text) => s.token(text),
        toolCall: (c) => s.toolCall(c),
        async end(chunk, usage, outputTokens) {
          const final = s.finalResponse(chunk, usage, outputTokens);
          // Stored before response.completed goes out: a chained request sent right after sees it.
          if (req.echo.store) await keep(req, final);
          return s.end(final);
        },
        error: (e) => s.error(e),
      };
    },
  };
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No response found with id '${id}'.`);
}

/** The routes under `{path}/{id}`: retrieve, delete, input_items (docs/api.md#responses). */
export interface ResponseResources {
  retrieve(ctx: Context, caller: Caller): Promise<unknown>;
  remove(ctx: Context, caller: Caller): Promise<unknown>;
  inputItems(ctx: Context, caller: Caller): Promise<unknown>;
}

const ID = /^[A-Za-z0-9_-]{1,256}$/;

async function lookup(store: ResponseStore, ctx: Context, caller: Caller): Promise<StoredResponse> {
  const id = String(ctx.params?.id ?? '');
  const found = ID.test(id) ? await guarded(() => store.get(ownerOf(caller.label), id)) : null;
  if (!found) throw notFound(id);
  return found;
}

export function responseResources(store: ResponseStore): ResponseResources {
  return {
    async retrieve(ctx, caller) {
      if (ctx.query.stream === 'true')
        throw new InvalidFieldError('stream', 'streaming a stored response again is not supported by the gateway');
      return (await lookup(store, ctx, caller)).response;
    },
    async remove(ctx, caller) {
      const id = String(ctx.params?.id ?? '');
      if (!ID.test(id) || !(await guarded(() => store.delete(ownerOf(caller.label), id)))) throw notFound(id);
      return { id, object: 'response', deleted: true };
    },
    async inputItems(ctx, caller) {
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
    },
  };
}
