/**
 * What a provider's non-2xx answer becomes for the gateway's client:
 *  - 429: `429 upstream_rate_limited`, with the provider's wait passed through
 *    as `Retry-After` (whole seconds, rounded up, at most 300);
 *    the UpstreamDetail keeps the provider's exact wait (`retryAfterMs`);
 *  - 400 and 422 (the provider refused the request itself): `400 invalid_request`,
 *    413: `413 payload_too_large`, each with the provider's own error message
 *    (`upstream rejected the request (HTTP 400): …`), cleaned: one line, at most
 *    300 characters, credentials removed (providerMessage). Final: never retried,
 *    never a circuit failure, no fallback (routing/retry-policy.ts);
 *  - any other status: `502 upstream`, naming the status only (401/403/404 are the
 *    gateway's configuration — key or model — not the client's mistake).
 * Never any other part of the upstream body, nor an upstream header: they may
 * echo a credential. Every error carries an UpstreamDetail for routing and records.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../../errors.js';

/** The longest wait passed on to a client: one asking for more is told 5 minutes. */
export const MAX_RETRY_AFTER_MS = 300_000;

const DELAY_SECONDS = /^\d+$/;
const DELAY_MS = /^\d+(\.\d+)?$/;
/** HTTP dates (IMF-fixdate, RFC 850, asctime) all start with a day name; Date.parse alone accepts far more. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

/**
 * The provider's requested wait in milliseconds, from `retry-after-ms`
 * (OpenAI's precise form, preferred) or `Retry-After` (delay-seconds or an
 * HTTP date, relative to `now`); undefined when neither holds a valid value.
 * Not capped: routing compares the true wait with its own limits; only what
 * the client is told is capped (retryAfterHeader).
 */
export function retryAfterMs(headers: IncomingHttpHeaders, now: number): number | undefined {
  const ms = single(headers['retry-after-ms']);
  if (ms !== undefined && DELAY_MS.test(ms)) return Number(ms);
  const value = single(headers['retry-after']);
  if (value === undefined) return undefined;
  if (DELAY_SECONDS.test(value)) return Number(value) * 1000;
  const date = HTTP_DATE.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The gateway's `Retry-After` header value (whole seconds, rounded up) for a wait in ms. */
export function retryAfterHeader(ms: number): string {
  return String(Math.ceil(cap(ms) / 1000));
}

/** Provider statuses that mean "the request itself is wrong": passed back to the client with the provider's message. */
export function isClientRejection(status: number): boolean {
  return status === 400 || status === 413 || status === 422;
}

const MAX_MESSAGE = 300;

/**
 * The provider's human-readable error message from its error body (OpenAI and
 * Anthropic `{"error":{"message"}}`, `{"message"}`, FastAPI `{"detail"}`),
 * made safe to show: control characters and runs of whitespace become one
 * space, every `secrets` value and anything shaped like an API key or bearer
 * credential becomes `[redacted]`, and it is cut to 300 characters.
 */
export function providerMessage(body: string, secrets: readonly string[]): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const top = obj(doc);
  const candidates = [obj(top?.error)?.message, top?.error, top?.message, top?.detail];
  let message = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
  if (message === undefined) return undefined;
  for (const secret of secrets) if (secret.length >= 8) message = message.split(secret).join('[redacted]');
  message = message
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\b(bearer)\s+[^\s,;"']+/gi, '$1 [redacted]')
    .replace(/\b(sk|pk|rk|ak|key|tok)[-_][A-Za-z0-9*._-]{6,}/gi, '[redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  return message || undefined;
}

/** The client-facing error for a provider's non-2xx status (`message`: providerMessage of its body, for client rejections). */
export function upstreamStatusError(status: number, retryAfter: number | undefined, message?: string): GatewayError {
  const upstream = {
    phase: 'status' as const,
    upstreamStatus: status,
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  };
  if (status === 429) {
    const headers = retryAfter !== undefined ? { 'retry-after': retryAfterHeader(retryAfter) } : undefined;
    return new GatewayError(
      'upstream_rate_limited',
      'the upstream provider is rate limiting requests (HTTP 429); retry later',
      headers,
      upstream,
    );
  }
  if (isClientRejection(status)) {
    const text = `upstream rejected the request (HTTP ${status})${message ? `: ${message}` : ''}`;
    return new GatewayError(status === 413 ? 'payload_too_large' : 'invalid_request', text, undefined, upstream);
  }
  const fixed =
    status >= 400 && status < 500
      ? `upstream rejected the request (HTTP ${status})`
      : status >= 500
        ? `upstream failed (HTTP ${status})`
        : `upstream returned an unexpected status (HTTP ${status})`;
  return new GatewayError('upstream', fixed, undefined, upstream);
}

function single(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : v.trim();
}

function cap(ms: number): number {
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
