/**
 * Anthropic Messages request → internal chat request. The top-level `system`
 * becomes a leading system message; `tool_result` blocks of a user turn become
 * `tool` messages (in order, before the turn's other content). `paths` keeps,
 * per internal message, where it came from, so a refusal names the client's
 * own field (`messages.2.content.1`).
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import type { ContentPart, GenerationOptions, ImageSource, Message, ToolCall, ToolChoice, ToolDefinition } from '../../targets/target.js';
import { failOn } from '../fields.js';
import { isObject, type Json } from '../../util/json.js';


/** Where an internal message (and each of its parts) came from in the client's body. */
export interface MessagePath {
  message: string;
  parts: string[];
}

const MAX_STOP = 16;

const MessagesSchema = z.strictObject({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1).max(1_000_000),
  messages: z.array(z.unknown()).min(1),
  system: z.union([z.string(), z.array(z.unknown())]).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.unknown().optional(),
  stop_sequences: z.array(z.string().min(1)).max(MAX_STOP).nullish(),
  stream: z.boolean().nullish(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  thinking: z.unknown().optional(),
  service_tier: z.enum(['auto', 'standard_only']).nullish(),
  /** Prompt-caching hint: accepted, not forwarded (no effect on the answer). */
  cache_control: z.unknown().optional(),
});

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InvalidFieldError(field, 'expected string');
  return v;
}

function image(block: Json, field: string): ImageSource {
  const s = block.source;
  if (isObject(s) && s.type === 'base64') return { kind: 'base64', mediaType: str(s.media_type, `${field}.source.media_type`), data: str(s.data, `${field}.source.data`) };
  if (isObject(s) && s.type === 'url') return { kind: 'url', url: str(s.url, `${field}.source.url`) };
  throw new InvalidFieldError(`${field}.source`, 'expected a base64 or url image source');
}

/** text / image blocks (user content, tool results, system). */
function simpleBlock(b: unknown, field: string, images: boolean): ContentPart {
  if (!isObject(b)) throw new InvalidFieldError(field, 'expected object');
  if (b.type === 'text') return { type: 'text', text: str(b.text, `${field}.text`) };
  if (b.type === 'image' && images) return { type: 'image', source: image(b, field) };
  throw new InvalidFieldError(`${field}.type`, `content block type ${JSON.stringify(b.type)} is not supported here`);
}

function pushMessages(raw: unknown, i: number, out: Message[], paths: MessagePath[]): void {
  const f = `messages.${i}`;
  if (!isObject(raw)) throw new InvalidFieldError(f, 'expected object');
  if (raw.role !== 'user' && raw.role !== 'assistant') throw new InvalidFieldError(`${f}.role`, 'must be one of "user", "assistant"');
  const c = raw.content;
  if (typeof c === 'string') {
    out.push({ role: raw.role, content: c });
    paths.push({ message: f, parts: [] });
    return;
  }
  if (!Array.isArray(c)) throw new InvalidFieldError(`${f}.content`, 'expected string or array of content blocks');
  const parts: ContentPart[] = [];
  const partPaths: string[] = [];
  if (raw.role === 'assistant') {
    const calls: ToolCall[] = [];
    c.forEach((b, j) => {
      const bf = `${f}.content.${j}`;
      if (isObject(b) && b.type === 'tool_use') {
        if (!isObject(b.input)) throw new InvalidFieldError(`${bf}.input`, 'expected object');
        calls.push({ id: str(b.id, `${bf}.id`), name: str(b.name, `${bf}.name`), arguments: JSON.stringify(b.input) });
      } else {
        parts.push(simpleBlock(b, bf, false));
        partPaths.push(bf);
      }
    });
    out.push(calls.length ? { role: 'assistant', content: parts, toolCalls: calls } : { role: 'assistant', content: parts });
    paths.push({ message: f, parts: partPaths });
    return;
  }
  c.forEach((b, j) => {
    const bf = `${f}.content.${j}`;
    if (isObject(b) && b.type === 'tool_result') {
      const id = str(b.tool_use_id, `${bf}.tool_use_id`);
      const rc = b.content;
      let content: string | ContentPart[] = '';
      const resultPaths: string[] = [];
      if (typeof rc === 'string') content = rc;
      else if (Array.isArray(rc)) {
        content = rc.map((p, k) => {
          resultPaths.push(`${bf}.content.${k}`);
          return simpleBlock(p, `${bf}.content.${k}`, true);
        });
      } else if (rc != null) throw new InvalidFieldError(`${bf}.content`, 'expected string or array of content blocks');
      out.push(b.is_error === true ? { role: 'tool', toolCallId: id, content, isError: true } : { role: 'tool', toolCallId: id, content });
      paths.push({ message: bf, parts: resultPaths });
    } else {
      parts.push(simpleBlock(b, bf, true));
      partPaths.push(bf);
    }
  });
  if (parts.length || !c.length) {
    out.push({ role: 'user', content: parts });
    paths.push({ message: f, parts: partPaths });
  }
}

function system(raw: string | unknown[]): string | ContentPart[] {
  if (typeof raw === 'string') return raw;
  return raw.map((b, j) => simpleBlock(b, `system.${j}`, false));
}

function tools(raw: unknown[]): ToolDefinition[] {
  return raw.map((t, i) => {
    const f = `tools.${i}`;
    if (!isObject(t)) throw new InvalidFieldError(f, 'expected object');
    if (t.type != null && t.type !== 'custom') throw new InvalidFieldError(`${f}.type`, `server tool ${JSON.stringify(t.type)} is not supported by the gateway`);
    const def: ToolDefinition = { name: str(t.name, `${f}.name`) };
    if (typeof t.description === 'string') def.description = t.description;
    if (!isObject(t.input_schema)) throw new InvalidFieldError(`${f}.input_schema`, 'expected object');
    def.parameters = t.input_schema;
    return def;
  });
}

function toolChoice(raw: unknown, options: GenerationOptions): void {
  if (!isObject(raw)) throw new InvalidFieldError('tool_choice', 'expected object');
  let choice: ToolChoice;
  if (raw.type === 'auto' || raw.type === 'none') choice = { type: raw.type };
  else if (raw.type === 'any') choice = { type: 'required' };
  else if (raw.type === 'tool') choice = { type: 'tool', name: str(raw.name, 'tool_choice.name') };
  else throw new InvalidFieldError('tool_choice.type', 'must be one of "auto", "any", "tool", "none"');
  options.toolChoice = choice;
  if (raw.disable_parallel_tool_use === true) options.parallelToolCalls = false;
}

export interface ParsedMessages {
  model: string;
  stream: boolean;
  messages: Message[];
  options: GenerationOptions;
  paths: MessagePath[];
}

export function parseMessagesRequest(body: Record<string, unknown>): ParsedMessages {
  const r = MessagesSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new InvalidFieldError(issue.keys[0]!, 'unknown field');
    failOn(r.error, 'dots');
  }
  const b = r.data;
  if (b.top_k != null) throw new InvalidFieldError('top_k', 'top_k is not supported by the gateway');
  if (b.thinking != null && !(isObject(b.thinking) && b.thinking.type === 'disabled')) {
    throw new InvalidFieldError('thinking', 'extended thinking is not supported by the gateway');
  }
  const messages: Message[] = [];
  const paths: MessagePath[] = [];
  if (b.system != null) {
    messages.push({ role: 'system', content: system(b.system) });
    paths.push({ message: 'system', parts: Array.isArray(b.system) ? b.system.map((_, j) => `system.${j}`) : [] });
  }
  b.messages.forEach((m, i) => pushMessages(m, i, messages, paths));

  const options: GenerationOptions = { maxTokens: b.max_tokens };
  if (b.temperature != null) options.temperature = b.temperature;
  if (b.top_p != null) options.topP = b.top_p;
  if (b.stop_sequences != null && b.stop_sequences.length) options.stop = b.stop_sequences;
  if (b.metadata?.user_id != null) options.user = b.metadata.user_id;
  if (b.tools != null) options.tools = tools(b.tools);
  if (b.tool_choice != null) toolChoice(b.tool_choice, options);
  return { model: b.model, stream: b.stream === true, messages, options, paths };
}

/** A neutral capability field in Anthropic's naming. */
export function anthropicField(neutral: string, paths: readonly MessagePath[]): string {
  if (neutral === 'stop') return 'stop_sequences';
  if (neutral === 'user') return 'metadata.user_id';
  const m = /^messages\.(\d+)(?:\.content\.(\d+))?(.*)$/.exec(neutral);
  if (!m) return neutral;
  const p = paths[Number(m[1])];
  if (!p) return neutral;
  if (m[2] === undefined) return p.message + m[3];
  return (p.parts[Number(m[2])] ?? `${p.message}.content`) + m[3];
}
