/**
 * The one place the pipeline calls a target, once per routing attempt (the
 * router runs it for each member, retry and fallback): a finite call resolves to its result; a
 * stream is opened and its first chunk awaited before the caller writes any
 * byte, so a failure up to then can still be retried or answered as JSON.
 */
import type { CallContext, EmbedResult, StreamChunk, Target, TextResult } from '../targets/target.js';
import type { TargetCall } from '../surfaces/surface.js';

export type CallOutcome =
  | { kind: 'text'; result: TextResult }
  | { kind: 'embed'; result: EmbedResult }
  | { kind: 'stream'; first: IteratorResult<StreamChunk>; rest: AsyncIterator<StreamChunk>; callCtx: CallContext };

export async function callTarget(target: Target, call: TargetCall, stream: boolean, ctx: CallContext): Promise<CallOutcome> {
  if (call.operation === 'embed') return { kind: 'embed', result: await target.embed(call.embed, ctx) };
  if (!stream) return { kind: 'text', result: await target.complete(call.text, ctx) };
  const rest = target.stream(call.text, ctx)[Symbol.asyncIterator]();
  try {
    return { kind: 'stream', first: await rest.next(), rest, callCtx: ctx };
  } catch (err) {
    void rest.return?.().catch(() => {});
    throw err;
  }
}
