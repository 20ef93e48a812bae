/**
 * Per-request bookkeeping for the public listener: identity, timing, outcome.
 * Finished exactly once, after the response (or the stream) ends: app.ts turns
 * it into the RequestRecord, hands that to the afterFinish modules (metrics,
 * dashboard, fleet) and writes the one request log line.
 */
import { randomUUID } from 'node:crypto';
import type { RequestRecord, Usage } from '@sipp/shared';
import type { Logger } from 'pino';
import type { GatewayError } from '../errors.js';
import type { IgnorableField } from '../targets/ignored.js';

/** The RequestRecord fields the request fills in as it goes, with the record's meaning (shared/src/traffic.ts). */
type Recorded = Pick<
  RequestRecord,
  | 'api'
  | 'operation'
  | 'model'
  | 'target'
  | 'group'
  | 'attempts'
  | 'upstreamStatus'
  | 'caller'
  | 'keyId'
  | 'client'
  | 'inputTokens'
  | 'outputTokens'
  | 'stream'
  | 'reason'
>;

/** A request in progress: the record's fields plus what finishing needs (timing, overrides, the stream's error frame). */
export interface RequestState extends Recorded {
  /** The record's `requestId`. */
  id: string;
  /** performance.now() at arrival (the record's `durationMs` and `ttftMs` count from it). */
  startedAt: number;
  /** performance.now() when the first token frame was written (streams). */
  firstTokenAt: number | null;
  /** Set when the outcome is not a plain HTTP status (stream error frame, client gone); else the record's code is the answer's. */
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
  /** The target or group `model` names, once the body is parsed (null when it names neither): the record's target of a refusal. */
  asked: string | null;
  /** Of inputTokens, those read from / written to the provider's prompt cache (docs/budgets.md#cost). */
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Output the client saw before it left a stream, when the target reported no usage (an aborted stream's charge). */
  streamedTokens: number;
}

/**
 * Refusals the gateway decides itself, whose error code is the record's
 * `reason` (docs/dashboard.md#reasons); the router's own reasons
 * (`circuit_open`, `drained`, `no_member`) are set where it refuses.
 */
const REFUSAL_CODES: ReadonlySet<string> = new Set(['blocked', 'rate_limited', 'admission', 'budget_exceeded']);

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
    keyId: null,
    api: 'sipp',
    operation: null,
    model: null,
    target: null,
    group: null,
    attempts: [],
    upstreamStatus: null,
    reason: null,
    asked: null,
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
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    streamedTokens: 0,
  };
}

/** The finished request as observers and the log line see it. */
export function requestRecord(st: RequestState, status: number, code: string | null): RequestRecord {
  const durationMs = Math.round((performance.now() - st.startedAt) * 1000) / 1000;
  const finalStatus = st.cutStatus ?? st.statusOverride ?? status;
  const finalCode = st.cutStatus !== null ? 'shutting_down' : (st.code ?? code);
  const record: RequestRecord = {
    requestId: st.id,
    time: Date.now(),
    api: st.api,
    operation: st.operation,
    model: st.model,
    target: st.target ?? st.asked,
    group: st.group,
    attempts: st.attempts,
    upstreamStatus: st.upstreamStatus,
    reason: st.reason ?? (finalCode !== null && REFUSAL_CODES.has(finalCode) ? finalCode : null),
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
    cacheReadTokens: st.cacheReadTokens,
    cacheWriteTokens: st.cacheWriteTokens,
  };
  // Set only when present, as the record's optional members (no spread of a fresh object per request).
  if (st.traceId) record.traceId = st.traceId;
  if (st.keyId) record.keyId = st.keyId;
  return record;
}

/**
 * The one request log line: the record's fields, `requestId` as `reqId` and
 * without its `time` (the line has its own). One copy of the record (pino
 * leaves out keys whose value is undefined), not a rest copy and a spread.
 */
export function logRequest(record: RequestRecord, log: Logger): void {
  if (log.isLevelEnabled('info'))
    log.info({ reqId: record.requestId, ...record, requestId: undefined, time: undefined }, 'request');
}

/** Records a field ignored for this request (docs/api.md#ignored-fields). */
export function noteIgnored(st: RequestState, field: IgnorableField): void {
  (st.ignored ??= new Set()).add(field);
}

/** The target's reported usage into the record (the cache counts too, docs/budgets.md#cost). */
export function applyUsage(st: RequestState, usage: Usage | undefined): void {
  if (!usage) return;
  st.inputTokens = usage.input_tokens;
  st.outputTokens = usage.output_tokens;
  st.cacheReadTokens = usage.cache_read_tokens ?? 0;
  st.cacheWriteTokens = usage.cache_write_tokens ?? 0;
}
