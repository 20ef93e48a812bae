/**
 * Shared helpers for surface parsers: zod failures as InvalidFieldError
 * naming the field, `null` read as "unset", and field-name conversion.
 */
import type { z } from 'zod';
import { InvalidFieldError } from '../errors.js';
import { fieldPath } from '../util/field-path.js';

/** Throws the first zod issue as a 400 naming the field (`messages[0].role: expected string`). */
export function failOn(error: z.ZodError, style: 'brackets' | 'dots' = 'brackets'): never {
  const issue = error.issues[0]!;
  let message = issue.message;
  if (issue.code === 'invalid_type') message = `expected ${issue.expected}`;
  if (issue.code === 'invalid_value') message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  const field = style === 'brackets' ? fieldPath(issue.path) : dotted(issue.path);
  throw new InvalidFieldError(field, message);
}

/** "messages.0.content" from a path (OpenAI / Anthropic style). */
export function dotted(path: ReadonlyArray<PropertyKey>): string {
  return path.length ? path.map(String).join('.') : '(root)';
}

/** "messages.1.content.0" → "messages[1].content[0]" (Sipp style). */
export function bracketed(neutral: string): string {
  return fieldPath(neutral.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)));
}

/** The value, with `null` read as unset. */
export function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

/**
 * What the gateway itself reads of a pass-through body (docs/api.md#pass-through):
 * `model` (a non-empty string) and `stream` (a boolean, when present).
 */
export function wireBasics(body: Record<string, unknown>): { model: string; stream: boolean } {
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) {
    throw new InvalidFieldError('model', model === undefined ? 'required' : 'expected a non-empty string');
  }
  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    throw new InvalidFieldError('stream', 'expected boolean');
  return { model, stream: stream === true };
}
