/**
 * Per-request bookkeeping for the public listener: identity, timing, outcome.
 * Finished exactly once, after the response (or the stream) ends: app.ts turns
 * it into the RequestRecord, hands that to the afterFinish modules (metrics,
 * dashboard, fleet) and writes the one request log line.
 */
import { randomUUID } from 'node:crypto';
import type { Api, Operation, RequestRecord } from '@sipp/shared';
import type { Logger } from 'pino';
import type { GatewayError } from '../errors.js';
import type { IgnorableField } from '../targets/ignored.js';

export interface RequestState {
  id: string;
  startedAt: number;
  client: string;
  caller: string | null;
  /** Public API surface the request arrived on. */
  api: Api;
  operation: Operation | null;
  /** The `model` the client asked for (target or group name). */
  model: string | null;
  /** The target that served (or last tried) the request. */
  target: string | null;
  /** The group the request was routed through, if any. */
  group: string | null;
  /** Upstream attempts made. */
  attempts: number;
  /** Last provider error status seen, if any. */
  upstreamStatus: number | null;
  stream: boolean;
  /** performance.now() when the first token frame was written (streams). */
  firstTokenAt: number | null;
  inputTokens: number;
  outputTokens: number;
  /** Set when the outcome is not a plain HTTP status (stream error frame, client gone). */
  code: string | null;
  statusOverride: number | null;
  /**
   * Set when shutdown cut the request after the drain grace (200 for a stream
   * already under way, else 503); the outcome is then `shutting_down`,
   * whatever the handler saw afterwards (the abort).
   */
  cutStatus: number | null;
  /** While a stream is open: its error frame in the surface's format (for a shutdown cut). */
  streamError: ((err: GatewayError) => string) | null;
  /** Fields ignored under docs/api.md#ignored-fields, by the surface or the target; null until one is. */
  ignored: Set<IgnorableField> | null;
  /** The trace this request's spans belong to, when tracing recorded it (docs/operations.md#traces). */
  traceId: string | null;
}

const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** Echoes a client's x-request-id when it is sane, otherwise makes one. */
export function requestIdFrom(header: string | undefined): string {
  return header && REQUEST_ID.test(header) ? header : randomUUID();
}

export function newRequestState(id: string): RequestState {
  return {
    id,
    startedAt: performance.now(),
    client: 'unknown',
    caller: null,
    api: 'sipp',
    operation: null,
    model: null,
    target: null,
    group: null,
    attempts: 0,
    upstreamStatus: null,
    stream: false,
    firstTokenAt: null,
    inputTokens: 0,
    outputTokens: 0,
    code: null,
    statusOverride: null,
    cutStatus: null,
    streamError: null,
    ignored: null,
    traceId: null,
  };
}

/** The finished request as observers and the log line see it. */
export function requestRecord(st: RequestState, status: number, code: string | null): RequestRecord {
  const durationMs = Math.round((performance.now() - st.startedAt) * 1000) / 1000;
  const finalStatus = st.cutStatus ?? st.statusOverride ?? status;
  const finalCode = st.cutStatus !== null ? 'shutting_down' : (st.code ?? code);
  return {
    requestId: st.id,
    time: Date.now(),
    api: st.api,
    operation: st.operation,
    model: st.model,
    target: st.target,
    group: st.group,
    attempts: st.attempts,
    upstreamStatus: st.upstreamStatus,
    caller: st.caller,
    client: st.client,
    status: finalStatus,
    code: finalCode,
    durationMs,
    ttftMs: st.firstTokenAt === null ? null : Math.round((st.firstTokenAt - st.startedAt) * 1000) / 1000,
    inputTokens: st.inputTokens,
    outputTokens: st.outputTokens,
    stream: st.stream,
    ignored: st.ignored ? [...st.ignored].sort() : [],
    ...(st.traceId ? { traceId: st.traceId } : {}),
  };
}

/** The one request log line. */
export function logRequest(record: RequestRecord, log: Logger): void {
  if (log.isLevelEnabled('info')) {
    const { requestId, time: _time, ...fields } = record;
    log.info({ reqId: requestId, ...fields }, 'request');
  }
}

/** Records a field ignored for this request (docs/api.md#ignored-fields). */
export function noteIgnored(st: RequestState, field: IgnorableField): void {
  (st.ignored ??= new Set()).add(field);
}
