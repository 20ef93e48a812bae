/**
 * Turns zod issues about the TOML document into one sentence about the user's
 * file: "missing required table [security] (it may be empty)",
 * "targets[0].timeout_seconds: expected a number, got a string (remove the quotes)",
 * "unknown key "burts" in security.rate_limit". Values from the file are never
 * echoed (a secret pasted into the TOML by mistake must not reach a log); only
 * their TOML type is named.
 */
import type { z } from 'zod';
import { ConfigSchema } from './schema.js';
import { fieldPath } from '../util/field-path.js';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** The TOML name of a value's type ("string", "table", "date", …). */
export function tomlTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'fractional number';
  if (typeof value === 'bigint') return 'integer';
  return typeof value;
}

const EXPECTED_NAMES: Record<string, string> = {
  object: 'table',
  int: 'whole number',
  number: 'number',
  string: 'string',
  boolean: 'boolean (true or false)',
  array: 'array',
};

function withArticle(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}

function plural(n: number | bigint, one: string, many: string): string {
  return `${n} ${Number(n) === 1 ? one : many}`;
}

/**
 * Parse-level error map: the message for an issue whose schema gave none.
 * Messages written in the schema (`'must be > 0'`) take precedence over it.
 */
export function friendlyDefaultMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `is required (${withArticle(expected)})`;
      const got = tomlTypeName(issue.input);
      const hint =
        got === 'string' && (issue.expected === 'number' || issue.expected === 'int')
          ? ' (remove the quotes)'
          : got === 'string' && issue.expected === 'boolean'
            ? ' (write true or false without quotes)'
            : '';
      return `expected ${withArticle(expected)}, got ${withArticle(got)}${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'string')
        return issue.minimum === 1
          ? 'must not be empty'
          : `must be at least ${plural(issue.minimum, 'character', 'characters')} long`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `must have at least ${plural(issue.minimum, 'entry', 'entries')}`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${plural(issue.maximum, 'character', 'characters')} long`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `must have at most ${plural(issue.maximum, 'entry', 'entries')}`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'regex' ? 'has an invalid format' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid entry';
    case 'invalid_union':
      return 'does not match any allowed form';
    default:
      return undefined;
  }
}

/** One sentence for the first issue of a failed parse of `doc`. */
export function describeConfigIssue(issue: Issue, doc: unknown): string {
  const path = issue.path;
  const where = fieldPath(path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return describeUnknownKeys(issue.keys, path);
    case 'invalid_type':
      if (issue.input === undefined) return describeMissing(issue.expected, path, doc);
      return `${where}: ${issue.message}`;
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if ((issue as { note?: string }).note === 'No matching discriminator' && options) {
        const typePath = path.at(-1) === 'type' ? path : [...path, 'type'];
        return `${fieldPath(typePath)}: must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    }
    default:
      return `${where}: ${issue.message}`;
  }
}

function describeUnknownKeys(keys: string[], path: ReadonlyArray<PropertyKey>): string {
  const list = keys.map((k) => `"${k}"`).join(', ');
  const noun = keys.length > 1 ? 'keys' : 'key';
  if (path.length === 0) return `unknown ${noun} ${list} at the top level`;
  const topLevel = keys.filter((k) => Object.hasOwn(ConfigSchema.shape, k));
  const hint = topLevel.length
    ? ` (${topLevel.map((k) => `"${k}"`).join(', ')} is a top-level key: in TOML every key after a [table] header belongs to that table, so write it above the first header)`
    : '';
  return `unknown ${noun} ${list} in ${fieldPath(path)}${hint}`;
}

function describeMissing(expected: string, path: ReadonlyArray<PropertyKey>, doc: unknown): string {
  const key = path.at(-1);
  const parent = path.slice(0, -1);
  const within = parent.length ? ` in ${fieldPath(parent)}` : '';
  if (expected === 'object') {
    const table = path.filter((p) => typeof p === 'string').join('.');
    const emptyOk = acceptedAt(doc, path, {}) ? ' (it may be empty)' : '';
    return `missing required table [${table}]${within}${emptyOk}`;
  }
  if (expected === 'array') {
    const table = path.filter((p) => typeof p === 'string').join('.');
    const atLeastOne = acceptedAt(doc, path, []) ? '' : ' (at least one is needed)';
    return `missing required [[${table}]] entries${within}${atLeastOne}`;
  }
  const name = EXPECTED_NAMES[expected] ?? expected;
  return `missing required key "${String(key)}"${within} (${withArticle(name)})`;
}

/** Whether putting `value` at `path` would leave no problem at or below `path`. */
function acceptedAt(doc: unknown, path: ReadonlyArray<PropertyKey>, value: unknown): boolean {
  const copy = structuredClone(doc) as Record<PropertyKey, unknown>;
  let node: Record<PropertyKey, unknown> = copy;
  for (const part of path.slice(0, -1)) {
    const next = node?.[part];
    if (typeof next !== 'object' || next === null) return false;
    node = next as Record<PropertyKey, unknown>;
  }
  node[path.at(-1)!] = value;
  const result = ConfigSchema.safeParse(copy);
  if (result.success) return true;
  return !result.error.issues.some((i) => path.every((p, n) => i.path[n] === p));
}
