/**
 * `POST /v1/messages/count_tokens` (docs/api.md#count-tokens): the input
 * tokens of an Anthropic Messages request, on every target type. The token,
 * body and authorization checks of the pipeline run first; then the first
 * member of the resolved target or group (listed order) answers:
 *  - anthropic targets: forwarded as sent (only `model` rewritten, with the
 *    client's `anthropic-version` / `anthropic-beta`), the answer relayed;
 *    its image and document URLs checked as on the pass-through path;
 *  - local targets: the model's own tokenizer over its chat template;
 *  - other targets: an estimate, one token per 4 characters of the text
 *    (system, messages, tool definitions), rounded up.
 */
import type { Context } from 'koa';
import { GatewayError, InvalidFieldError } from '../errors.js';
import type { Router } from '../routing/router.js';
import { parseMessagesRequest } from '../surfaces/anthropic/request.js';
import { wireBasics } from '../surfaces/fields.js';
import { checkRawImageUrls, type RequestPolicy } from '../targets/request-checks.js';
import type { CallContext, Message, Target, TextRequest } from '../targets/target.js';
import { parseJsonObject, readBody } from './body.js';
import { forwardsTo } from './forward.js';
import { requestContext } from './request-context.js';
import { noteIgnored } from './request-state.js';
import type { Stages } from './stages.js';
import type { Logger } from 'pino';
import { jsonBody } from '../http/json-body.js';

export interface CountTokensDeps {
  maxRequestBytes: number;
  router: Pick<Router, 'resolve' | 'canonical'>;
  stages: Stages;
  log: Logger;
  /** The image-URL rules of the pass-through path (`allow_private_image_urls`). */
  requestPolicy: RequestPolicy;
}

/** `Authorization: Bearer` when present, else `x-api-key`. */
function credential(ctx: Context): string | undefined {
  if (ctx.req.headers.authorization) return ctx.req.headers.authorization;
  const key = ctx.req.headers['x-api-key'];
  return typeof key === 'string' && key ? `Bearer ${key}` : undefined;
}

/** Characters per token of the estimate on targets without a tokenizer the gateway can reach. */
export const CHARS_PER_TOKEN = 4;

function textOf(messages: readonly Message[]): number {
  let chars = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else for (const p of m.content) if (p.type === 'text') chars += p.text.length;
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length;
  }
  return chars;
}

export function estimateTokens(req: TextRequest): number {
  let chars = req.operation === 'chat' ? textOf(req.messages) : req.prompt.length;
  for (const t of req.options.tools ?? []) chars += JSON.stringify(t).length;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export function createCountTokensHandler(deps: CountTokensDeps) {
  return async function countTokens(ctx: Context): Promise<void> {
    const rc = requestContext(ctx);
    const st = rc.state;
    st.api = 'anthropic';
    rc.credential = credential(ctx);
    await deps.stages.beforeBody(rc);

    const body = parseJsonObject(await readBody(ctx.req, deps.maxRequestBytes));
    const { model } = wireBasics(body);
    st.model = model;
    const allowed = rc.caller?.allowed;
    if (allowed && !allowed.has(model) && !allowed.has(deps.router.canonical(model))) {
      throw new GatewayError('authorization', `this token may not use target "${model}"`);
    }
    const route = deps.router.resolve(model, 'chat');
    const target: Target = route.members[0]!;
    st.target = target.name;
    const abort = new AbortController();
    const onClose = () => {
      if (!ctx.res.writableFinished) abort.abort(new Error('client disconnected'));
    };
    ctx.res.once('close', onClose);
    const call: CallContext = { requestId: st.id, signal: abort.signal, log: deps.log, ignore: (f) => noteIgnored(st, f) };
    try {
      if (forwardsTo(target, 'anthropic_messages')) {
        // The body goes as sent, and the provider may fetch its URLs to count them: the pass-through URL rules apply.
        const raw = checkRawImageUrls(body, deps.requestPolicy);
        if (raw) throw new InvalidFieldError(raw.field, raw.message);
        const answer = await target.forward!(
          { api: 'anthropic_messages', path: '/v1/messages/count_tokens', body, headers: ctx.req.headers, stream: false, model },
          call,
        );
        if (answer.kind !== 'json') throw new GatewayError('upstream', 'upstream sent an unexpected response');
        jsonBody(ctx, answer.body);
        return;
      }
      // The Messages parse needs max_tokens, which count_tokens does not take.
      const { stream: _stream, ...rest } = body;
      const parsed = parseMessagesRequest({ max_tokens: 1, ...rest });
      const req: TextRequest = { operation: 'chat', messages: parsed.messages, options: parsed.options };
      const tokens = target.countTokens ? await target.countTokens(req, call) : estimateTokens(req);
      st.inputTokens = tokens;
      ctx.set('x-sipp-target', target.name);
      jsonBody(ctx, { input_tokens: tokens });
    } finally {
      ctx.res.off('close', onClose);
    }
  };
}
