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

/**
 * A stream's frames on their way to the client (docs/architecture.md#streams): the
 * first goes out at once, with the headers (flushNow); the frames after it that come
 * within one tick (those of one provider chunk) are joined into one `res.write`, so
 * one chunk of the chunked encoding carries them, not one per frame. Frames written
 * after the response ended or the client left are dropped.
 */
export class FrameWriter {
  private pending = '';
  private scheduled = false;
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  /** Whether the last write went past the socket's buffer bound (wait for 'drain' before reading on). */
  needsDrain(): boolean {
    return this.res.writableNeedDrain;
  }

  /** Sends the headers alone when no frame went out yet (a first chunk that writes nothing). */
  startNow(): void {
    if (this.started) return;
    this.started = true;
    if (this.open()) this.res.flushHeaders();
  }

  write(text: string): void {
    if (text.length === 0) return;
    if (!this.started) {
      if (!this.open()) return;
      this.started = true;
      this.res.write(text);
      flushNow(this.res);
      return;
    }
    this.pending += text;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushPending, this);
    }
  }

  /** Hands what waits to the response now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const out = this.pending;
    this.pending = '';
    if (this.open()) this.res.write(out);
  }

  /** Ends the response with what waits and `text` (when the response is still open). */
  end(text = ''): void {
    const out = this.pending + text;
    this.pending = '';
    if (this.open()) this.res.end(out || undefined);
  }
}

function flushPending(w: FrameWriter): void {
  w.flush();
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
  const out = new FrameWriter(res);
  const open = (): boolean => out.open();
  // The renderer's opening frames go out with the first frame after them: one write fewer per stream.
  let opening = render.start();
  const write = (text: string): void => {
    if (opening) {
      text = opening + text;
      opening = '';
    }
    out.write(text);
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
          write(render.token(chunk.text, sequence));
          if (out.needsDrain()) await drain();
        }
        sequence += chunk.tokens ?? 1;
      } else if (chunk.type === 'tool_call') {
        st.firstTokenAt ??= performance.now();
        write(render.toolCall(chunk));
        if (out.needsDrain()) await drain();
      } else {
        if (chunk.usage) {
          applyUsage(st, chunk.usage);
        } else {
          st.outputTokens = sequence;
        }
        release();
        const tail = render.end(chunk, chunk.usage, st.outputTokens);
        write(typeof tail === 'string' ? tail : await tail);
        out.end();
        break;
      }
      st.streamedTokens = sequence;
      if (callCtx.signal.aborted) break;
      out.startNow();
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
    out.end(opening);
    void rest.return?.().catch(() => {});
  }
}

/** A stream cut short (client gone, target failed) keeps the tokens already sent in the record (docs/dashboard.md#reasons). */
function keepStreamed(st: RequestState, streamed: number): void {
  if (st.outputTokens === 0) st.outputTokens = streamed;
}
