/**
 * Thin fetch wrapper for the admin API. The base path comes from the
 * `sipp-admin-base` meta tag the gateway injects into index.html, so the SPA
 * works under any admin route. Cookies are HttpOnly; mutations carry the CSRF
 * token from the session response.
 */
import type { AdminErrorBody } from '@sipp/shared';

function detectBase(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="sipp-admin-base"]');
  if (meta?.content) return meta.content.replace(/\/+$/, '');
  // Dev server / fallback: the first path segment.
  const first = window.location.pathname.split('/').filter(Boolean)[0];
  return first ? `/${first}` : '';
}

export const BASE_PATH = detectBase();

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
    /** What was asked, e.g. "GET targets?window=5m" (for error states). */
    readonly request: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A request the gateway has not answered by then fails, so no view waits forever (docs/dashboard.md#views). */
export const REQUEST_TIMEOUT_MS = 20_000;

let csrf: { header: string; token: string } | null = null;

export function setCsrf(header: string, token: string): void {
  csrf = { header, token };
}
export function clearCsrf(): void {
  csrf = null;
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers[csrf.header] = csrf.token;
  const request = `${method} ${path}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${BASE_PATH}/api/${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    text = await res.text();
  } catch (err) {
    if (err instanceof DOMException && err.name === 'TimeoutError') {
      throw new ApiError(0, 'timeout', `The gateway did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`, null, request);
    }
    throw new ApiError(0, 'network', 'The gateway is not reachable. Is the SSH tunnel up?', null, request);
  }
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = (parsed as AdminErrorBody | undefined)?.error;
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(
      res.status,
      err?.code ?? 'http_error',
      err?.message ?? `HTTP ${res.status}`,
      Number.isFinite(retry) && retry > 0 ? retry : null,
      request,
    );
  }
  if (text && parsed === undefined) {
    throw new ApiError(res.status, 'bad_response', 'The gateway answered with something that is not JSON.', null, request);
  }
  return parsed as T;
}
