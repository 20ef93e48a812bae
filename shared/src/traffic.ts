import type { Api, Operation } from './wire.js';

/**
 * One finished public request, as the gateway records it for metrics and the
 * dashboard. Holds no secret and no prompt: the caller is the configured label.
 */
export interface RequestRecord {
  requestId: string;
  /** Epoch milliseconds when the response finished. */
  time: number;
  /** Which public API surface the request came in on. */
  api: Api;
  operation: Operation | null;
  /** The `model` the client asked for (a target or group name); null before the body was read. */
  model: string | null;
  /**
   * The target that served (or last tried) the request; for a request refused
   * before any attempt, the target or group it asked for (aliases resolved);
   * null only when `model` names no target or group (or was never read).
   */
  target: string | null;
  /** The group the request was routed through, when `model` named one. */
  group: string | null;
  /** Every call to a target, in time order: the served (or last) attempt is last; empty when no target was called. */
  attempts: AttemptRecord[];
  /** The last attempt's provider status when it was an error (e.g. 429, 503); null otherwise (a served request: null). */
  upstreamStatus: number | null;
  /**
   * Why the gateway refused the request itself (docs/dashboard.md#reasons):
   * `circuit_open`, `drained`, `no_member`, `rate_limited`, `blocked`,
   * `admission`, `budget_exceeded`, … ; null when it was not refused.
   */
  reason: string | null;
  /** Configured caller label of the bearer token; null when not authenticated. */
  caller: string | null;
  /** Id of the managed API key that authenticated the request (docs/keys.md); null/absent for config tokens. */
  keyId?: string | null;
  /** Normalized client IP. */
  client: string;
  status: number;
  /** Error code when the request failed. */
  code: string | null;
  durationMs: number;
  /** Streams: milliseconds from arrival to the first token frame written; null otherwise. */
  ttftMs: number | null;
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the provider's prompt cache (priced apart; docs/budgets.md#cost). */
  cacheReadTokens?: number;
  /** Input tokens written to the provider's prompt cache. */
  cacheWriteTokens?: number;
  /** What the request cost in USD from the served target's `pricing` (0 when unpriced or nothing was generated). */
  costUsd?: number;
  stream: boolean;
  /**
   * Hint-only fields the gateway ignored for this request (docs/api.md#ignored-fields),
   * sorted; names come from a fixed list. Empty when none.
   */
  ignored?: string[];
  /** The OpenTelemetry trace id of this request, when tracing is on and sampled it (docs/operations.md#traces). */
  traceId?: string;
}

/** One call to a target within a request (a first try, a retry or a fallback). */
export interface AttemptRecord {
  target: string;
  /** The HTTP status this attempt came to: 200 when it served, else its error's status (499 when the client left). */
  status: number;
  /** The provider's HTTP status when it answered with an error; null otherwise. */
  upstreamStatus: number | null;
  /** Milliseconds from the call to its outcome (a stream: to its first chunk). */
  latencyMs: number;
  /** Milliseconds of retry backoff waited just before this attempt (0 for the first try and a plain fallback). */
  backoffMs: number;
  /** The attempt's error code (e.g. `upstream`, `upstream_timeout`); null when it succeeded. */
  error: string | null;
}

/** Reasons the router gives for a refusal without any attempt (docs/dashboard.md#reasons). */
export const ROUTING_REASONS = ['circuit_open', 'drained', 'no_member'] as const;
