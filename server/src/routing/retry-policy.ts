/**
 * Which target failures are worth another try (on the same member or the next
 * one), and how long to wait between tries of one member.
 *
 * Classification uses the GatewayError's UpstreamDetail:
 *   connect (no response; also a stream that broke before its first token) → "connect"
 *   timeout (or code upstream_timeout)                                      → "timeout"
 *   status 429                                                              → "429"
 *   status 5xx                                                              → "5xx"
 *   busy (a local target's queue is full / no free sequence)                 → "busy"
 *   protocol (an answer over the gateway's size bounds)                    → none
 * Anything else (400, 401/403 from the provider, 413, local execution errors,
 * client disconnects) is final and never retried.
 */
import type { RetryOn } from '@sipp/shared';
import { GatewayError } from '../errors.js';

export interface RetrySettings {
  /** Tries per member, ≥ 1. */
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  on: ReadonlySet<RetryOn>;
}

/** A direct target request: one try, nothing retryable (a busy local target queues). */
export const NO_RETRY: RetrySettings = { attempts: 1, backoffMs: 0, maxBackoffMs: 0, on: new Set() };

/** The failure kind of an error, or null when it is not an upstream failure routing can act on. */
export function failureKind(err: unknown): RetryOn | null {
  if (!(err instanceof GatewayError)) return null;
  const up = err.upstream;
  if (err.code === 'upstream_timeout') return 'timeout';
  if (!up) return null;
  switch (up.phase) {
    case 'connect':
    case 'stream':
      return 'connect';
    case 'timeout':
      return 'timeout';
    case 'busy':
      return 'busy';
    case 'protocol':
      return null;
    case 'status': {
      const s = up.upstreamStatus ?? 0;
      if (s === 429) return '429';
      if (s >= 500 && s <= 599) return '5xx';
      return null;
    }
  }
}

/**
 * Exponential backoff with full jitter before retry number `retry` (1 = the
 * first retry): uniform in [0, min(max, base·2^(retry-1))).
 */
export function backoffMs(retry: number, settings: RetrySettings, random: () => number): number {
  const cap = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/**
 * The wait before retrying the same member, or null when the member should not
 * be retried now: a provider's Retry-After is honoured when it fits in
 * max_backoff_ms (it replaces the jittered backoff); a longer one moves on to
 * the next member at once.
 */
export function retryDelayMs(err: unknown, retry: number, settings: RetrySettings, random: () => number): number | null {
  const after = err instanceof GatewayError ? err.upstream?.retryAfterMs : undefined;
  if (after !== undefined) return after <= settings.maxBackoffMs ? after : null;
  return backoffMs(retry, settings, random);
}
