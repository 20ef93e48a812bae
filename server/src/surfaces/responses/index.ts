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
import { wireBasics } from '../fields.js';
import { bearerCredential, JsonText, type StreamRenderer, type TextSurface } from '../surface.js';
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

/** A response id as the gateway accepts it (stored-response routes, `previous_response_id`). */
export const RESPONSE_ID = /^[A-Za-z0-9_-]{1,256}$/;

/** `previous_response_id` of the body as sent (the parse may have failed: a native target takes such bodies). */
function previousId(body: Record<string, unknown>): string | null {
  const v = body.previous_response_id;
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !RESPONSE_ID.test(v))
    throw new InvalidFieldError('previous_response_id', 'must be a response id (letters, digits, _ and -)');
  return v;
}

export function openAIResponsesSurface(store: ResponseStore): TextSurface<ResponsesRequest> {
  /** Keeps a Response object, given as its JSON text (the text the client gets), with its input: one serialization. */
  const keepText = (req: ResponsesRequest, response: string): Promise<void> =>
    guarded(() =>
      store.putText(req.owner!, req.id, `{"response":${response},"input":${JSON.stringify([...req.history, ...req.input])}}`),
    );

  return {
    api: 'openai',
    operation: 'chat',
    credential: bearerCredential,
    // An `api = "responses"` target takes the body as sent (docs/api.md#native-responses-targets).
    wire: {
      api: 'openai_responses',
      basics: wireBasics,
      async forwarded(req, target, id) {
        // The provider keeps what it made (unless `store: false`); the gateway remembers which target, for this caller only.
        if (id === undefined || !RESPONSE_ID.test(id) || req.owner === null || req.passthrough?.body.store === false) return;
        await guarded(() => store.claim(req.owner!, id, { target, model: req.model }));
      },
    },
    parse: (body) => parseResponsesRequest(body),
    async prepare(req: ResponsesRequest, caller: Caller) {
      req.owner = ownerOf(caller.label);
      const pt = req.passthrough;
      const prevId = pt ? previousId(pt.body) : req.echo.previous_response_id;
      if (prevId === null) return;
      const prev = await guarded(() => store.get(req.owner!, prevId));
      if (prev) {
        // A chain the gateway keeps (a translated response): only a translation can continue it.
        if (pt?.parseError) throw pt.parseError;
        delete req.passthrough;
        req.history = [...prev.input, ...(prev.response.output as StoredItem[])];
        buildConversation(req);
        return;
      }
      // A chain a native Responses target keeps: the body goes as sent, to that target only.
      const claim = pt ? await guarded(() => store.claimOf(req.owner!, prevId)) : null;
      if (claim && pt) {
        pt.only = claim.target;
        pt.parseError ??= new InvalidFieldError(
          'previous_response_id',
          `continues a response only target "${claim.target}" keeps`,
        );
        return;
      }
      // Unknown, expired, deleted, never stored, or another caller's: the same answer for each.
      throw new InvalidFieldError('previous_response_id', `no stored response with id ${JSON.stringify(prevId)}`);
    },
    field,
    async renderText(req: ResponsesRequest, model: string, result: TextResult) {
      const response = renderResponse(req, model, result);
      if (!req.echo.store) return response;
      // One serialization for the store and the client, as a stream's final text (keepText).
      const text = JSON.stringify(response);
      await keepText(req, text);
      return new JsonText(text);
    },
    openStream(req: ResponsesRequest, model: string): StreamRenderer {
      const s = new ResponsesStream(req, model);
      return {
        start: () => s.start(),
        token: (text) => s.token(text),
        toolCall: (c) => s.toolCall(c),
        async end(chunk, usage, outputTokens) {
          if (!req.echo.store) return s.end(chunk, usage, outputTokens);
          // Stored before response.completed goes out: a chained request sent right after sees it.
          const response = s.finalResponseText(chunk, usage, outputTokens);
          await keepText(req, response);
          return s.end(chunk, usage, outputTokens, response);
        },
        error: (e) => s.error(e),
      };
    },
  };
}
