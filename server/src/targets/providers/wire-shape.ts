/**
 * Small readers for provider JSON: upstream bodies are untrusted, so every
 * field is checked before use. A body without the fields a provider's API
 * promises is an upstream fault with a fixed, sanitized message.
 */
import type { FinishReason } from '@sipp/shared';
import { GatewayError } from '../../errors.js';
import { isObject, type Json } from '../../util/json.js';

export { isObject, type Json };

export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** A 2xx response that broke the provider's API contract (body or stream content). */
export function upstreamContentError(message: string): GatewayError {
  return new GatewayError('upstream', message, undefined, { phase: 'stream' });
}

export function unexpectedResponse(): GatewayError {
  return upstreamContentError('upstream sent an unexpected response');
}

export function malformedStream(): GatewayError {
  return upstreamContentError('upstream sent malformed stream data');
}

export function streamEndedEarly(): GatewayError {
  return upstreamContentError('upstream stream ended unexpectedly');
}

/** Parses one SSE `data:` payload that must be a JSON object. */
export function parseStreamData(data: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw malformedStream();
  }
  if (!isObject(value)) throw malformedStream();
  return value;
}

const REASON_SHAPE = /^[a-z_]{1,32}$/;

/**
 * Maps a provider's finish/stop reason through `table`; a reason the table
 * does not know passes through when it looks like one (lower-case word), so
 * new provider reasons stay visible without letting arbitrary text through.
 */
export function normalizeReason(raw: unknown, table: ReadonlyMap<string, FinishReason>, fallback: FinishReason): FinishReason {
  if (typeof raw !== 'string') return fallback;
  const mapped = table.get(raw);
  if (mapped) return mapped;
  return REASON_SHAPE.test(raw) ? raw : fallback;
}
