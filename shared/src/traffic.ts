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
  /** The target that served (or last tried) the request; null when none was reached. */
  target: string | null;
  /** The group the request was routed through, when `model` named one. */
  group: string | null;
  /** Upstream attempts made (0 when no target was called). */
  attempts: number;
  /** Status of the last provider response when it was an error (e.g. 429, 503); null otherwise. */
  upstreamStatus: number | null;
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
