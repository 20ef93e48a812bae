/**
 * Anthropic's error document `{"type":"error","error":{"type","message"}}`.
 * The SDK picks its exception class from the status; the gateway's own code
 * leads the message (`rate_limited: rate limit exceeded; retry later`).
 */
import type { GatewayError } from '../../errors.js';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export function anthropicError(e: GatewayError): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(e.status), message: `${e.code}: ${e.message}` } };
}
