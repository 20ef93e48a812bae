/**
 * Whether a target can honour a request as asked. The pipeline calls these
 * after resolving the target and before admission: a feature the target cannot
 * honour is a 400 naming the field, never silently dropped. Field names are
 * neutral (`stop`, `tools`, `messages.<i>.content.<j>`, ...); each API surface
 * maps them to its own (e.g. `stop` → `stop_sequences` on the Anthropic surface).
 */
import { IGNORABLE_FIELDS } from './ignored.js';
import type { EmbedRequest, GenerationOptions, Message, TargetCapabilities, TextRequest } from './target.js';

export interface CapabilityIssue {
  field: string;
  message: string;
}

interface TargetRef {
  name: string;
  type: string;
}

/**
 * OpenAI Chat Completions fields that ask for nothing at these values (the
 * API's defaults), so a target without `openaiExtras` honours them by doing
 * what it does anyway. SDKs and frameworks send several of them unasked.
 */
const HARMLESS_DEFAULTS: Readonly<Record<string, (value: unknown) => boolean>> = {
  n: (v) => v === 1,
  logprobs: (v) => v === false,
  top_logprobs: (v) => v === 0,
  frequency_penalty: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  store: (v) => v === false,
  logit_bias: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0,
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
  service_tier: (v) => v === 'auto' || v === 'default',
};

const IGNORABLE: ReadonlySet<string> = new Set(IGNORABLE_FIELDS);

const issue = (field: string, message: string): CapabilityIssue => ({ field, message });

/** Trims "1.0" style floats: limits print as the API documents them ("between 0 and 1"). */
const num = (n: number): string => String(n);

export function checkTextCapabilities(req: TextRequest, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  const o = req.options;
  return (
    checkSampling(o, caps, target) ??
    checkTools(o, caps, target) ??
    (req.operation === 'chat' ? checkMessages(req.messages, caps, target) : null) ??
    checkResponseFormat(o, caps, target) ??
    checkExtras(o, caps, target)
  );
}

export function checkEmbedCapabilities(req: EmbedRequest, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  if (req.dimensions !== undefined && !caps.embeddingDimensions) {
    return issue(
      'dimensions',
      `target "${target.name}" (${target.type}) does not support dimensions; leave it out to get the model's own size`,
    );
  }
  return null;
}

function checkSampling(o: GenerationOptions, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  const { min, max } = caps.temperature;
  if (o.temperature !== undefined && (o.temperature < min || o.temperature > max)) {
    return issue('temperature', `temperature must be between ${num(min)} and ${num(max)} for ${target.type} targets`);
  }
  if (o.topP !== undefined && (o.topP < 0 || o.topP > 1)) return issue('top_p', 'top_p must be between 0 and 1');
  if (o.stop !== undefined && caps.maxStop !== null && o.stop.length > caps.maxStop) {
    return issue('stop', `at most ${caps.maxStop} stop sequences on ${target.type} targets`);
  }
  if (o.seed !== undefined && !caps.seed) {
    return issue('seed', `${target.type} targets do not support seed; leave it out`);
  }
  return null;
}

function checkTools(o: GenerationOptions, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  // A tool_choice naming a missing tool is refused for every target before routing (request-checks.ts).
  if (caps.tools) return null;
  if (o.tools !== undefined && o.tools.length > 0)
    return issue('tools', `target "${target.name}" (${target.type}) does not support tools`);
  // tool_choice "none" asks for no tool use, which a target without tools honours.
  if (o.toolChoice !== undefined && o.toolChoice.type !== 'none') {
    return issue('tool_choice', `target "${target.name}" (${target.type}) does not support tools`);
  }
  return null;
}

function checkMessages(messages: readonly Message[], caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (!caps.tools && (m.role === 'tool' || (m.role === 'assistant' && m.toolCalls !== undefined && m.toolCalls.length > 0))) {
      return issue(
        `messages.${i}`,
        `target "${target.name}" (${target.type}) does not support tools (tool calls and tool results)`,
      );
    }
    if (typeof m.content === 'string') continue;
    for (let j = 0; j < m.content.length; j++) {
      if (m.content[j]!.type !== 'image') continue;
      if (!caps.images)
        return issue(`messages.${i}.content.${j}`, `target "${target.name}" (${target.type}) does not support images`);
      if (m.role === 'system' && !caps.systemImages) {
        return issue(`messages.${i}.content.${j}`, `${target.type} targets take text only in system messages`);
      }
    }
  }
  return null;
}

function checkResponseFormat(o: GenerationOptions, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  // {"type": "text"} is the default output format: every target produces it.
  if (o.responseFormat === undefined || caps.responseFormat || o.responseFormat.type === 'text') return null;
  return issue('response_format', `target "${target.name}" (${target.type}) does not support response_format`);
}

function checkExtras(o: GenerationOptions, caps: TargetCapabilities, target: TargetRef): CapabilityIssue | null {
  if (o.openaiExtras === undefined || caps.openaiExtras) return null;
  for (const [key, value] of Object.entries(o.openaiExtras)) {
    // null (or absent) asks for the API's default.
    if (value === null || value === undefined) continue;
    // Hint-only fields are ignored, not refused (target-call.ts names them; docs/api.md#ignored-fields).
    if (IGNORABLE.has(key)) continue;
    const harmless = Object.hasOwn(HARMLESS_DEFAULTS, key) ? HARMLESS_DEFAULTS[key]! : undefined;
    if (harmless?.(value)) continue;
    return issue(key, `target "${target.name}" (${target.type}) does not support ${key}${harmless ? ' at this value' : ''}`);
  }
  return null;
}
