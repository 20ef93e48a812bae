/**
 * The nesting bound of request bodies (`max_json_depth`, docs/configuration.md#top-level-keys):
 * a body nested deeper than the limit is refused at the edge with 400
 * `invalid_request` naming the field, before anything (validation, translation,
 * serialization of the upstream request) walks it recursively. JSON.parse
 * itself does not recurse, so the walk here is iterative too.
 */
import { InvalidFieldError } from './field-error.js';

/** Path steps named in the error: enough to name the field (`tools[0].function.parameters.properties.a.properties`). */
const SHOWN_STEPS = 6;

/** Throws InvalidFieldError when `body` (level 1) holds an object or array deeper than `maxDepth`. */
export function checkJsonDepth(body: object, maxDepth: number): void {
  // Two flat stacks, nothing allocated per value (agents send bodies of many messages, walked
  // once per request); the field's path is only worked out when the limit is crossed.
  const values: object[] = [body];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop()!;
    const depth = depths.pop()! + 1;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const child: unknown = value[i];
        if (child === null || typeof child !== 'object') continue;
        if (depth > maxDepth) throw tooDeep(body, maxDepth);
        values.push(child);
        depths.push(depth);
      }
    } else {
      // for…in, not Object.keys: no key array per object. A JSON.parse object's prototype is
      // Object.prototype, with nothing enumerable; the hasOwn check keeps it to own members anyway.
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const child: unknown = (value as Record<string, unknown>)[key];
        if (child === null || typeof child !== 'object') continue;
        if (depth > maxDepth) throw tooDeep(body, maxDepth);
        values.push(child);
        depths.push(depth);
      }
    }
  }
}

interface Node {
  value: object;
  depth: number;
  parent: Node | null;
  key: string | number | null;
}

/** The error for the first value found deeper than `maxDepth` (the check above found one), naming its field. */
function tooDeep(body: object, maxDepth: number): InvalidFieldError {
  const stack: Node[] = [{ value: body, depth: 1, parent: null, key: null }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const value = node.value as Record<string, unknown>;
    const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
    for (const key of keys) {
      const child = value[key];
      if (child === null || typeof child !== 'object') continue;
      const next: Node = { value: child, depth: node.depth + 1, parent: node, key };
      if (next.depth > maxDepth) return fieldError(next, maxDepth);
      stack.push(next);
    }
  }
  throw new Error('checkJsonDepth: no value deeper than the limit');
}

function fieldError(node: Node, maxDepth: number): InvalidFieldError {
  const steps: Array<string | number> = [];
  for (let n: Node | null = node; n && n.key !== null; n = n.parent) steps.push(n.key);
  steps.reverse();
  let path = '';
  for (const s of steps.slice(0, SHOWN_STEPS)) {
    path += typeof s === 'number' ? `[${s}]` : `${path === '' ? '' : '.'}${s.length > 64 ? `${s.slice(0, 64)}…` : s}`;
  }
  return new InvalidFieldError(path, `nested deeper than ${maxDepth} levels (max_json_depth)`);
}
