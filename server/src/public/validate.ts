/**
 * Validates a parsed body against the operation's schema from @sipp/shared
 * and turns it into the target-facing request. Errors name the field.
 */
import {
  ChatRequestSchema,
  EmbedRequestSchema,
  QueryRequestSchema,
  type ChatMessage,
  type Operation,
} from '@sipp/shared';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { GenerationOptions, TextRequest } from '../targets/target.js';
import { fieldPath } from '../util/field-path.js';

export type ValidRequest =
  | { operation: 'query' | 'chat'; model: string; stream: boolean; text: TextRequest }
  | { operation: 'embed'; model: string; stream: false; input: string };

function fail(error: z.ZodError): never {
  const issue = error.issues[0]!;
  let message = issue.message;
  if (issue.code === 'invalid_type') message = `expected ${issue.expected}`;
  if (issue.code === 'invalid_value' && issue.path.at(-1) === 'role') message = 'must be one of "system", "user", "assistant"';
  throw new GatewayError('invalid_request', `${fieldPath(issue.path)}: ${message}`);
}

function options(body: {
  max_tokens?: number | undefined;
  temperature?: number | undefined;
  top_p?: number | undefined;
  stop?: string[] | undefined;
}): GenerationOptions {
  const o: GenerationOptions = {};
  if (body.max_tokens !== undefined) o.maxTokens = body.max_tokens;
  if (body.temperature !== undefined) o.temperature = body.temperature;
  if (body.top_p !== undefined) o.topP = body.top_p;
  if (body.stop !== undefined && body.stop.length) o.stop = body.stop;
  return o;
}

export function validateRequest(operation: Operation, body: Record<string, unknown>): ValidRequest {
  switch (operation) {
    case 'query': {
      const r = QueryRequestSchema.safeParse(body);
      if (!r.success) fail(r.error);
      const b = r.data;
      return { operation, model: b.model, stream: b.stream === true, text: { operation, prompt: b.prompt, options: options(b) } };
    }
    case 'chat': {
      const r = ChatRequestSchema.safeParse(body);
      if (!r.success) fail(r.error);
      const b = r.data;
      // Only role and content travel on: extra per-message fields are never forwarded.
      const messages: ChatMessage[] = b.messages.map((m) => ({ role: m.role, content: m.content }));
      return { operation, model: b.model, stream: b.stream === true, text: { operation, messages, options: options(b) } };
    }
    case 'embed': {
      const r = EmbedRequestSchema.safeParse(body);
      if (!r.success) fail(r.error);
      return { operation, model: r.data.model, stream: false, input: r.data.input };
    }
  }
}
