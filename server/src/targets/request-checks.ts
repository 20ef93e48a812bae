/**
 * Checks of an internal request that need no target: mistakes any provider
 * would refuse, caught once for every surface before any attempt, as a 400
 * naming the field (docs/api.md#client-mistakes-the-gateway-refuses):
 *  - `tool_choice` naming a tool that is not in `tools` (or asking for a tool with none given);
 *  - a tool result answering no tool call of an earlier assistant message;
 *  - inline image data that is not base64, or whose media type is not an image;
 *  - an image URL that is not http(s), or that points at a private, loopback,
 *    link-local or metadata address (the provider, or a self-hosted server
 *    inside the operator's network, would fetch it) unless `allow_private_image_urls`.
 * Field names are neutral, as in capabilities.ts; each surface maps them.
 */
import { BlockList, isIP } from 'node:net';
import type { CapabilityIssue } from './capabilities.js';
import type { ContentPart, GenerationOptions, Message, TextRequest } from './target.js';

export interface RequestPolicy {
  /** `allow_private_image_urls`: let image URLs name private, loopback, link-local or metadata hosts. */
  allowPrivateImageUrls: boolean;
}

const issue = (field: string, message: string): CapabilityIssue => ({ field, message });

export function checkTextRequest(req: TextRequest, policy: RequestPolicy): CapabilityIssue | null {
  return checkToolChoice(req.options) ?? (req.operation === 'chat' ? checkMessages(req.messages, policy) : null);
}

function checkToolChoice(o: GenerationOptions): CapabilityIssue | null {
  const choice = o.toolChoice;
  if (choice === undefined || choice.type === 'auto' || choice.type === 'none') return null;
  const tools = o.tools ?? [];
  if (tools.length === 0)
    return issue(
      'tool_choice',
      `asks for ${choice.type === 'tool' ? `tool "${choice.name}"` : 'a tool call'} but no tools are given`,
    );
  if (choice.type === 'tool' && !tools.some((t) => t.name === choice.name)) {
    return issue('tool_choice.function.name', `names tool "${choice.name}", which is not in tools`);
  }
  return null;
}

function checkMessages(messages: readonly Message[], policy: RequestPolicy): CapabilityIssue | null {
  const called = new Set<string>();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) called.add(c.id);
    if (m.role === 'tool' && !called.has(m.toolCallId)) {
      return issue(`messages.${i}.tool_call_id`, `answers tool call "${m.toolCallId}", which no earlier assistant message made`);
    }
    if (typeof m.content === 'string') continue;
    for (let j = 0; j < m.content.length; j++) {
      const problem = imageProblem(m.content[j]!, policy);
      if (problem) return issue(`messages.${i}.content.${j}`, problem);
    }
  }
  return null;
}

/**
 * Image (and file) URLs anywhere in a body as the client sent it: the same URL
 * rules for the pass-through path (docs/api.md#pass-through), where the body
 * goes to the provider as sent even when the gateway's own parse of it failed.
 * Generic over the APIs: OpenAI `image_url` (`{url}` or a string, as
 * Responses `input_image` sends it), Responses `file_url`, and Anthropic
 * `source: {type: "url", url}` (images and documents). `data:` URLs are the
 * provider's to validate. The field is the body's own path (`messages.0.content.1.image_url.url`).
 * Subtrees that are data, not content the provider fetches, are not walked:
 * tool definitions and choices, schemas, metadata, and the arguments of a tool
 * call (`tool_use.input`), where an agent's own tool may well name a host on its network.
 */
export function checkRawImageUrls(body: unknown, policy: RequestPolicy): CapabilityIssue | null {
  // Iterative: the body's depth is bounded (max_json_depth) but the walk needs no stack either way.
  const stack: Array<[unknown, string]> = [[body, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const at = (k: string | number): string => (path ? `${path}.${k}` : String(k));
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], at(i)]);
      continue;
    }
    const o = v as Record<string, unknown>;
    const urls: Array<[unknown, string]> = [];
    const image = o.image_url;
    if (typeof image === 'string') urls.push([image, at('image_url')]);
    else if (typeof image === 'object' && image !== null && !Array.isArray(image))
      urls.push([(image as Record<string, unknown>).url, `${at('image_url')}.url`]);
    if (typeof o.file_url === 'string') urls.push([o.file_url, at('file_url')]);
    const source = o.source;
    if (typeof source === 'object' && source !== null && (source as Record<string, unknown>).type === 'url')
      urls.push([(source as Record<string, unknown>).url, `${at('source')}.url`]);
    for (const [url, field] of urls) {
      if (typeof url !== 'string' || /^data:/i.test(url)) continue;
      const problem = urlProblem(url, policy);
      if (problem) return issue(field, problem);
    }
    const call = typeof o.type === 'string' && TOOL_USE.test(o.type);
    for (const k of Object.keys(o)) if (!NOT_CONTENT.has(k) && !(call && k === 'input')) stack.push([o[k], at(k)]);
  }
  return null;
}

/** Keys whose values are settings or data, never content a provider fetches (see checkRawImageUrls). */
const NOT_CONTENT = new Set([
  'tools',
  'tool_choice',
  'metadata',
  'client_metadata',
  'response_format',
  'input_schema',
  'parameters',
  'schema',
  'context_management',
  'output_config',
]);
/** Anthropic blocks whose `input` is a tool's arguments. */
const TOOL_USE = /^(tool_use|server_tool_use|mcp_tool_use)$/;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function imageProblem(part: ContentPart, policy: RequestPolicy): string | null {
  if (part.type !== 'image') return null;
  const s = part.source;
  if (s.kind === 'base64') {
    if (!/^image\/[\w.+-]+$/i.test(s.mediaType)) return 'the image media type must be image/…';
    if (s.data.length === 0 || !BASE64.test(s.data)) return 'the image data is not valid base64';
    return null;
  }
  return urlProblem(s.url, policy);
}

function urlProblem(raw: string, policy: RequestPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'the image URL is not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the image URL must be http(s) (or inline base64 data)';
  if (!policy.allowPrivateImageUrls && isPrivateHost(url.hostname)) {
    return 'the image URL points at a private, loopback, link-local or metadata address (allow_private_image_urls is off)';
  }
  return null;
}

/** Ranges no image URL may name by default: private, loopback, link-local (cloud metadata), CGNAT, unspecified, multicast, reserved. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** Host names that always mean this machine or the cloud's metadata service. */
const PRIVATE_NAME = /(^|\.)(localhost|localdomain|internal|local|home\.arpa)$|^metadata$/i;

/**
 * Whether a URL's host (as `new URL().hostname` gives it: IPv4 in dotted
 * form whatever notation the client used, IPv6 in brackets) is private.
 * Names are not resolved: the provider resolves them, not the gateway.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  const family = isIP(host);
  if (family === 4) return PRIVATE.check(host, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host) ?? null;
    if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
    const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (hexMapped) {
      const hi = parseInt(hexMapped[1]!, 16);
      const lo = parseInt(hexMapped[2]!, 16);
      return PRIVATE.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4');
    }
    return PRIVATE.check(host, 'ipv6');
  }
  return PRIVATE_NAME.test(host);
}
