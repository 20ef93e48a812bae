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
  shutting_down: 503,
  not_ready: 503,
  unavailable: 503,
  upstream_timeout: 504,
};

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
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = STATUS[code];
  }
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}
