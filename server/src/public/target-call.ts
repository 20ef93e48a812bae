/**
 * The one place the pipeline calls a target, once per routing attempt (the
 * router runs it for each member, retry and fallback): a finite call resolves to its result; a
 * stream is opened and its first chunk awaited before the caller writes any
 * byte, so a failure up to then can still be retried or answered as JSON.
 */
import { IGNORABLE_FIELDS, type IgnorableField } from '../targets/ignored.js';
import type { CallContext, EmbedResult, StreamChunk, Target, TextRequest, TextResult } from '../targets/target.js';
import type { TargetCall } from '../surfaces/surface.js';
import type { ForwardOutcome } from './forward.js';

export type CallOutcome =
  | ForwardOutcome
  | { kind: 'text'; result: TextResult }
  | { kind: 'embed'; result: EmbedResult }
  | { kind: 'stream'; first: IteratorResult<StreamChunk>; rest: AsyncIterator<StreamChunk>; callCtx: CallContext };

export async function callTarget(target: Target, call: TargetCall, stream: boolean, ctx: CallContext): Promise<CallOutcome> {
  if (call.operation === 'embed') return { kind: 'embed', result: await target.embed(call.embed, ctx) };
  const text = withoutHints(call.text, target, ctx);
  if (!stream) return { kind: 'text', result: await target.complete(text, ctx) };
  const rest = target.stream(text, ctx)[Symbol.asyncIterator]();
  try {
    return { kind: 'stream', first: await rest.next(), rest, callCtx: ctx };
  } catch (err) {
    void rest.return?.().catch(() => {});
    throw err;
  }
}

const IGNORABLE: ReadonlySet<string> = new Set(IGNORABLE_FIELDS);

/**
 * Hints this target has no equivalent for (docs/api.md#ignored-fields): the
 * reasoning hint on a target that cannot think, hint-only OpenAI fields
 * (`prompt_cache_key`, `store`, `service_tier`, `metadata` …) on a target that
 * takes no OpenAI extras. Each is named through ctx.ignore and left out.
 */
function withoutHints(req: TextRequest, target: Target, ctx: CallContext): TextRequest {
  const o = req.options;
  const dropReasoning = o.reasoning !== undefined && !target.capabilities.reasoning;
  const extras =
    o.openaiExtras && !target.capabilities.openaiExtras ? Object.keys(o.openaiExtras).filter((k) => IGNORABLE.has(k)) : [];
  if (!dropReasoning && extras.length === 0) return req;
  const options = { ...o };
  if (dropReasoning) {
    for (const f of o.reasoning!.from ?? ['reasoning']) ctx.ignore?.(f);
    delete options.reasoning;
  }
  if (extras.length) {
    const rest = { ...o.openaiExtras };
    for (const k of extras) {
      ctx.ignore?.(k as IgnorableField);
      delete rest[k];
    }
    if (Object.keys(rest).length) options.openaiExtras = rest;
    else delete options.openaiExtras;
  }
  return { ...req, options };
}
