/**
 * Function tools on local targets (docs/local-models.md#tools): the request's
 * tools become node-llama-cpp chat functions whose JSON Schema parameters are
 * translated into the subset node-llama-cpp turns into a grammar, and a
 * conversation with tool calls and tool results becomes the chat history the
 * model's chat wrapper renders in its own function-calling syntax.
 */
import type {
  ChatHistoryItem,
  ChatModelFunctionCall,
  ChatModelFunctions,
  ChatModelResponse,
  GbnfJsonSchema,
} from 'node-llama-cpp';
import { GatewayError } from '../../errors.js';
import { requireText } from '../content.js';
import type { Message, ToolDefinition } from '../target.js';

type Json = Record<string, unknown>;

/** Any JSON value (node-llama-cpp reads a schema it does not recognise as `null`). */
const ANY: GbnfJsonSchema = {
  oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'array' }, { type: 'object', additionalProperties: true }],
};

/**
 * Objects with at most this many optional properties get one grammar
 * alternative per subset of them (2^n), so the model may leave any of them
 * out; with more, it either gives all of them or only the required ones.
 */
const MAX_OPTIONAL_SUBSETS = 3;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLiteral = (v: unknown): v is string | number | boolean | null =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const STRING_FORMATS = new Set(['date-time', 'time', 'date']);

/**
 * Translates a JSON Schema into node-llama-cpp's grammar schema. Kept: types,
 * `properties` / `required`, `additionalProperties` when given, `items` /
 * `prefixItems`, `enum`, `const`, `anyOf` / `oneOf`, `$ref` into `$defs` /
 * `definitions`, string lengths and date formats, item counts, descriptions.
 * Not enforced (read by the model only through the rendered signature):
 * numeric ranges, `pattern`, other formats; `allOf` with more than one entry
 * and references elsewhere allow any JSON value there.
 */
export function toGrammarSchema(schema: unknown): GbnfJsonSchema {
  const defs = isObject(schema) ? { ...asDefs(schema.definitions), ...asDefs(schema.$defs) } : {};
  const root = convert(schema, 0);
  if (Object.keys(defs).length === 0 || !isObject(root)) return root;
  const $defs: Record<string, GbnfJsonSchema> = {};
  for (const [name, def] of Object.entries(defs)) $defs[name] = convert(def, 1);
  // $defs are read from the scope of a oneOf, object or array schema.
  return isObject(root) && ('properties' in root || 'items' in root || 'oneOf' in root)
    ? ({ ...root, $defs } as GbnfJsonSchema)
    : ({ oneOf: [root], $defs } as GbnfJsonSchema);
}

function asDefs(v: unknown): Json {
  return isObject(v) ? v : {};
}

function describe<T extends GbnfJsonSchema>(out: T, s: Json): T {
  return typeof s.description === 'string' ? ({ ...out, description: s.description } as T) : out;
}

function convert(s: unknown, depth: number): GbnfJsonSchema {
  if (depth > 64 || !isObject(s)) return ANY;
  if (typeof s.$ref === 'string') {
    const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(s.$ref);
    return m ? describe({ $ref: `#/$defs/${m[1]}` } as GbnfJsonSchema, s) : ANY;
  }
  let out = convertInner(s, depth);
  if (s.nullable === true) out = { oneOf: [out, { type: 'null' }] };
  return out;
}

function convertInner(s: Json, depth: number): GbnfJsonSchema {
  if ('const' in s) return isLiteral(s.const) ? describe({ const: s.const }, s) : ANY;
  if (Array.isArray(s.enum)) return s.enum.every(isLiteral) && s.enum.length > 0 ? describe({ enum: s.enum }, s) : ANY;
  const alternatives = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
  if (alternatives) return alternatives.length > 0 ? describe({ oneOf: alternatives.map((a) => convert(a, depth + 1)) }, s) : ANY;
  if (Array.isArray(s.allOf)) return s.allOf.length === 1 ? convert(s.allOf[0], depth + 1) : ANY;

  const types = Array.isArray(s.type) ? s.type : typeof s.type === 'string' ? [s.type] : [];
  if (types.length === 0) {
    if (isObject(s.properties)) return convertObject(s, depth);
    if ('items' in s || 'prefixItems' in s) return convertArray(s, depth);
    return ANY;
  }
  if (types.length > 1) {
    if (types.every((t) => typeof t === 'string' && SCALAR_TYPES.has(t))) {
      return describe({ type: types as Array<'string' | 'number' | 'integer' | 'boolean' | 'null'> }, s);
    }
    return describe({ oneOf: types.map((t) => convertInner({ ...s, type: t }, depth + 1)) }, s);
  }
  switch (types[0]) {
    case 'object':
      return convertObject(s, depth);
    case 'array':
      return convertArray(s, depth);
    case 'string': {
      if (typeof s.format === 'string' && STRING_FORMATS.has(s.format)) {
        return describe({ type: 'string', format: s.format as 'date-time' | 'time' | 'date' }, s);
      }
      const out: { type: 'string'; minLength?: number; maxLength?: number } = { type: 'string' };
      if (typeof s.minLength === 'number') out.minLength = s.minLength;
      if (typeof s.maxLength === 'number') out.maxLength = s.maxLength;
      return describe(out, s);
    }
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return describe({ type: types[0] }, s);
    default:
      return ANY;
  }
}

function convertObject(s: Json, depth: number): GbnfJsonSchema {
  const props = isObject(s.properties) ? s.properties : {};
  const names = Object.keys(props);
  const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []);
  const converted: Record<string, GbnfJsonSchema> = {};
  for (const name of names) converted[name] = convert(props[name], depth + 1);
  const additional =
    s.additionalProperties === true
      ? true
      : isObject(s.additionalProperties)
        ? convert(s.additionalProperties, depth + 1)
        : undefined;

  const variant = (keep: (name: string) => boolean): GbnfJsonSchema => {
    const properties: Record<string, GbnfJsonSchema> = {};
    for (const name of names) if (keep(name)) properties[name] = converted[name]!;
    return additional === undefined
      ? { type: 'object', properties }
      : { type: 'object', properties, additionalProperties: additional };
  };
  const optional = names.filter((n) => !required.has(n));
  if (optional.length === 0)
    return describe(
      variant(() => true),
      s,
    );
  // node-llama-cpp writes every listed property: alternatives let the model leave optional ones out.
  const variants: GbnfJsonSchema[] = [];
  if (optional.length <= MAX_OPTIONAL_SUBSETS) {
    for (let mask = 0; mask < 1 << optional.length; mask++) {
      const chosen = new Set(optional.filter((_, i) => (mask & (1 << i)) !== 0));
      variants.push(variant((n) => required.has(n) || chosen.has(n)));
    }
  } else {
    variants.push(
      variant((n) => required.has(n)),
      variant(() => true),
    );
  }
  return describe({ oneOf: variants }, s);
}

function convertArray(s: Json, depth: number): GbnfJsonSchema {
  const out: { type: 'array'; items?: GbnfJsonSchema; prefixItems?: GbnfJsonSchema[]; minItems?: number; maxItems?: number } = {
    type: 'array',
  };
  if (Array.isArray(s.items)) out.prefixItems = s.items.map((i) => convert(i, depth + 1));
  else if (s.items !== undefined) out.items = convert(s.items, depth + 1);
  if (Array.isArray(s.prefixItems)) out.prefixItems = s.prefixItems.map((i) => convert(i, depth + 1));
  if (typeof s.minItems === 'number') out.minItems = s.minItems;
  if (typeof s.maxItems === 'number') out.maxItems = s.maxItems;
  return describe(out, s);
}

/** The request's tools as node-llama-cpp chat functions (a tool without parameters takes none). */
export function toChatFunctions(tools: readonly ToolDefinition[]): ChatModelFunctions {
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const tool of tools) {
    functions[tool.name] = {
      ...(tool.description ? { description: tool.description } : {}),
      ...(tool.parameters !== undefined ? { params: toGrammarSchema(tool.parameters) } : {}),
    };
  }
  return functions;
}

/** A tool result as the wrapper renders it: JSON when the text is a JSON object or array, else the text. */
function resultValue(text: string, isError: boolean | undefined): unknown {
  let value: unknown = text;
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      value = JSON.parse(trimmed);
    } catch {
      // plain text that happens to start with a bracket
    }
  }
  return isError ? { error: value } : value;
}

function callParams(args: string, index: number, k: number): unknown {
  if (args.trim() === '') return undefined;
  try {
    return JSON.parse(args);
  } catch {
    throw new GatewayError('invalid_request', `messages.${index}.tool_calls.${k}.arguments: not valid JSON`);
  }
}

/**
 * The conversation as node-llama-cpp chat history. An assistant turn's tool
 * calls carry the results of the tool messages that answer them, and an
 * assistant message after those results continues the same model response
 * (that is how chat wrappers render a call, its result and the answer after
 * it). When the conversation ends with tool results, the last history item is
 * that model response, which generation continues; otherwise an empty model
 * response is appended.
 */
export function toChatHistory(messages: readonly Message[]): { history: ChatHistoryItem[]; continuesToolTurn: boolean } {
  const history: ChatHistoryItem[] = [];
  /** Calls of the open model response waiting for results, by id. */
  type ModelItem = { type: 'model'; response: ChatModelResponse['response'] };
  let open: { item: ModelItem; calls: Map<string, ChatModelFunctionCall> } | null = null;
  let afterResults = false;
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      const call = open?.calls.get(m.toolCallId);
      if (!call) {
        throw new GatewayError('invalid_request', `messages.${i}: tool result for an unknown tool call id "${m.toolCallId}"`);
      }
      call.result = resultValue(requireText(m.content, i, 'local'), m.isError);
      afterResults = true;
      return;
    }
    const text = requireText(m.content, i, 'local');
    if (m.role !== 'assistant') {
      open = null;
      afterResults = false;
      history.push(m.role === 'system' ? { type: 'system', text } : { type: 'user', text });
      return;
    }
    const continuing: typeof open = afterResults ? open : null;
    const item = continuing?.item ?? { type: 'model' as const, response: [] };
    if (!continuing) history.push(item);
    if (text) item.response.push(text);
    const calls = new Map<string, ChatModelFunctionCall>();
    (m.toolCalls ?? []).forEach((tc, k) => {
      const call: ChatModelFunctionCall = {
        type: 'functionCall',
        name: tc.name,
        params: callParams(tc.arguments, i, k),
        result: undefined,
        // One assistant turn's calls form one (parallel) call section.
        ...(k === 0 ? { startsNewChunk: true } : {}),
      };
      item.response.push(call);
      calls.set(tc.id, call);
    });
    open = { item, calls };
    afterResults = false;
  });
  const continuesToolTurn = afterResults;
  if (!continuesToolTurn) history.push({ type: 'model', response: [] });
  return { history, continuesToolTurn };
}
