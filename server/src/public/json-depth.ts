/**
 * The nesting bound of request bodies (`max_json_depth`, docs/configuration.md#top-level-keys):
 * a body nested deeper than the limit is refused at the edge with 400
 * `invalid_request` naming the field, before anything (validation, translation,
 * serialization of the upstream request) walks it recursively. JSON.parse
 * itself does not recurse, so the walk here is iterative too.
 */
import { InvalidFieldError } from './field-error.js';

interface Node {
  value: object;
  depth: number;
  parent: Node | null;
  key: string | number | null;
}

/** Path steps named in the error: enough to name the field (`tools[0].function.parameters.properties.a.properties`). */
const SHOWN_STEPS = 6;

/** Throws InvalidFieldError when `body` (level 1) holds an object or array deeper than `maxDepth`. */
export function checkJsonDepth(body: object, maxDepth: number): void {
  const stack: Node[] = [{ value: body, depth: 1, parent: null, key: null }];
  // No per-node key/value arrays: agents send bodies of many messages, walked once per request.
  const visit = (node: Node, key: string | number, child: unknown): void => {
    if (child === null || typeof child !== 'object') return;
    const next: Node = { value: child, depth: node.depth + 1, parent: node, key };
    if (next.depth > maxDepth) throw tooDeep(next, maxDepth);
    stack.push(next);
  };
  while (stack.length > 0) {
    const node = stack.pop()!;
    const value = node.value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(node, i, value[i]);
    } else {
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) visit(node, keys[i]!, (value as Record<string, unknown>)[keys[i]!]);
    }
  }
}

function tooDeep(node: Node, maxDepth: number): InvalidFieldError {
  const steps: Array<string | number> = [];
  for (let n: Node | null = node; n && n.key !== null; n = n.parent) steps.push(n.key);
  steps.reverse();
  let path = '';
  for (const s of steps.slice(0, SHOWN_STEPS)) {
    path += typeof s === 'number' ? `[${s}]` : `${path === '' ? '' : '.'}${s.length > 64 ? `${s.slice(0, 64)}…` : s}`;
  }
  return new InvalidFieldError(path, `nested deeper than ${maxDepth} levels (max_json_depth)`);
}
