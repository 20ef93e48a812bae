/**
 * OpenAI Responses API request (`POST /v1/responses`) → the internal chat
 * request (docs/api.md#responses). Fields that change what a correct answer
 * is and that the gateway cannot honour (server-side tools, background mode,
 * stored prompts, conversations) are refused with a 400 naming the field;
 * hint-only fields (`include`, `truncation`, `prompt_cache_key`, reasoning
 * items, `reasoning.summary` …) are ignored and named in x-sipp-ignored.
 */
import { z } from 'zod';
import { InvalidFieldError } from '../../errors.js';
import type { ParsedRequest } from '../surface.js';
import type { IgnorableField } from '../../targets/ignored.js';
import type { GenerationOptions, ToolChoice, ToolDefinition } from '../../targets/target.js';
import { failOn } from '../fields.js';
import { itemId, parseInput, toMessages, type Conversation, type StoredItem } from './items.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const ResponsesSchema = z.looseObject({
  model: z.string().min(1),
  input: z.unknown().optional(),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_output_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  previous_response_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be a response id (letters, digits, _ and -)')
    .nullish(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  prompt_cache_retention: z.string().nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  include: z.array(z.string()).nullish(),
  reasoning: z
    .looseObject({
      effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  text: z
    .looseObject({
      format: z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema']) }).nullish(),
      verbosity: z.enum(['low', 'medium', 'high']).nullish(),
    })
    .nullish(),
  service_tier: z.string().nullish(),
  stream_options: z.looseObject({}).nullish(),
  top_logprobs: z.number().int().min(0).nullish(),
  background: z.boolean().nullish(),
  max_tool_calls: z.number().int().nullish(),
});

/** Top-level fields read here (schema, tools); any other non-null field is refused by name. */
const KNOWN = new Set([
  ...Object.keys(ResponsesSchema.shape),
  'tools',
  'tool_choice',
  'client_metadata',
  'context_management',
  'prompt',
  'conversation',
]);

/**
 * Tools that run on the provider's side (docs/api.md#server-side-tools): only a
 * native Responses target runs them. Translated, they are ignored and named
 * unless the client requires a tool call (`tool_choice: "required"` with no
 * function tool to call), then refused.
 */
const SERVER_TOOLS: ReadonlyArray<[RegExp, IgnorableField]> = [
  [/^web_search.*$/, 'web_search'],
  [/^file_search$/, 'file_search'],
  [/^code_interpreter$/, 'code_interpreter'],
  [/^computer_use.*$/, 'computer_use'],
  [/^image_generation$/, 'image_generation'],
  [/^mcp$/, 'mcp'],
  [/^namespace$/, 'namespace'],
];
const serverTool = (type: unknown): IgnorableField | undefined =>
  typeof type === 'string' ? SERVER_TOOLS.find(([re]) => re.test(type))?.[1] : undefined;

/** Built-in tools the client runs, whose calls come back as items of their own: no translation can produce them. */
const CLIENT_BUILTIN_TOOLS = /^(local_shell|shell|apply_patch)$/;

/** The one parameter a custom (freeform) tool's function gets. */
const CUSTOM_PARAMETERS = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The tool input, as free text.' } },
  required: ['input'],
  additionalProperties: false,
};

/** What the Response object echoes of the request (OpenAI's own defaults where unset). */
export interface ResponseEcho {
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  prompt_cache_key: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number;
  text: { format: Json; verbosity: string };
  tool_choice: unknown;
  tools: Json[];
  top_p: number;
  truncation: string;
  user: string | null;
  safety_identifier: string | null;
}

export interface ResponsesRequest extends ParsedRequest {
  /** The id this response gets (known before the target answers, for the stream's first event). */
  id: string;
  createdAt: number;
  echo: ResponseEcho;
  /** This request's own input items, normalized (what input_items lists after the chain's items). */
  input: StoredItem[];
  /** For each input item, its index in the client's `input`. */
  inputAt: number[];
  /** Items of the chain before this input (filled from `previous_response_id`). */
  history: StoredItem[];
  /** For each internal message, the request field it came from (`input.2`, `instructions`, `previous_response_id`). */
  fields: string[];
  /** Hash of the caller identity that owns stored responses (set once the caller is known). */
  owner: string | null;
  /** Names of `custom` (freeform) tools: their calls come back as custom_tool_call items. */
  customTools: ReadonlySet<string>;
}

function customTool(t: Json, f: string): { def: ToolDefinition; echo: Json } {
  if (typeof t.name !== 'string' || !t.name) throw new InvalidFieldError(`${f}.name`, 'expected string');
  if (t.description != null && typeof t.description !== 'string')
    throw new InvalidFieldError(`${f}.description`, 'expected string');
  const format = t.format ?? { type: 'text' };
  if (!isObject(format) || (format.type !== 'text' && format.type !== 'grammar')) {
    throw new InvalidFieldError(`${f}.format`, 'must be {"type":"text"} or {"type":"grammar",...}');
  }
  let description = typeof t.description === 'string' ? t.description : '';
  if (format.type === 'grammar') {
    if (typeof format.definition !== 'string') throw new InvalidFieldError(`${f}.format.definition`, 'expected string');
    // The grammar cannot constrain a translated call; the model reads it instead.
    description += `${description ? '\n\n' : ''}The input must follow this ${typeof format.syntax === 'string' ? format.syntax : ''} grammar:\n${format.definition}`;
  }
  const def: ToolDefinition = { name: t.name, parameters: CUSTOM_PARAMETERS };
  if (description) def.description = description;
  return { def, echo: { type: 'custom', name: t.name, description: t.description ?? null, format } };
}

interface ParsedTools {
  tools: ToolDefinition[];
  echo: Json[];
  custom: Set<string>;
  /** Server-side tools left out, and the field of the first one. */
  server: Set<IgnorableField>;
  serverField: string | null;
}

function parseTools(raw: unknown): ParsedTools {
  if (!Array.isArray(raw)) throw new InvalidFieldError('tools', 'expected array');
  const tools: ToolDefinition[] = [];
  const echo: Json[] = [];
  const custom = new Set<string>();
  const server = new Set<IgnorableField>();
  let serverField: string | null = null;
  raw.forEach((t, i) => {
    const f = `tools.${i}`;
    if (!isObject(t)) throw new InvalidFieldError(f, 'expected object');
    if (t.type === 'custom') {
      const c = customTool(t, f);
      tools.push(c.def);
      echo.push(c.echo);
      custom.add(c.def.name);
      return;
    }
    const st = serverTool(t.type);
    if (st) {
      server.add(st);
      serverField ??= f;
      return;
    }
    if (t.type !== 'function') {
      if (typeof t.type === 'string' && CLIENT_BUILTIN_TOOLS.test(t.type)) {
        throw new InvalidFieldError(f, `"${t.type}" tools need a native Responses target (api = "responses")`);
      }
      throw new InvalidFieldError(`${f}.type`, `tool type ${JSON.stringify(t.type)} is not supported`);
    }
    if (typeof t.name !== 'string' || !t.name) throw new InvalidFieldError(`${f}.name`, 'expected string');
    const def: ToolDefinition = { name: t.name };
    if (t.description != null) {
      if (typeof t.description !== 'string') throw new InvalidFieldError(`${f}.description`, 'expected string');
      def.description = t.description;
    }
    if (t.parameters != null) {
      if (!isObject(t.parameters)) throw new InvalidFieldError(`${f}.parameters`, 'expected object');
      def.parameters = t.parameters;
    }
    if (t.strict != null) {
      if (typeof t.strict !== 'boolean') throw new InvalidFieldError(`${f}.strict`, 'expected boolean');
      def.strict = t.strict;
    }
    tools.push(def);
    echo.push({
      type: 'function',
      name: def.name,
      description: def.description ?? null,
      parameters: def.parameters ?? null,
      strict: def.strict ?? true,
    });
  });
  return { tools, echo, custom, server, serverField };
}

function parseToolChoice(raw: unknown, names: ReadonlySet<string>): ToolChoice {
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { type: raw };
  if (isObject(raw) && (raw.type === 'function' || raw.type === 'custom') && typeof raw.name === 'string') {
    if (!names.has(raw.name))
      throw new InvalidFieldError('tool_choice.name', `no ${raw.type} tool named ${JSON.stringify(raw.name)} in tools`);
    return { type: 'tool', name: raw.name };
  }
  if (isObject(raw) && typeof raw.type === 'string' && raw.type !== 'function') {
    throw new InvalidFieldError(
      'tool_choice.type',
      `tool_choice type ${JSON.stringify(raw.type)} is not supported by the gateway`,
    );
  }
  throw new InvalidFieldError('tool_choice', 'must be "auto", "none", "required" or {"type":"function","name":...}');
}

/** `text.format` → the internal (Chat Completions) `response_format`. */
function responseFormat(format: Json): Record<string, unknown> | undefined {
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type !== 'json_schema') return undefined;
  if (typeof format.name !== 'string' || !format.name) throw new InvalidFieldError('text.format.name', 'expected string');
  if (!isObject(format.schema)) throw new InvalidFieldError('text.format.schema', 'expected object');
  const js: Json = { name: format.name, schema: format.schema };
  if (typeof format.description === 'string') js.description = format.description;
  if (typeof format.strict === 'boolean') js.strict = format.strict;
  return { type: 'json_schema', json_schema: js };
}

/** Refused on every non-native target: the answer would not be what the client asked for. */
function refuseUnsupported(body: Json): void {
  if (body.background === true)
    throw new InvalidFieldError('background', 'background responses are not supported by the gateway');
  if (body.prompt != null)
    throw new InvalidFieldError('prompt', 'stored prompts are not supported by the gateway; send instructions and input');
  if (body.conversation != null)
    throw new InvalidFieldError('conversation', 'conversations are not supported by the gateway; use previous_response_id');
  if (typeof body.top_logprobs === 'number' && body.top_logprobs > 0) {
    throw new InvalidFieldError('top_logprobs', 'logprobs are not supported by the gateway');
  }
  if (body.max_tool_calls != null)
    throw new InvalidFieldError('max_tool_calls', 'limits built-in tool calls, which the gateway does not run');
  for (const [k, v] of Object.entries(body)) {
    if (!KNOWN.has(k) && v !== null && v !== undefined) throw new InvalidFieldError(k, 'unknown field');
  }
}

const EFFORT: Record<string, 'minimal' | 'low' | 'medium' | 'high' | undefined> = {
  none: undefined,
  minimal: 'minimal',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
};

export function parseResponsesRequest(body: Json, now: number = Date.now()): ResponsesRequest {
  const r = ResponsesSchema.safeParse(body);
  if (!r.success) failOn(r.error, 'dots');
  const b = r.data;
  refuseUnsupported(body);
  if (b.input === undefined || b.input === null) throw new InvalidFieldError('input', 'required');
  const input = parseInput(b.input);

  const ignored: IgnorableField[] = [];
  const options: GenerationOptions = {};
  if (b.max_output_tokens != null) options.maxTokens = b.max_output_tokens;
  if (b.temperature != null) options.temperature = b.temperature;
  if (b.top_p != null) options.topP = b.top_p;
  const user = b.user ?? b.safety_identifier;
  if (user != null) options.user = user;
  let echoTools: Json[] = [];
  let customTools = new Set<string>();
  if (body.tools != null) {
    const t = parseTools(body.tools);
    if (t.tools.length) options.tools = t.tools;
    echoTools = t.echo;
    customTools = t.custom;
    if (t.serverField !== null) {
      // A required tool call with only server-side tools to call would change the answer: refused, not ignored.
      if (body.tool_choice === 'required' && t.tools.length === 0) {
        throw new InvalidFieldError(
          t.serverField,
          'a server-side tool runs only on a native Responses target (api = "responses")',
        );
      }
      ignored.push(...t.server);
    }
  }
  if (body.tool_choice != null)
    options.toolChoice = parseToolChoice(body.tool_choice, new Set(options.tools?.map((t) => t.name)));
  if (b.parallel_tool_calls != null) options.parallelToolCalls = b.parallel_tool_calls;
  const format = b.text?.format;
  if (format) {
    const rf = responseFormat(format);
    if (rf) options.responseFormat = rf;
  }
  const effort = b.reasoning?.effort ? EFFORT[b.reasoning.effort] : undefined;
  if (effort) options.reasoning = { effort };
  // Hints with no equivalent off OpenAI's own Responses API (docs/api.md#ignored-fields).
  if (b.reasoning?.summary != null || b.reasoning?.generate_summary != null || input.reasoning) ignored.push('reasoning');
  if (b.include?.length) ignored.push('include');
  if (b.truncation === 'auto') ignored.push('truncation');
  if (b.prompt_cache_key != null) ignored.push('prompt_cache_key');
  if (b.prompt_cache_retention != null) ignored.push('prompt_cache_retention');
  if (b.service_tier != null && b.service_tier !== 'auto' && b.service_tier !== 'default') ignored.push('service_tier');
  if (b.text?.verbosity != null && b.text.verbosity !== 'medium') ignored.push('verbosity');
  if (body.client_metadata != null) ignored.push('client_metadata');
  if (body.context_management != null) ignored.push('context_management');

  const req: ResponsesRequest = {
    model: b.model,
    stream: b.stream === true,
    call: { operation: 'chat', text: { operation: 'chat', messages: [], options } },
    ignored,
    id: itemId('resp'),
    createdAt: Math.floor(now / 1000),
    echo: {
      instructions: b.instructions ?? null,
      max_output_tokens: b.max_output_tokens ?? null,
      metadata: b.metadata ?? {},
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null,
      prompt_cache_key: b.prompt_cache_key ?? null,
      reasoning: { effort: b.reasoning?.effort ?? null, summary: b.reasoning?.summary ?? null },
      store: b.store ?? true,
      temperature: b.temperature ?? 1,
      text: { format: format ?? { type: 'text' }, verbosity: b.text?.verbosity ?? 'medium' },
      tool_choice: body.tool_choice ?? 'auto',
      tools: echoTools,
      top_p: b.top_p ?? 1,
      truncation: b.truncation ?? 'disabled',
      user: b.user ?? null,
      safety_identifier: b.safety_identifier ?? null,
    },
    input: input.items,
    inputAt: input.at,
    history: [],
    fields: [],
    owner: null,
    customTools,
  };
  buildConversation(req);
  return req;
}

/**
 * The internal messages: `instructions` (as a system message; a previous
 * response's instructions do not carry over, as on OpenAI), the chain's items,
 * then this input. Records which request field each message came from.
 */
export function buildConversation(req: ResponsesRequest): void {
  const conv: Conversation = { messages: [], fields: [] };
  if (req.echo.instructions) {
    conv.messages.push({ role: 'system', content: req.echo.instructions });
    conv.fields.push('instructions');
  }
  toMessages(req.history, () => 'previous_response_id', conv);
  toMessages(req.input, (i) => `input.${req.inputAt[i]}`, conv);
  const pending = req.echo.previous_response_id !== null && req.history.length === 0;
  if (!pending && !conv.messages.some((m) => m.role !== 'system'))
    throw new InvalidFieldError('input', 'must hold at least one message or function call output');
  if (req.call.operation === 'chat')
    req.call.text = { operation: 'chat', messages: conv.messages, options: req.call.text.options };
  req.fields = conv.fields;
}
