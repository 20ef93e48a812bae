/**
 * The tracing module (docs/operations.md#traces): one SERVER span per public
 * request (HTTP semantic conventions, named by the route template), one CLIENT
 * span per target attempt (GenAI semantic conventions), retries and fallbacks
 * as events, and W3C trace context both ways: a client's `traceparent`
 * continues its trace (or is linked, `client_context = "link"`), and each
 * attempt sends its own `traceparent` upstream so provider spans join.
 * Registered only when tracing is on: off, it costs nothing.
 *
 * Never a prompt, a completion or a secret in an attribute unless
 * `capture_content = true` (prompts and completions then; secrets never).
 */
import { createRequire } from 'node:module';
import type {
  Attributes,
  Context as OtelContext,
  Link,
  Span,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
} from '@opentelemetry/api';
import type { Operation, RequestRecord, Usage } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import type { CallContext, LocalPhase, StreamChunk, TargetType, TextRequest } from '../../targets/target.js';
import { spanIds, type Tracing } from '../../telemetry/tracing.js';
import { slot, type RequestContext } from '../request-context.js';
import type { Attempt, PipelineModule } from '../stages.js';
import type { CallOutcome } from '../target-call.js';

interface RequestSpans {
  server: Span;
  /** The server span's context; null when the request is not sampled (no attempt spans then). */
  ctx: OtelContext | null;
  lastTarget: string | null;
}

const SPANS = slot<RequestSpans>('tracing');
// The OpenTelemetry API is loaded when the module is made (tracing on): off, the process never holds it (docs/operations.md#memory).
const require = createRequire(import.meta.url);
let otel: typeof import('@opentelemetry/api');
let w3c: TextMapPropagator;

const setter: TextMapSetter<Record<string, string>> = { set: (c, k, v) => (c[k] = v) };
const headerGetter: TextMapGetter<RequestContext['headers']> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};

/** gen_ai.operation.name per gateway operation. */
const GEN_AI_OPERATION: Record<Operation, string> = { chat: 'chat', query: 'text_completion', embed: 'embeddings' };
/** gen_ai.provider.name per target type (well-known values where the conventions have one). */
const GEN_AI_PROVIDER: Record<TargetType, string> = {
  openai: 'openai',
  openai_compatible: 'openai',
  anthropic: 'anthropic',
  local: 'llama.cpp',
};

export function tracingModule(tracing: Tracing): PipelineModule {
  const { tracer } = tracing;
  otel ??= require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  w3c ??= new (require('@opentelemetry/core') as typeof import('@opentelemetry/core')).W3CTraceContextPropagator();
  const { ROOT_CONTEXT, SpanKind, trace } = otel;
  return {
    name: 'tracing',
    beforeBody(rc) {
      const parent = w3c.extract(ROOT_CONTEXT, rc.headers, headerGetter);
      const remote = trace.getSpanContext(parent);
      let links: Link[] | undefined;
      let base = parent;
      if (remote && tracing.clientContext === 'link') {
        links = [{ context: remote }];
        base = ROOT_CONTEXT;
      }
      // The sampler decides first; the attributes are made only for a span that records (no sampler here reads them).
      const server = tracer.startSpan(`POST ${rc.routePath}`, { kind: SpanKind.SERVER, links }, base);
      if (!server.isRecording()) {
        rc.set(SPANS, { server, ctx: null, lastTarget: null });
        return;
      }
      server.setAttributes({
        'http.request.method': 'POST',
        'http.route': rc.routePath,
        'url.scheme': 'http',
        'sipp.request_id': rc.id,
        'sipp.api': rc.api,
      });
      rc.state.traceId = server.spanContext().traceId;
      rc.set(SPANS, { server, ctx: trace.setSpan(base, server), lastTarget: null });
    },
    // Not async: an unsampled attempt (most of them) hands back the call's own promise, with no wrapper around it.
    aroundAttempt(attempt, next) {
      const spans = attempt.rc.get(SPANS);
      if (!spans) return next();
      if (spans.ctx === null) {
        // Not sampled: an attempt span could not be either (its parent is not, and every sampler here follows the
        // parent or decides by the same trace id), so none is made and the stream is not wrapped; the provider
        // still gets a traceparent of this trace with a span id of its own, as an unsampled SDK span would send.
        const sc = spans.server.spanContext();
        const carrier: Record<string, string> = {};
        w3c.inject(trace.setSpanContext(ROOT_CONTEXT, { ...sc, spanId: spanIds.generateSpanId() }), carrier, setter);
        attempt.call.traceHeaders = carrier;
        return next();
      }
      return sampledAttempt(attempt, next, spans, spans.ctx);
    },
    afterFinish(record, rc) {
      const spans = rc.get(SPANS);
      if (!spans || spans.ctx === null) return;
      finishServerSpan(spans.server, record);
    },
  };

  /** A sampled attempt: its CLIENT span (GenAI attributes), ended with the answer or the stream. */
  async function sampledAttempt(
    attempt: Attempt,
    next: () => Promise<CallOutcome>,
    spans: RequestSpans,
    ctx: OtelContext,
  ): Promise<CallOutcome> {
    const { target, rc } = attempt;
    const described = target.describe();
    const op = GEN_AI_OPERATION[rc.request.call.operation];
    if (spans.lastTarget !== null) {
      spans.server.addEvent(spans.lastTarget === target.name ? 'retry' : 'fallback', {
        'sipp.target': target.name,
        'sipp.attempt': attempt.number,
      });
    }
    spans.lastTarget = target.name;
    const attributes: Attributes = {
      'gen_ai.operation.name': op,
      'gen_ai.provider.name': GEN_AI_PROVIDER[target.type],
      'gen_ai.request.model': described.model,
      'sipp.target': target.name,
      'sipp.attempt': attempt.number,
    };
    if (described.baseUrl) {
      const u = new URL(described.baseUrl);
      attributes['server.address'] = u.hostname;
      attributes['server.port'] = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    }
    const call = rc.request.call;
    if (call.operation !== 'embed') {
      const o = call.text.options;
      if (o.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = o.maxTokens;
      if (o.temperature !== undefined) attributes['gen_ai.request.temperature'] = o.temperature;
      if (o.topP !== undefined) attributes['gen_ai.request.top_p'] = o.topP;
      if (tracing.captureContent) attributes['gen_ai.input.messages'] = inputContent(call.text);
    }
    const span = tracer.startSpan(`${op} ${described.model}`, { kind: SpanKind.CLIENT, attributes }, ctx);
    const carrier: Record<string, string> = {};
    w3c.inject(trace.setSpan(ctx, span), carrier, setter);
    attempt.call.traceHeaders = carrier;
    if (target.type === 'local' && span.isRecording())
      attempt.call.phase = phaseRecorder(tracer, span, trace.setSpan(ctx, span), performance.now());
    const began = performance.now();
    let outcome: CallOutcome;
    try {
      outcome = await next();
    } catch (err) {
      failSpan(span, err);
      span.end();
      throw err;
    }
    switch (outcome.kind) {
      case 'text':
        usageAttributes(span, outcome.result.usage);
        span.setAttribute('gen_ai.response.finish_reasons', [outcome.result.finishReason]);
        if (outcome.result.id) span.setAttribute('gen_ai.response.id', outcome.result.id);
        span.setAttribute('gen_ai.response.model', described.model);
        if (tracing.captureContent)
          span.setAttribute('gen_ai.output.messages', JSON.stringify([{ role: 'assistant', content: outcome.result.text }]));
        span.end();
        return outcome;
      case 'embed':
        usageAttributes(span, outcome.result.usage);
        span.setAttribute('gen_ai.response.model', described.model);
        span.end();
        return outcome;
      case 'stream':
        // The first chunk has arrived (target-call.ts awaits it): that is the
        // time to first token; the span ends with the stream.
        span.setAttribute('sipp.time_to_first_token_ms', Math.round((performance.now() - began) * 1000) / 1000);
        span.setAttribute('gen_ai.response.model', described.model);
        return { ...outcome, rest: traceStream(outcome, span, tracing.captureContent) };
      case 'forward-json':
        // Pass-through (docs/api.md#pass-through): the provider's own document.
        usageAttributes(span, outcome.result.usage);
        if (outcome.result.finishReason) span.setAttribute('gen_ai.response.finish_reasons', [outcome.result.finishReason]);
        span.setAttribute('gen_ai.response.model', described.model);
        span.end();
        return outcome;
      case 'forward-stream': {
        span.setAttribute('sipp.time_to_first_token_ms', Math.round((performance.now() - began) * 1000) / 1000);
        span.setAttribute('gen_ai.response.model', described.model);
        const result = outcome.result;
        const frames = onFinish(result.frames, (err) => {
          usageAttributes(span, result.usage());
          const finish = result.finishReason();
          if (finish) span.setAttribute('gen_ai.response.finish_reasons', [finish]);
          if (err !== undefined) failSpan(span, err);
          span.end();
        });
        return { ...outcome, result: { ...result, frames } };
      }
    }
  }
}

/** Span names of a local target's phases (children of the attempt span). */
const PHASE_SPAN: Record<LocalPhase, string> = { queue: 'queue wait', prompt: 'prompt evaluation', generation: 'generation' };

/**
 * A local target's phases as INTERNAL child spans of the attempt, with the
 * times the target measured (performance.now() ms). They are placed on the
 * attempt span's own time line: its start (wall clock, read by the SDK) plus
 * the monotonic time since `anchorPerf`, read just after the attempt started,
 * which is how the SDK times the attempt's end. `timeOrigin + now()` instead
 * drifts from the wall clock over a process's life, and a phase could then
 * appear to start before its parent (seen once under CI load). A failed phase
 * (the queue refused or was left) has status ERROR and its `error.type`.
 */
function phaseRecorder(
  tracer: Tracing['tracer'],
  attempt: Span,
  parent: OtelContext,
  anchorPerf: number,
): NonNullable<CallContext['phase']> {
  const start = (attempt as Partial<{ startTime: [number, number] }>).startTime;
  const anchorEpoch = start ? start[0] * 1000 + start[1] / 1e6 : performance.timeOrigin + anchorPerf;
  const epoch = (ms: number) => anchorEpoch + (ms - anchorPerf);
  return (name, startMs, endMs, attributes) => {
    const span = tracer.startSpan(
      PHASE_SPAN[name],
      { kind: otel.SpanKind.INTERNAL, startTime: epoch(startMs), attributes },
      parent,
    );
    if (attributes?.['error.type'] !== undefined) span.setStatus({ code: otel.SpanStatusCode.ERROR });
    span.end(epoch(endMs));
  };
}

/** Calls `done` once when the iterator finishes, fails or is returned early (with the error, if any). */
function onFinish<T>(it: AsyncIterator<T>, done: (err?: unknown) => void): AsyncIterator<T> {
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    done(err);
  };
  return {
    async next() {
      try {
        const r = await it.next();
        if (r.done) finish();
        return r;
      } catch (err) {
        finish(err);
        throw err;
      }
    },
    async return(value?: unknown) {
      finish();
      return (await it.return?.(value)) ?? { done: true, value: undefined as T };
    },
  };
}

function finishServerSpan(span: Span, r: RequestRecord): void {
  span.setAttribute('http.response.status_code', r.status);
  if (r.model) span.setAttribute('gen_ai.request.model', r.model);
  if (r.target) span.setAttribute('sipp.target', r.target);
  if (r.caller) span.setAttribute('sipp.caller', r.caller);
  if (r.inputTokens) span.setAttribute('gen_ai.usage.input_tokens', r.inputTokens);
  if (r.outputTokens) span.setAttribute('gen_ai.usage.output_tokens', r.outputTokens);
  if (r.code) span.setAttribute('error.type', r.code);
  // HTTP server conventions: 5xx (and errors after the stream began) are errors; 4xx are the client's.
  if (r.status >= 500 || (r.code !== null && r.status < 400)) span.setStatus({ code: otel.SpanStatusCode.ERROR });
  span.end();
}

function usageAttributes(span: Span, usage: Usage | undefined): void {
  if (!usage) return;
  span.setAttribute('gen_ai.usage.input_tokens', usage.input_tokens);
  span.setAttribute('gen_ai.usage.output_tokens', usage.output_tokens);
}

function failSpan(span: Span, err: unknown): void {
  const code = err instanceof GatewayError ? err.code : 'internal';
  span.setAttribute('error.type', code);
  const upstream = err instanceof GatewayError ? err.upstream?.upstreamStatus : undefined;
  if (upstream !== undefined) span.setAttribute('sipp.upstream_status', upstream);
  // GatewayError messages are safe to show (errors.ts); anything else is not recorded.
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: err instanceof GatewayError ? err.message : 'internal error' });
}

function inputContent(req: TextRequest): string {
  return JSON.stringify(req.operation === 'query' ? [{ role: 'user', content: req.prompt }] : req.messages);
}

/** Passes the stream's chunks on, ending the attempt span with the stream (usage, finish reason, or the failure). */
function traceStream(
  outcome: Extract<CallOutcome, { kind: 'stream' }>,
  span: Span,
  capture: boolean,
): AsyncIterator<StreamChunk> {
  const { rest } = outcome;
  let text = '';
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (capture) span.setAttribute('gen_ai.output.messages', JSON.stringify([{ role: 'assistant', content: text }]));
    span.end();
  };
  const see = (r: IteratorResult<StreamChunk>) => {
    if (r.done) return end();
    const c = r.value;
    if (c.type === 'token' && capture) text += c.text;
    if (c.type === 'end') {
      usageAttributes(span, c.usage);
      span.setAttribute('gen_ai.response.finish_reasons', [c.finishReason]);
      end();
    }
  };
  see(outcome.first);
  return {
    async next() {
      try {
        const r = await rest.next();
        see(r);
        return r;
      } catch (err) {
        failSpan(span, err);
        end();
        throw err;
      }
    },
    async return(value?: unknown) {
      if (!ended) span.addEvent('stream closed before its end');
      end();
      return rest.return ? rest.return(value) : { done: true as const, value: undefined };
    },
  };
}
