/**
 * Errors the admin API answers with `{error:{code,message}}`. Messages are
 * fixed strings written here: never request content, never a secret.
 */
import type { AdminErrorCode } from '@sipp/shared';

const STATUS: Record<AdminErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  csrf_failed: 403,
  not_found: 404,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export class AdminError extends Error {
  readonly status: number;
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AdminError';
    this.status = STATUS[code];
  }
}
