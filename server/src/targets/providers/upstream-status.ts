/**
 * What a provider's non-2xx answer becomes for the gateway's client:
 *  - 429: `429 upstream_rate_limited`, with the provider's wait passed through
 *    as `Retry-After` (whole seconds, rounded up, at most 300);
 *    the UpstreamDetail keeps the provider's exact wait (`retryAfterMs`);
 *  - any other status: `502 upstream`, naming the status only.
 * Never the upstream body or any other upstream header: they may echo a
 * credential. Every error carries an UpstreamDetail for routing and records.
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

/** The client-facing error for a provider's non-2xx status. */
export function upstreamStatusError(status: number, retryAfter: number | undefined): GatewayError {
  const upstream = { phase: 'status' as const, upstreamStatus: status, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
  if (status === 429) {
    const headers = retryAfter !== undefined ? { 'retry-after': retryAfterHeader(retryAfter) } : undefined;
    return new GatewayError('upstream_rate_limited', 'the upstream provider is rate limiting requests (HTTP 429); retry later', headers, upstream);
  }
  const message =
    status >= 400 && status < 500
      ? `upstream rejected the request (HTTP ${status})`
      : status >= 500
        ? `upstream failed (HTTP ${status})`
        : `upstream returned an unexpected status (HTTP ${status})`;
  return new GatewayError('upstream', message, undefined, upstream);
}

function single(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : v.trim();
}

function cap(ms: number): number {
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
