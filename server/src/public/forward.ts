/**
 * The pipeline's side of pass-through (docs/api.md#pass-through): per routing
 * attempt, a member that speaks the surface's own API natively gets the
 * client's body as sent (Target.forward); its answer is written back as the
 * provider sent it: the JSON document, or every stream frame in order.
 */
import type { Context } from 'koa';
import { GatewayError } from '../errors.js';
import type { Release } from '../security/admission.js';
import { anthropicError } from '../surfaces/anthropic/errors.js';
import { openAIError } from '../surfaces/openai/errors.js';
import type { CallContext, ForwardFrame, ForwardRequest, Forwarded, Target, WireApi } from '../targets/target.js';
import { applyUsage, type RequestState } from './request-state.js';
import { FrameWriter, SSE_HEADERS } from './stream.js';

export type ForwardOutcome =
  | { kind: 'forward-json'; result: Extract<Forwarded, { kind: 'json' }> }
  | {
      kind: 'forward-stream';
      result: Extract<Forwarded, { kind: 'stream' }>;
      first: IteratorResult<ForwardFrame>;
      callCtx: CallContext;
    };

/** Whether this member takes the surface's API as is (then nothing of the body is parsed or refused by the gateway). */
export function forwardsTo(target: Target, api: WireApi | undefined): boolean {
  return api !== undefined && target.forward !== undefined && target.forwards?.has(api) === true;
}

/** One pass-through attempt; a stream's first frame is awaited so a failure up to then can still fall over. */
export async function forwardCall(target: Target, req: ForwardRequest, ctx: CallContext): Promise<ForwardOutcome> {
  const result = await target.forward!(req, ctx);
  if (result.kind === 'json') return { kind: 'forward-json', result };
  try {
    return { kind: 'forward-stream', result, first: await result.frames.next(), callCtx: ctx };
  } catch (err) {
    void result.frames.return?.().catch(() => {});
    throw err;
  }
}

const frameText = (f: ForwardFrame): string =>
  (f.event !== undefined ? `event: ${f.event}\n` : '') +
  (f.data.includes('\n')
    ? f.data
        .split('\n')
        .map((l) => `data: ${l}\n`)
        .join('')
    : `data: ${f.data}\n`) +
  '\n';

/** The gateway's own error frame, in the API's stream format, for a failure after the stream began. */
export function forwardErrorFrame(api: WireApi, e: GatewayError): string {
  switch (api) {
    case 'anthropic_messages':
      return frameText({ event: 'error', data: JSON.stringify(anthropicError(e)) });
    case 'openai_chat':
      return frameText({ data: JSON.stringify(openAIError(e)) });
    case 'openai_responses': {
      const { message, type, code } = openAIError(e).error;
      return frameText({ event: 'error', data: JSON.stringify({ type: 'error', code, message, param: null, error_type: type }) });
    }
  }
}

/** Relays a forwarded stream frame for frame; usage and the provider's own error frame go to the record. */
export async function pipeForwarded(
  ctx: Context,
  st: RequestState,
  api: WireApi,
  opened: Extract<ForwardOutcome, { kind: 'forward-stream' }>,
  release: Release,
): Promise<void> {
  const { result, callCtx } = opened;
  const frames = result.frames;
  let next = opened.first;
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(200, SSE_HEADERS);
  const out = new FrameWriter(res);
  const open = (): boolean => out.open();
  const drain = (): Promise<void> =>
    open()
      ? new Promise((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        })
      : Promise.resolve();
  st.streamError = (e) => forwardErrorFrame(api, e);
  const record = () => {
    applyUsage(st, result.usage());
    // What the client saw before it left, when no usage came (an aborted stream's charge, docs/budgets.md#cost).
    st.streamedTokens = result.generated?.() ?? 0;
  };
  // Cut short (client gone, stream broken): the output frames already relayed count (docs/dashboard.md#reasons).
  const keepStreamed = () => {
    st.outputTokens = Math.max(st.outputTokens, result.streamed?.() ?? 0);
  };
  try {
    while (!next.done) {
      st.firstTokenAt ??= performance.now();
      // The first frame (and the headers with it) leaves at once; the rest of a provider chunk's frames in one write (FrameWriter).
      out.write(frameText(next.value));
      if (out.needsDrain()) await drain();
      if (callCtx.signal.aborted) break;
      next = await frames.next();
    }
    record();
    if (callCtx.signal.aborted) {
      keepStreamed();
      st.statusOverride = 499;
      st.code = 'client_closed_request';
    } else if (result.errorType() !== undefined) {
      // The provider's own error frame went to the client as sent.
      st.code = 'upstream';
    }
    release();
  } catch (err) {
    record();
    keepStreamed();
    if (callCtx.signal.aborted) {
      st.statusOverride = 499;
      st.code = 'client_closed_request';
    } else {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'internal error');
      if (!(err instanceof GatewayError)) callCtx.log.error({ err: { message: (err as Error)?.message } }, 'stream failed');
      st.code = e.code;
      out.write(forwardErrorFrame(api, e));
    }
  } finally {
    out.end();
    void frames.return?.(undefined).catch(() => {});
  }
}
