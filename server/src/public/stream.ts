/**
 * Writes a target's stream to the client as server-sent events, in whatever
 * frames the surface's renderer makes. Headers go out only once the first
 * chunk has arrived (target-call.ts); errors after that become the surface's
 * error frame. Backpressure is honoured; a client that leaves aborts the target.
 */
import type { Context } from 'koa';
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Release } from '../security/admission.js';
import type { CallContext, StreamChunk } from '../targets/target.js';
import { applyUsage, type RequestState } from './request-state.js';
import type { StreamRenderer } from '../surfaces/surface.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * Sends what the response holds now (docs/architecture.md#streams). Node
 * corks the socket on a response write until the next tick, and that tick
 * comes only once every promise already settled has run: the rest of the
 * upstream chunk's frames, parsed, renamed and written. The first frame (with
 * the headers) goes out at once instead; later frames go out per upstream
 * chunk, as Node's cork groups them.
 */
export function flushNow(res: ServerResponse): void {
  const socket = res.socket;
  if (socket && socket.writableCorked > 0) socket.uncork();
}

export async function pipeStream(
  ctx: Context,
  st: RequestState,
  opened: { first: IteratorResult<StreamChunk>; rest: AsyncIterator<StreamChunk> },
  render: StreamRenderer,
  callCtx: CallContext,
  release: Release,
): Promise<void> {
  const { rest } = opened;
  let next = opened.first;

  ctx.respond = false;
  const res = ctx.res;
  // The headers go out with the first frame (one write, one packet); flushed alone only when the first chunk writes nothing.
  res.writeHead(200, SSE_HEADERS);
  const open = (): boolean => !res.destroyed && !res.writableEnded;
  // The renderer's opening frames go out with the first frame after them: one write fewer per stream.
  let pending = render.start();
  let wrote = false;
  const write = (text: string): boolean => {
    const out = pending ? pending + text : text;
    pending = '';
    if (out.length === 0 || !open()) return true;
    const ok = res.write(out);
    if (!wrote) {
      wrote = true;
      flushNow(res);
    }
    return ok;
  };
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

  st.streamError = (e) => render.error(e);
  let sequence = 0;
  try {
    while (!next.done) {
      const chunk = next.value;
      if (chunk.type === 'token') {
        if (chunk.text.length > 0) {
          st.firstTokenAt ??= performance.now();
          if (!write(render.token(chunk.text, sequence))) await drain();
        }
        sequence += chunk.tokens ?? 1;
      } else if (chunk.type === 'tool_call') {
        st.firstTokenAt ??= performance.now();
        if (!write(render.toolCall(chunk))) await drain();
      } else {
        if (chunk.usage) {
          applyUsage(st, chunk.usage);
        } else {
          st.outputTokens = sequence;
        }
        release();
        const tail = render.end(chunk, chunk.usage, st.outputTokens);
        write(typeof tail === 'string' ? tail : await tail);
        if (open()) res.end();
        break;
      }
      st.streamedTokens = sequence;
      if (callCtx.signal.aborted) break;
      if (!wrote) {
        wrote = true;
        if (open()) res.flushHeaders();
      }
      next = await rest.next();
    }
    if (callCtx.signal.aborted) {
      st.statusOverride = 499;
      st.code = 'client_closed_request';
      keepStreamed(st, sequence);
    } else if (open()) {
      // The target ended without an `end` chunk: that is a broken stream.
      throw new GatewayError('execution', 'stream ended without a finish reason');
    }
  } catch (err) {
    keepStreamed(st, sequence);
    if (callCtx.signal.aborted) {
      st.statusOverride = 499;
      st.code = 'client_closed_request';
    } else {
      const e = err instanceof GatewayError ? err : new GatewayError('internal', 'internal error');
      if (!(err instanceof GatewayError)) callCtx.log.error({ err: { message: (err as Error)?.message } }, 'stream failed');
      st.code = e.code;
      write(render.error(e));
    }
  } finally {
    if (open()) res.end(pending || undefined);
    void rest.return?.().catch(() => {});
  }
}

/** A stream cut short (client gone, target failed) keeps the tokens already sent in the record (docs/dashboard.md#reasons). */
function keepStreamed(st: RequestState, streamed: number): void {
  if (st.outputTokens === 0) st.outputTokens = streamed;
}
