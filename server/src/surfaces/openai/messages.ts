/**
 * OpenAI Chat Completions messages → internal messages, one for one (so a
 * capability field such as `messages.2.content.1` names the client's own
 * message and part). `developer` is a system message.
 */

import type { ContentPart, Message, ToolCall } from '../../targets/target.js';
import { InvalidFieldError } from '../../errors.js';
import { isObject } from '../../util/json.js';

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InvalidFieldError(field, 'expected string');
  return v;
}

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+);base64,(.*)$/s;

function part(p: unknown, field: string, images: boolean): ContentPart {
  if (!isObject(p)) throw new InvalidFieldError(field, 'expected object');
  if (p.type === 'text') return { type: 'text', text: str(p.text, `${field}.text`) };
  if (p.type === 'image_url' && images) {
    const image = p.image_url;
    if (!isObject(image)) throw new InvalidFieldError(`${field}.image_url`, 'expected object');
    const url = str(image.url, `${field}.image_url.url`);
    const detail = image.detail;
    if (detail != null && detail !== 'auto' && detail !== 'low' && detail !== 'high') {
      throw new InvalidFieldError(`${field}.image_url.detail`, 'must be one of "auto", "low", "high"');
    }
    const m = DATA_URL.exec(url);
    if (m) return { type: 'image', source: { kind: 'base64', mediaType: m[1]!, data: m[2]! } };
    if (!/^https?:\/\//i.test(url))
      throw new InvalidFieldError(`${field}.image_url.url`, 'must be an http(s) URL or a base64 data URL');
    return { type: 'image', source: detail ? { kind: 'url', url, detail } : { kind: 'url', url } };
  }
  throw new InvalidFieldError(`${field}.type`, `content part type ${JSON.stringify(p.type)} is not supported here`);
}

function content(v: unknown, field: string, images: boolean): string | ContentPart[] {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) throw new InvalidFieldError(field, 'expected string or array of content parts');
  return v.map((p, j) => part(p, `${field}.${j}`, images));
}

function toolCalls(v: unknown, field: string): ToolCall[] {
  if (!Array.isArray(v)) throw new InvalidFieldError(field, 'expected array');
  return v.map((c, j) => {
    const f = `${field}.${j}`;
    if (!isObject(c) || !isObject(c.function)) throw new InvalidFieldError(`${f}.function`, 'expected object');
    if (c.type != null && c.type !== 'function') throw new InvalidFieldError(`${f}.type`, 'must be "function"');
    return {
      id: str(c.id, `${f}.id`),
      name: str(c.function.name, `${f}.function.name`),
      arguments: str(c.function.arguments, `${f}.function.arguments`),
    };
  });
}

export function parseMessages(raw: unknown): Message[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new InvalidFieldError('messages', 'expected a non-empty array');
  return raw.map((m, i): Message => {
    const f = `messages.${i}`;
    if (!isObject(m)) throw new InvalidFieldError(f, 'expected object');
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: content(m.content, `${f}.content`, false) };
      case 'user':
        return { role: 'user', content: content(m.content, `${f}.content`, true) };
      case 'assistant': {
        const text = m.content == null ? '' : content(m.content, `${f}.content`, false);
        if (m.tool_calls == null) return { role: 'assistant', content: text };
        return { role: 'assistant', content: text, toolCalls: toolCalls(m.tool_calls, `${f}.tool_calls`) };
      }
      case 'tool':
        return {
          role: 'tool',
          toolCallId: str(m.tool_call_id, `${f}.tool_call_id`),
          content: content(m.content, `${f}.content`, false),
        };
      default:
        throw new InvalidFieldError(`${f}.role`, 'must be one of "system", "developer", "user", "assistant", "tool"');
    }
  });
}
