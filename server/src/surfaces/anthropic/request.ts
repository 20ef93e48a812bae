/**
 * Anthropic Messages request → internal chat request. The top-level `system`
 * becomes a leading system message; `tool_result` blocks of a user turn become
 * `tool` messages (in order, before the turn's other content). `paths` keeps,
 * per internal message, where it came from, so a refusal names the client's
 * own field (`messages.2.content.1`).
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import type { IgnorableField } from '../../targets/ignored.js';
import type {
  ContentPart,
  GenerationOptions,
  ImageSource,
  Message,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../../targets/target.js';
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
  context_management: z.unknown().optional(),
  output_config: z.looseObject({ effort: z.string().nullish(), format: z.unknown().optional() }).nullish(),
});

/**
 * Hint-only fields met while parsing for the translation path (docs/api.md#ignored-fields);
 * module-level during one synchronous parse, then handed to the request.
 */
let hints = new Set<IgnorableField>();
const hint = (field: IgnorableField): void => void hints.add(field);

/** `cache_control` on a block, tool or the request: a caching hint other APIs have no use for. */
function noteCache(v: Json): void {
  if (v.cache_control != null) hint('cache_control');
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InvalidFieldError(field, 'expected string');
  return v;
}

function image(block: Json, field: string): ImageSource {
  const s = block.source;
  if (isObject(s) && s.type === 'base64')
    return {
      kind: 'base64',
      mediaType: str(s.media_type, `${field}.source.media_type`),
      data: str(s.data, `${field}.source.data`),
    };
  if (isObject(s) && s.type === 'url') return { kind: 'url', url: str(s.url, `${field}.source.url`) };
  throw new InvalidFieldError(`${field}.source`, 'expected a base64 or url image source');
}

/** text / image blocks (user content, tool results, system). */
function simpleBlock(b: unknown, field: string, images: boolean): ContentPart {
  if (!isObject(b)) throw new InvalidFieldError(field, 'expected object');
  noteCache(b);
  if (b.type === 'text') return { type: 'text', text: str(b.text, `${field}.text`) };
  if (b.type === 'image' && images) return { type: 'image', source: image(b, field) };
  throw new InvalidFieldError(`${field}.type`, `content block type ${JSON.stringify(b.type)} is not supported here`);
}

function pushMessages(raw: unknown, i: number, out: Message[], paths: MessagePath[]): void {
  const f = `messages.${i}`;
  if (!isObject(raw)) throw new InvalidFieldError(f, 'expected object');
  if (raw.role !== 'user' && raw.role !== 'assistant' && raw.role !== 'system') {
    throw new InvalidFieldError(`${f}.role`, 'must be one of "user", "assistant", "system"');
  }
  const c = raw.content;
  if (raw.role === 'system') {
    // A system message inside `messages` (Claude Code sends them): a system message for the target.
    if (typeof c !== 'string' && !Array.isArray(c))
      throw new InvalidFieldError(`${f}.content`, 'expected string or array of content blocks');
    out.push({
      role: 'system',
      content: typeof c === 'string' ? c : c.map((b, j) => simpleBlock(b, `${f}.content.${j}`, false)),
    });
    paths.push({ message: f, parts: typeof c === 'string' ? [] : c.map((_, j) => `${f}.content.${j}`) });
    return;
  }
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
      if (isObject(b) && (b.type === 'thinking' || b.type === 'redacted_thinking')) {
        // Earlier thinking sent back: only an Anthropic target can read it.
        hint('thinking');
        return;
      }
      if (isObject(b) && b.type === 'tool_use') {
        noteCache(b);
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
      noteCache(b);
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
      out.push(
        b.is_error === true
          ? { role: 'tool', toolCallId: id, content, isError: true }
          : { role: 'tool', toolCallId: id, content },
      );
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
    if (t.type != null && t.type !== 'custom')
      throw new InvalidFieldError(`${f}.type`, `server tool ${JSON.stringify(t.type)} is not supported by the gateway`);
    noteCache(t);
    if (t.eager_input_streaming != null) hint('eager_input_streaming');
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
  /** Hint-only fields the translation ignores whatever the target. */
  ignored: IgnorableField[];
}

const EFFORTS = new Map<string, NonNullable<NonNullable<GenerationOptions['reasoning']>['effort']>>([
  ['low', 'low'],
  ['medium', 'medium'],
  ['high', 'high'],
  ['xhigh', 'high'],
  ['max', 'high'],
]);

/**
 * `thinking` (`enabled` with `budget_tokens`, `adaptive`) and
 * `output_config.effort` → the internal reasoning hint, which each target
 * translates or ignores (docs/api.md#ignored-fields).
 */
function reasoning(b: z.infer<typeof MessagesSchema>, options: GenerationOptions): void {
  const r: NonNullable<GenerationOptions['reasoning']> = {};
  const from: IgnorableField[] = [];
  const t = b.thinking;
  if (t != null) {
    if (!isObject(t)) throw new InvalidFieldError('thinking', 'expected object');
    if (t.type === 'enabled') {
      if (typeof t.budget_tokens !== 'number' || !Number.isInteger(t.budget_tokens) || t.budget_tokens < 1) {
        throw new InvalidFieldError('thinking.budget_tokens', 'expected a positive integer');
      }
      r.budgetTokens = t.budget_tokens;
      from.push('thinking');
    } else if (t.type === 'adaptive' || t.type === 'between_tools') {
      r.adaptive = true;
      from.push('thinking');
    } else if (t.type !== 'disabled') {
      throw new InvalidFieldError('thinking.type', 'must be one of "enabled", "adaptive", "disabled"');
    }
  }
  const effort = b.output_config?.effort;
  if (effort != null) {
    const e = EFFORTS.get(effort);
    if (!e) throw new InvalidFieldError('output_config.effort', 'must be one of "low", "medium", "high", "xhigh", "max"');
    r.effort = e;
    from.push('output_config');
  }
  if (from.length) options.reasoning = { ...r, from };
}

/** `output_config.format` (structured output) changes the answer: it becomes a JSON-schema response_format, or is refused. */
function outputFormat(raw: unknown): Record<string, unknown> {
  if (!isObject(raw) || raw.type !== 'json_schema' || !isObject(raw.schema)) {
    throw new InvalidFieldError('output_config.format', 'expected {"type": "json_schema", "schema": {…}}');
  }
  return { type: 'json_schema', json_schema: { name: 'output', schema: raw.schema } };
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
  hints = new Set();
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
  reasoning(b, options);
  if (b.output_config?.format != null) options.responseFormat = outputFormat(b.output_config.format);
  if (b.cache_control != null) hint('cache_control');
  if (b.context_management != null) hint('context_management');
  if (b.service_tier != null) hint('service_tier');
  if (b.metadata != null && Object.keys(b.metadata).some((k) => k !== 'user_id')) hint('metadata');
  const ignored = [...hints];
  hints = new Set();
  return { model: b.model, stream: b.stream === true, messages, options, paths, ignored };
}

/** A neutral capability field in Anthropic's naming. */
export function anthropicField(neutral: string, paths: readonly MessagePath[]): string {
  if (neutral === 'stop') return 'stop_sequences';
  if (neutral === 'user') return 'metadata.user_id';
  if (neutral === 'tool_choice.function.name') return 'tool_choice.name';
  const m = /^messages\.(\d+)(?:\.content\.(\d+))?(.*)$/.exec(neutral);
  if (!m) return neutral;
  const p = paths[Number(m[1])];
  if (!p) return neutral;
  if (m[2] === undefined) return p.message + (m[3] === '.tool_call_id' ? '.tool_use_id' : m[3]);
  return (p.parts[Number(m[2])] ?? `${p.message}.content`) + m[3];
}
