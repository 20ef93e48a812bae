/**
 * A provider's own error answer on a pass-through path (docs/api.md#pass-through):
 * the client gets the provider's status (400 stays 400, 429 stays 429 with its
 * Retry-After, Anthropic's 529 stays 529) and the provider's error document,
 * rebuilt from its `type` / `message` (and OpenAI's `param` / `code`) only, with
 * the target's credential scrubbed from the text. The gateway code (`upstream`
 * or `upstream_rate_limited`) still drives routing, records and metrics.
 */

import { isObject } from '../util/json.js';

export { ProviderError } from '../errors.js';

const MAX_TEXT = 2000;
const TYPE_SHAPE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A provider string, bounded and with every secret replaced. */
function clean(value: unknown, secrets: readonly string[]): string | undefined {
  if (typeof value !== 'string') return undefined;
  let text = value.slice(0, MAX_TEXT);
  for (const s of secrets) if (s.length >= 4) text = text.split(s).join('[redacted]');
  return text;
}

function shaped(value: unknown): string | undefined {
  return typeof value === 'string' && TYPE_SHAPE.test(value) ? value : undefined;
}

/**
 * The provider's error document in its own API's shape, or null when its body
 * was not one (then the gateway's own error is sent, with the provider's status).
 */
export function providerErrorBody(api: 'anthropic' | 'openai', text: string, secrets: readonly string[]): unknown {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(json) || !isObject(json.error)) return null;
  const e = json.error;
  const message = clean(e.message, secrets);
  if (message === undefined) return null;
  if (api === 'anthropic') {
    const type = shaped(e.type);
    if (!type) return null;
    return { type: 'error', error: { type, message } };
  }
  const code = typeof e.code === 'string' ? clean(e.code, secrets) : typeof e.code === 'number' ? e.code : null;
  return { error: { message, type: shaped(e.type) ?? null, param: clean(e.param, secrets) ?? null, code: code ?? null } };
}
