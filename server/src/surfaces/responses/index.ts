/**
 * The OpenAI Responses API as a surface (`[routes] openai_responses`,
 * default `/v1/responses`; docs/api.md#responses): `POST` creates a response
 * (finite or streamed) on any target through the one pipeline; with `store`
 * (the default) the response is kept for `previous_response_id` chaining and
 * for `GET` / `DELETE {path}/{id}` and `GET {path}/{id}/input_items`, visible
 * only to the caller that created it. Those stored-response routes are built
 * in public/responses-resources.ts.
 */
import { GatewayError, InvalidFieldError, StateUnavailableError } from '../../errors.js';
import type { Caller } from '../../security/bearer.js';
import type { TextResult } from '../../targets/target.js';
import { bearerCredential, type StreamRenderer, type TextSurface } from '../surface.js';
import type { StoredItem } from './items.js';
import { renderResponse, ResponsesStream } from './render.js';
import { buildConversation, parseResponsesRequest, type ResponsesRequest } from './request.js';
import { ownerOf, type ResponseStore } from './store.js';

/** Runs a store operation (also for the stored-response routes, public/responses-resources.ts); an unreachable store is a 503, never a lost response reported as kept. */
export async function guarded<T>(op: () => Promise<T>): Promise<T> {
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

export function openAIResponsesSurface(store: ResponseStore): TextSurface<ResponsesRequest> {
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
