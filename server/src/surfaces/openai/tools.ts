/** OpenAI `tools` / `tool_choice` → internal tool definitions and choice. */

import type { ToolChoice, ToolDefinition } from '../../targets/target.js';
import { InvalidFieldError } from '../../errors.js';
import { isObject } from '../../util/json.js';

export function parseTools(raw: unknown): ToolDefinition[] {
  if (!Array.isArray(raw)) throw new InvalidFieldError('tools', 'expected array');
  return raw.map((t, i) => {
    const f = `tools.${i}`;
    if (!isObject(t) || t.type !== 'function' || !isObject(t.function)) {
      throw new InvalidFieldError(f, 'expected {"type":"function","function":{...}}');
    }
    const fn = t.function;
    if (typeof fn.name !== 'string' || !fn.name) throw new InvalidFieldError(`${f}.function.name`, 'expected string');
    const def: ToolDefinition = { name: fn.name };
    if (typeof fn.description === 'string') def.description = fn.description;
    if (fn.parameters != null) {
      if (!isObject(fn.parameters)) throw new InvalidFieldError(`${f}.function.parameters`, 'expected object');
      def.parameters = fn.parameters;
    }
    return def;
  });
}

export function parseToolChoice(raw: unknown): ToolChoice {
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { type: raw };
  if (isObject(raw) && raw.type === 'function' && isObject(raw.function) && typeof raw.function.name === 'string') {
    return { type: 'tool', name: raw.function.name };
  }
  throw new InvalidFieldError('tool_choice', 'must be "auto", "none", "required" or {"type":"function","function":{"name":...}}');
}
