/**
 * The admin API's answer to a body that fails its schema: a 400
 * `invalid_request` whose message is `field: problem` in words
 * (docs/keys.md#admin-api, docs/budgets.md#caller-budgets) — `caller: required`,
 * `rpm: must be an integer`, never zod's default text.
 */
import type { z } from 'zod';
import { AdminError } from './errors.js';

const TYPE_WORDS: Record<string, string> = {
  string: 'must be a string',
  number: 'must be a number',
  int: 'must be an integer',
  boolean: 'must be true or false',
  array: 'must be an array',
  object: 'must be an object',
  record: 'must be an object',
};

/** The value at `path` in `body`, or undefined when any step is missing. */
function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v = body;
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[step];
  }
  return v;
}

/** Words for one zod issue (without the field). */
export function issueWords(issue: z.core.$ZodIssue, body: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.path.length === 0) return 'must be a JSON object';
      if (valueAt(body, issue.path) === undefined) return 'required';
      // A message the schema chose (e.g. 'must be an integer') wins over the generic words.
      if (!issue.message.startsWith('Invalid input')) return issue.message;
      return TYPE_WORDS[issue.expected] ?? `must be of type ${issue.expected}`;
    }
    case 'invalid_value':
      if (valueAt(body, issue.path) === undefined) return 'required';
      return issue.message.startsWith('Invalid') ? `must be one of ${issue.values.map(String).join(', ')}` : issue.message;
    case 'unrecognized_keys':
      return `unknown field(s): ${issue.keys.join(', ')}`;
    default:
      return issue.message;
  }
}

/** `field: problem` from the first issue, as the 400 the admin API answers. */
export function fieldError(error: z.ZodError, body: unknown): AdminError {
  const issue = error.issues[0];
  if (!issue) return new AdminError('invalid_request', 'body: invalid');
  const field = issue.path.length ? issue.path.map(String).join('.') : 'body';
  return new AdminError('invalid_request', `${field}: ${issueWords(issue, body)}`);
}
