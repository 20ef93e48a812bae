/**
 * A fake Anthropic Messages API server for tests and benchmarks:
 * `POST {url}/v1/messages/count_tokens` (`input_tokens` = 1000 + the number of messages),
 * `POST {url}/v1/messages` (finite JSON, or the full streaming event sequence
 * with `stream: true`: message_start, content_block_start, ping,
 * content_block_delta*, content_block_stop, message_delta, message_stop),
 * behind `x-api-key: <apiKey>` and a mandatory `anthropic-version` header.
 * Answers are rendered once per reply and reused (benchmark mode: `record: false`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FakeToolCall } from './fake-openai.js';
import { sseFrame, startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions, type Rendered } from './fake-upstream-core.js';

export interface AnthropicReply {
  id: string;
  /**
   * `tool_use` blocks after the text; `arguments` pieces are the streamed
   * input_json_delta texts, and their join (JSON) is the finite block's `input`.
   */
  toolCalls?: FakeToolCall[];
  /** The `stop_sequence` field (set it with stopReason `stop_sequence`). */
  stopSequence?: string | null;
  tokens: string[];
  /** Raw Anthropic stop_reason. */
  stopReason: string;
  inputTokens: number;
  outputTokens: number;
  /** Prompt-cache usage (`cache_read_input_tokens` / `cache_creation_input_tokens`), sent when set. */
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
}

export const DEFAULT_ANTHROPIC_REPLY: AnthropicReply = {
  id: 'msg_fake_01',
  tokens: ['Hello', ' from', ' Claude'],
  stopReason: 'end_turn',
  inputTokens: 12,
  outputTokens: 3,
};

export interface FakeAnthropic extends FakeUpstream {
  /** Base URL for the target config (the origin: the API path is /v1/messages). */
  readonly url: string;
  readonly apiKey: string;
  setReply(reply: Partial<AnthropicReply>): void;
}

export interface FakeAnthropicOptions extends FakeUpstreamOptions {
  apiKey?: string;
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? 'sk-ant-fake-key-0123456789';
  let reply = DEFAULT_ANTHROPIC_REPLY;
  let cache = new Map<string, Rendered>();

  const render = (path: string, body: any): Rendered | null => {
    // Token counting: a deterministic count the tests can predict (1000 + one per message).
    if (path === '/v1/messages/count_tokens') {
      if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages))
        return { type: 'json', status: 400, body: errorBody(400) };
      return { type: 'json', body: JSON.stringify({ input_tokens: 1000 + body.messages.length }) };
    }
    if (path !== '/v1/messages') return null;
    const valid = body && typeof body.model === 'string' && Array.isArray(body.messages) && Number.isInteger(body.max_tokens);
    const key = !valid ? 'bad' : body.stream === true ? 'sse' : 'json';
    let rendered = cache.get(key);
    if (!rendered) {
      rendered = renderAnthropic(key, reply);
      cache.set(key, rendered);
    }
    return rendered;
  };

  const core = await startFakeUpstream(
    {
      authorized: (headers: IncomingHttpHeaders) =>
        headers['x-api-key'] === apiKey && typeof headers['anthropic-version'] === 'string',
      errorBody,
      render,
    },
    options,
  );
  return Object.assign(Object.create(core) as FakeUpstream, {
    url: core.origin,
    apiKey,
    setReply(partial: Partial<AnthropicReply>) {
      reply = { ...DEFAULT_ANTHROPIC_REPLY, ...partial };
      cache = new Map();
    },
  });
}

function errorBody(status: number): string {
  const type =
    status === 401
      ? 'authentication_error'
      : status === 400
        ? 'invalid_request_error'
        : status === 429
          ? 'rate_limit_error'
          : status === 529
            ? 'overloaded_error'
            : 'api_error';
  return JSON.stringify({ type: 'error', error: { type, message: `fake upstream error ${status}` } });
}

function renderAnthropic(key: string, r: AnthropicReply): Rendered {
  const model = 'fake-claude';
  if (key === 'bad') return { type: 'json', status: 400, body: errorBody(400) };
  if (key === 'json') {
    return {
      type: 'json',
      body: JSON.stringify({
        id: r.id,
        type: 'message',
        role: 'assistant',
        model,
        content: [
          ...(r.tokens.length > 0 || !r.toolCalls?.length ? [{ type: 'text', text: r.tokens.join('') }] : []),
          ...(r.toolCalls ?? []).map((c) => ({
            type: 'tool_use',
            id: c.id,
            name: c.name,
            input: JSON.parse(c.arguments.join('') || '{}'),
          })),
        ],
        stop_reason: r.stopReason,
        stop_sequence: r.stopSequence ?? null,
        usage: { input_tokens: r.inputTokens, output_tokens: r.outputTokens, ...cacheUsage(r) },
      }),
    };
  }
  const ev = (type: string, data: Record<string, unknown>): string => sseFrame({ type, ...data }, type);
  const text = r.tokens.length > 0 || !r.toolCalls?.length;
  const firstTool = text ? 1 : 0;
  const frames = [
    ev('message_start', {
      message: {
        id: r.id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: r.inputTokens, output_tokens: 1, ...cacheUsage(r) },
      },
    }),
    ...(text
      ? [
          ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
          ev('ping', {}),
          ...r.tokens.map((text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
          ev('content_block_stop', { index: 0 }),
        ]
      : [ev('ping', {})]),
    ...(r.toolCalls ?? []).flatMap((c, k) => [
      ev('content_block_start', { index: firstTool + k, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } }),
      ...c.arguments.map((partial_json) =>
        ev('content_block_delta', { index: firstTool + k, delta: { type: 'input_json_delta', partial_json } }),
      ),
      ev('content_block_stop', { index: firstTool + k }),
    ]),
    ev('message_delta', {
      delta: { stop_reason: r.stopReason, stop_sequence: r.stopSequence ?? null },
      usage: { output_tokens: r.outputTokens },
    }),
    ev('message_stop', {}),
  ];
  return {
    type: 'sse',
    frames,
    errorFrame: ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
    malformedFrame: 'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": \n\n',
  };
}

function cacheUsage(r: AnthropicReply): Record<string, number> {
  const out: Record<string, number> = {};
  if (r.cacheReadTokens !== undefined) out.cache_read_input_tokens = r.cacheReadTokens;
  if (r.cacheCreationTokens !== undefined) out.cache_creation_input_tokens = r.cacheCreationTokens;
  return out;
}
