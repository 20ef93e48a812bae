/**
 * OpenAI's error document `{"error":{"message","type","param","code"}}`. The
 * SDK picks its exception class from the status; `code` is the gateway's own
 * code (`rate_limited`, `admission`, `blocked`, ...), `param` the field at fault.
 */
import type { GatewayError } from '../../errors.js';
import { InvalidFieldError } from '../../errors.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

export function openAIErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAIError(e: GatewayError): OpenAIErrorBody {
  // A spent budget reads as OpenAI's own quota error (docs/budgets.md#at-the-budget).
  if (e.code === 'budget_exceeded')
    return { error: { message: e.message, type: 'insufficient_quota', param: null, code: 'insufficient_quota' } };
  return {
    error: {
      message: e.message,
      type: openAIErrorType(e.status),
      param: e instanceof InvalidFieldError ? e.param : null,
      code: e.code,
    },
  };
}
