/**
 * Bounds on what the gateway parses: request nesting depth (gateway-wide) and
 * what it reads from a provider (per provider target). See
 * docs/configuration.md#provider-limits and docs/configuration.md#top-level-keys.
 */
import { z } from 'zod';

const MiB = 1_048_576;

export const PROVIDER_LIMIT_DEFAULTS = {
  max_event_bytes: MiB,
  max_response_bytes: 16 * MiB,
  keepalive_timeout_seconds: 300,
} as const;

/** Keys shared by the `openai`, `openai_compatible` and `anthropic` target tables (unset: PROVIDER_LIMIT_DEFAULTS). */
export const PROVIDER_LIMIT_KEYS = {
  /** Most bytes one server-sent event (or one line of it) from the provider may hold; over it: 502 `upstream_protocol`. */
  max_event_bytes: z
    .number()
    .int('must be an integer')
    .min(1024, 'must be >= 1024')
    .max(1024 * MiB)
    .optional(),
  /** Most bytes of a finite provider answer; over it: 502 `upstream_too_large`. */
  max_response_bytes: z
    .number()
    .int('must be an integer')
    .min(1024, 'must be >= 1024')
    .max(4096 * MiB)
    .optional(),
  /** Longest a stream may go on keep-alives alone (comments, `ping` events) without content; then 504 `upstream_timeout`. */
  keepalive_timeout_seconds: z.number().positive('must be > 0').max(86_400).optional(),
};

/** The client options of a provider target's limits, defaults applied. */
export function providerLimits(t: {
  max_event_bytes?: number;
  max_response_bytes?: number;
  keepalive_timeout_seconds?: number;
}): {
  maxEventBytes: number;
  maxResponseBytes: number;
  keepaliveTimeoutMs: number;
} {
  return {
    maxEventBytes: t.max_event_bytes ?? PROVIDER_LIMIT_DEFAULTS.max_event_bytes,
    maxResponseBytes: t.max_response_bytes ?? PROVIDER_LIMIT_DEFAULTS.max_response_bytes,
    keepaliveTimeoutMs: (t.keepalive_timeout_seconds ?? PROVIDER_LIMIT_DEFAULTS.keepalive_timeout_seconds) * 1000,
  };
}

/** `max_json_depth`: deepest nesting of objects and arrays a request body may have (the body itself is level 1). */
export const MAX_JSON_DEPTH = z.number().int('must be an integer').min(2, 'must be >= 2').max(1_000_000).default(64);
