import type { Operation } from './wire.js';

/**
 * One finished public request, as the gateway records it for metrics and the
 * dashboard. Holds no secret and no prompt: the caller is the configured label.
 */
export interface RequestRecord {
  requestId: string;
  /** Epoch milliseconds when the response finished. */
  time: number;
  operation: Operation | null;
  target: string | null;
  /** Configured caller label of the bearer token; null when not authenticated. */
  caller: string | null;
  /** Normalized client IP. */
  client: string;
  status: number;
  /** Error code when the request failed. */
  code: string | null;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  stream: boolean;
}
