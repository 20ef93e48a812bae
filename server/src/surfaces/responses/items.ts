/**
 * OpenAI Responses API items ↔ the internal conversation (docs/api.md#responses).
 *
 * Input items (a string, or `message` / `function_call` / `function_call_output`
 * / `reasoning` items) are validated and normalized into stored items (each
 * with an `id`, as `GET /v1/responses/{id}/input_items` lists them); stored
 * items (a previous response's input and output, then this request's input)
 * become internal messages. Consecutive assistant text and `function_call`
 * items merge into one assistant message with tool calls, as Chat Completions
 * and Messages need them.
 */
import { randomBytes } from 'node:crypto';
import { InvalidFieldError } from '../../errors.js';
import type { ContentPart, Message, ToolCall } from '../../targets/target.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const ID_BYTES = 24;
/** Random bytes drawn for this many ids at once: one randomBytes call (a few µs each) serves many ids. */
const IDS_PER_DRAW = 256;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** `resp_…`, `msg_…`, `fc_…`: OpenAI's id shapes (prefix and 48 hex digits), from the CSPRNG. */
export function itemId(prefix: string): string {
  if (poolAt + ID_BYTES > pool.length) {
    pool = randomBytes(ID_BYTES * IDS_PER_DRAW);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + ID_BYTES);
  poolAt += ID_BYTES;
  return `${prefix}_${hex}`;
}

export type InputPart =
  | { type: 'input_text'; text: string }
  | { type: 'output_text'; text: string; annotations: unknown[] }
  | { type: 'refusal'; refusal: string }
  | { type: 'input_image'; image_url: string; detail: 'auto' | 'low' | 'high' };

/** A conversation item as the gateway stores and lists it. */
export type StoredItem =
  | { type: 'message'; id: string; role: 'user' | 'assistant' | 'system' | 'developer'; status?: string; content: InputPart[] }
  | { type: 'function_call'; id: string; call_id: string; name: string; arguments: string; status: string }
  | { type: 'function_call_output'; id: string; call_id: string; output: string | InputPart[]; status: string }
  | { type: 'custom_tool_call'; id: string; call_id: string; name: string; input: string; status: string }
  | { type: 'custom_tool_call_output'; id: string; call_id: string; output: string | InputPart[]; status: string };

/**
 * A custom (freeform) tool travels as a function with one string parameter,
 * `input` (docs/api.md#responses); these are its arguments for that input.
 */
export const customArguments = (input: string): string => JSON.stringify({ input });

/** The freeform input back from a custom tool's function arguments (the raw text when they are not `{"input": "…"}`). */
export function customInput(args: string): string {
  try {
    const v = JSON.parse(args) as unknown;
    if (isObject(v) && typeof v.input === 'string') return v.input;
  } catch {
    // not JSON: the model wrote the input itself
  }
  return args;
}

/** Server-side tool item types: their results come from OpenAI's own tools, which no other target runs. */
const SERVER_ITEMS = new Set([
  'web_search_call',
  'file_search_call',
  'computer_call',
  'computer_call_output',
  'code_interpreter_call',
  'image_generation_call',
  'mcp_call',
  'mcp_list_tools',
  'mcp_approval_request',
  'mcp_approval_response',
  'local_shell_call',
  'local_shell_call_output',
]);

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InvalidFieldError(field, 'expected string');
  return v;
}

function part(p: unknown, field: string, role: string): InputPart {
  if (!isObject(p)) throw new InvalidFieldError(field, 'expected object');
  switch (p.type) {
    case 'input_text':
      return { type: 'input_text', text: str(p.text, `${field}.text`) };
    case 'output_text':
      return { type: 'output_text', text: str(p.text, `${field}.text`), annotations: [] };
    case 'refusal':
      return { type: 'refusal', refusal: str(p.refusal, `${field}.refusal`) };
    case 'input_image': {
      if (role !== 'user') throw new InvalidFieldError(`${field}.type`, 'input_image is only allowed in user messages');
      if (p.file_id != null)
        throw new InvalidFieldError(`${field}.file_id`, 'file ids are not supported by the gateway; send image_url');
      const url = str(p.image_url, `${field}.image_url`);
      if (!/^data:[\w.+-]+\/[\w.+-]+;base64,/s.test(url) && !/^https?:\/\//i.test(url)) {
        throw new InvalidFieldError(`${field}.image_url`, 'must be an http(s) URL or a base64 data URL');
      }
      const detail = p.detail ?? 'auto';
      if (detail !== 'auto' && detail !== 'low' && detail !== 'high') {
        throw new InvalidFieldError(`${field}.detail`, 'must be one of "auto", "low", "high"');
      }
      return { type: 'input_image', image_url: url, detail };
    }
    default:
      throw new InvalidFieldError(`${field}.type`, `content part type ${JSON.stringify(p.type)} is not supported here`);
  }
}

function messageItem(m: Json, field: string): StoredItem {
  const role = m.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    throw new InvalidFieldError(`${field}.role`, 'must be one of "user", "assistant", "system", "developer"');
  }
  let content: InputPart[];
  if (typeof m.content === 'string') {
    content = [
      role === 'assistant' ? { type: 'output_text', text: m.content, annotations: [] } : { type: 'input_text', text: m.content },
    ];
  } else if (Array.isArray(m.content)) {
    content = m.content.map((p, j) => part(p, `${field}.content.${j}`, role));
  } else {
    throw new InvalidFieldError(`${field}.content`, 'expected string or array of content parts');
  }
  const id = typeof m.id === 'string' && m.id ? m.id : itemId('msg');
  return { type: 'message', id, role, status: 'completed', content };
}

export interface ParsedInput {
  items: StoredItem[];
  /** For each item, its index in `input` (reasoning items are dropped, so they differ). */
  at: number[];
  /** The client sent `reasoning` items back (ignored: the gateway keeps no reasoning state). */
  reasoning: boolean;
}

/** `input` (a string or a list of items) → stored items, validated; 400 naming `input.N…` otherwise. */
export function parseInput(raw: unknown): ParsedInput {
  if (typeof raw === 'string') {
    return {
      items: [
        { type: 'message', id: itemId('msg'), role: 'user', status: 'completed', content: [{ type: 'input_text', text: raw }] },
      ],
      at: [0],
      reasoning: false,
    };
  }
  if (!Array.isArray(raw)) throw new InvalidFieldError('input', 'expected a string or an array of input items');
  const items: StoredItem[] = [];
  const at: number[] = [];
  let reasoning = false;
  raw.forEach((it, i) => {
    const f = `input.${i}`;
    if (!isObject(it)) throw new InvalidFieldError(f, 'expected object');
    const type = it.type ?? 'message';
    if (type !== 'reasoning') at.push(i);
    switch (type) {
      case 'message':
        items.push(messageItem(it, f));
        break;
      case 'function_call':
        items.push({
          type: 'function_call',
          id: typeof it.id === 'string' && it.id ? it.id : itemId('fc'),
          call_id: str(it.call_id, `${f}.call_id`),
          name: str(it.name, `${f}.name`),
          arguments: str(it.arguments, `${f}.arguments`),
          status: 'completed',
        });
        break;
      case 'custom_tool_call':
        items.push({
          type: 'custom_tool_call',
          id: typeof it.id === 'string' && it.id ? it.id : itemId('ctc'),
          call_id: str(it.call_id, `${f}.call_id`),
          name: str(it.name, `${f}.name`),
          input: str(it.input, `${f}.input`),
          status: 'completed',
        });
        break;
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const out = it.output;
        let output: string | InputPart[];
        if (typeof out === 'string') output = out;
        else if (Array.isArray(out)) output = out.map((p, j) => part(p, `${f}.output.${j}`, 'user'));
        else throw new InvalidFieldError(`${f}.output`, 'expected string or array of content parts');
        items.push({
          type: type === 'function_call_output' ? 'function_call_output' : 'custom_tool_call_output',
          id: typeof it.id === 'string' && it.id ? it.id : itemId(type === 'function_call_output' ? 'fco' : 'ctco'),
          call_id: str(it.call_id, `${f}.call_id`),
          output,
          status: 'completed',
        });
        break;
      }
      case 'reasoning':
        // Encrypted or summarized reasoning from an earlier turn: only the provider that made it can use it.
        reasoning = true;
        break;
      case 'item_reference':
        throw new InvalidFieldError(
          `${f}.type`,
          'item_reference is not supported by the gateway; send the item itself or use previous_response_id',
        );
      default:
        if (typeof type === 'string' && SERVER_ITEMS.has(type)) {
          throw new InvalidFieldError(`${f}.type`, `${type} items come from server-side tools, which this target cannot run`);
        }
        throw new InvalidFieldError(`${f}.type`, `input item type ${JSON.stringify(type)} is not supported`);
    }
  });
  return { items, at, reasoning };
}

function imageOf(url: string, detail: 'auto' | 'low' | 'high'): ContentPart {
  const m = /^data:([\w.+-]+\/[\w.+-]+);base64,(.*)$/s.exec(url);
  if (m) return { type: 'image', source: { kind: 'base64', mediaType: m[1]!, data: m[2]! } };
  return { type: 'image', source: detail === 'auto' ? { kind: 'url', url } : { kind: 'url', url, detail } };
}

function contentOf(parts: InputPart[]): string | ContentPart[] {
  const out: ContentPart[] = parts.map((p) => {
    if (p.type === 'input_image') return imageOf(p.image_url, p.detail);
    return { type: 'text', text: p.type === 'refusal' ? p.refusal : p.text };
  });
  // One text part reads best as a plain string on every target.
  if (out.length === 1 && out[0]!.type === 'text') return out[0]!.text;
  return out;
}

/** Internal messages for stored items, and for each message the field (`input.3`) it came from. */
export interface Conversation {
  messages: Message[];
  fields: string[];
}

/**
 * Stored items → internal messages. `fieldOf(i)` names item i for error
 * messages (`input.3`, or `previous_response_id` for items of the chain).
 */
export function toMessages(items: readonly StoredItem[], fieldOf: (i: number) => string, into: Conversation): void {
  let open: Extract<Message, { role: 'assistant' }> | null = null;
  items.forEach((it, i) => {
    if (it.type === 'message') {
      const content = contentOf(it.content);
      if (it.role === 'assistant') {
        // Text then calls (one turn) merge; a second text closes the turn.
        open = { role: 'assistant', content };
        into.messages.push(open);
        into.fields.push(fieldOf(i));
        return;
      }
      open = null;
      into.messages.push({ role: it.role === 'developer' ? 'system' : it.role, content });
      into.fields.push(fieldOf(i));
    } else if (it.type === 'function_call' || it.type === 'custom_tool_call') {
      const args = it.type === 'function_call' ? it.arguments : customArguments(it.input);
      const call: ToolCall = { id: it.call_id, name: it.name, arguments: args };
      if (open) {
        (open.toolCalls ??= []).push(call);
      } else {
        open = { role: 'assistant', content: '', toolCalls: [call] };
        into.messages.push(open);
        into.fields.push(fieldOf(i));
      }
    } else {
      open = null;
      into.messages.push({
        role: 'tool',
        toolCallId: it.call_id,
        content: typeof it.output === 'string' ? it.output : contentOf(it.output),
      });
      into.fields.push(fieldOf(i));
    }
  });
}
