import type { ErrorCode } from '@sipp/shared';

const STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 400,
  authentication: 401,
  authorization: 403,
  blocked: 403,
  resolution: 404,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  admission: 429,
  rate_limited: 429,
  upstream_rate_limited: 429,
  execution: 500,
  internal: 500,
  upstream: 502,
  upstream_protocol: 502,
  upstream_too_large: 502,
  shutting_down: 503,
  not_ready: 503,
  unavailable: 503,
  upstream_timeout: 504,
};

/**
 * Where an upstream (provider or local target) failure happened, for retry and
 * fallback decisions (routing) and for the request record. Never shown to the
 * client as such.
 *  - connect: no response was received (refused, reset, DNS, TLS) before headers;
 *  - status: the provider answered with a non-2xx status (`upstreamStatus`);
 *  - timeout: `timeout_seconds` ran out;
 *  - stream: the response broke after it began;
 *  - busy: a local target's queue is full;
 *  - protocol: the provider answered, outside the gateway's bounds (an event or
 *    an answer too large): final, and proof the upstream is up (never retried,
 *    never counted against the circuit).
 */
export interface UpstreamDetail {
  phase: 'connect' | 'status' | 'timeout' | 'stream' | 'busy' | 'protocol';
  /** Provider HTTP status when phase is 'status'. */
  upstreamStatus?: number;
  /** Provider's Retry-After (or retry-after-ms), in milliseconds, when it sent one. */
  retryAfterMs?: number;
}

/**
 * An error that is safe to show to the client: its message must never hold a
 * secret, an upstream header or a prompt. Anything else thrown is reported as a
 * generic 500 without its message.
 */
export class GatewayError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers?: Record<string, string>,
    /** Set on failures of a target call (see UpstreamDetail). */
    readonly upstream?: UpstreamDetail,
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = STATUS[code];
  }
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}
