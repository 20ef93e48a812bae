/**
 * Every error class of the server, in one place (docs/architecture.md#errors).
 * GatewayError is what the public listener answers with (one status table, one
 * renderer per surface); AdminError is the admin API's; the others are internal
 * (startup, config, state store, body reading, local models) and are mapped to
 * one of those two, or to a startup failure, where they are caught.
 */
import type { AdminErrorCode, ErrorCode } from '@sipp/shared';

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
  budget_exceeded: 429,
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

/**
 * A 400 `invalid_request` about one request field. `param` is the field in
 * the surface's own naming (OpenAI errors carry it as `param`); the message
 * starts with it, as every invalid_request message does.
 */
export class InvalidFieldError extends GatewayError {
  constructor(
    readonly param: string,
    detail: string,
  ) {
    super('invalid_request', `${param}: ${detail}`);
  }
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The shared state store could not take a change (Redis unreachable, file unwritable). */
export class StateUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateUnavailableError';
  }
}

export class BodyReadError extends Error {
  constructor(
    /** too_large: over the limit; aborted: the client went away mid-body. */
    readonly reason: 'too_large' | 'aborted',
  ) {
    super(reason === 'too_large' ? 'request body is too large' : 'request body was aborted');
    this.name = 'BodyReadError';
  }
}

export class BackendUnavailableError extends Error {
  constructor(readonly backend: string) {
    super(
      `backend "${backend}" is not available on this machine (no working ${backend} build of llama.cpp or no ${backend} device)`,
    );
    this.name = 'BackendUnavailableError';
  }
}

export class LocalModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalModelLoadError';
  }
}

/** Errors the admin API answers with `{error:{code,message}}`. Messages are fixed strings: never request content, never a secret. */
const ADMIN_STATUS: Record<AdminErrorCode, number> = {
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
    this.status = ADMIN_STATUS[code];
  }
}

/** A provider's 2xx finite answer passed `max_response_bytes` (the upstream client's finite read; the client makes it a 502 upstream_too_large). */
export class AnswerTooLarge extends Error {
  constructor() {
    super('upstream answer over max_response_bytes');
  }
}

/** An upstream event (or one line of it) grew past `maxEventBytes`. */
export class SseEventTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`server-sent event larger than ${limit} bytes`);
    this.name = 'SseEventTooLarge';
  }
}

/** A state-store command that ran past its budget ([state] command_budget_ms; docs/operations.md). */
export class BudgetExceededError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`state store command exceeded its ${ms} ms budget`);
    this.name = 'BudgetExceededError';
  }
}

/** Thrown instead of calling Redis while the breaker skips it. */
export class RedisSkippedError extends Error {
  readonly code = 'ESKIPPED';
  constructor() {
    super('the shared state store is being skipped after consecutive failures');
    this.name = 'RedisSkippedError';
  }
}

/**
 * A provider's own error answer on a pass-through path (docs/api.md#pass-through):
 * the client gets the provider's status and sanitized error document.
 */
export class ProviderError extends GatewayError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The HTTP status the client gets (the provider's). */
    readonly providerStatus: number,
    /** The error document the client gets (the provider's, sanitized). */
    readonly body: unknown,
    headers: Record<string, string> | undefined,
    upstream: UpstreamDetail,
  ) {
    super(code, message, headers, upstream);
    this.name = 'ProviderError';
  }
}

/** The embedded usage database is open in another live process (docs/keys.md#cli): PGlite allows one process at a time. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`the embedded usage database ${dir} is in use by another process (pid ${pid}), e.g. a running gateway`);
    this.name = 'DatabaseInUseError';
  }
}

/** A command line that cannot be run as written (exit status 2 with the usage text). */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}
