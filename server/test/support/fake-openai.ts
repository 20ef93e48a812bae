/**
 * A fake OpenAI (and OpenAI-compatible) server for tests and benchmarks:
 * `POST {url}/chat/completions` (finite JSON or SSE with `stream: true`,
 * honouring `stream_options.include_usage`) and `POST {url}/embeddings`, behind
 * `Authorization: Bearer <apiKey>`. `url` carries the `/v1` path prefix, as a
 * real base URL does. Answers are rendered once per reply and reused, so the
 * normal path costs little (benchmark mode: `record: false`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { sseFrame, startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions, type Rendered } from './fake-upstream-core.js';

/** A tool call the fake answers with; `arguments` pieces are one stream delta each, joined for the finite answer. */
export interface FakeToolCall {
  id: string;
  name: string;
  arguments: string[];
}

export interface OpenAIReply {
  id: string;
  /** Tool calls after the content (finite: message.tool_calls; stream: delta.tool_calls, arguments incrementally). */
  toolCalls?: FakeToolCall[];
  /** Content pieces: one SSE chunk each; joined for the finite answer. */
  tokens: string[];
  /** Raw OpenAI finish_reason. */
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  /** Of promptTokens, served from the prompt cache (`prompt_tokens_details.cached_tokens`), sent when set. */
  cachedTokens?: number;
  embedding: number[];
  /** Never send usage, even when `stream_options.include_usage` asks (some compatible servers do so). */
  omitUsage: boolean;
  /** Stream each tool call as one delta carrying id, name and the full arguments (as vLLM and Ollama do). */
  toolCallsInOneDelta?: boolean;
}

export const DEFAULT_OPENAI_REPLY: OpenAIReply = {
  id: 'chatcmpl-fake-1',
  tokens: ['Gate', 'way', ' ready'],
  finishReason: 'stop',
  promptTokens: 8,
  completionTokens: 3,
  embedding: [0.25, -0.5, 0.125],
  omitUsage: false,
};

export interface FakeOpenAI extends FakeUpstream {
  /** Base URL for the target config (`http://127.0.0.1:PORT/v1`). */
  readonly url: string;
  readonly apiKey: string;
  setReply(reply: Partial<OpenAIReply>): void;
}

export interface FakeOpenAIOptions extends FakeUpstreamOptions {
  apiKey?: string;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey ?? 'sk-fake-openai-key-0123456789';
  const expectedAuth = `Bearer ${apiKey}`;
  let reply = DEFAULT_OPENAI_REPLY;
  let cache = new Map<string, Rendered>();

  const render = (path: string, body: any): Rendered | null => {
    let key: string;
    if (path === '/v1/chat/completions') {
      if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages)) key = 'bad';
      else key = body.stream === true ? (body.stream_options?.include_usage === true ? 'sse+usage' : 'sse') : 'json';
    } else if (path === '/v1/embeddings') {
      const input = body?.input;
      const inputs =
        typeof input === 'string'
          ? 1
          : Array.isArray(input) && input.length > 0 && input.every((i: unknown) => typeof i === 'string')
            ? input.length
            : 0;
      key = body && typeof body.model === 'string' && inputs > 0 ? (inputs === 1 ? 'embed' : `embed:${inputs}`) : 'bad';
    } else return null;
    let rendered = cache.get(key);
    if (!rendered) {
      rendered = renderOpenAI(key, reply);
      cache.set(key, rendered);
    }
    return rendered;
  };

  const core = await startFakeUpstream(
    {
      authorized: (headers: IncomingHttpHeaders) => headers.authorization === expectedAuth,
      errorBody,
      render,
    },
    options,
  );
  return Object.assign(Object.create(core) as FakeUpstream, {
    url: `${core.origin}/v1`,
    apiKey,
    setReply(partial: Partial<OpenAIReply>) {
      reply = { ...DEFAULT_OPENAI_REPLY, ...partial };
      cache = new Map();
    },
  });
}

function errorBody(status: number): string {
  const type = status === 401 ? 'invalid_request_error' : status === 429 ? 'rate_limit_exceeded' : 'server_error';
  return JSON.stringify({ error: { message: `fake upstream error ${status}`, type, param: null, code: null } });
}

function renderOpenAI(key: string, r: OpenAIReply): Rendered {
  const usage = {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
    ...(r.cachedTokens !== undefined ? { prompt_tokens_details: { cached_tokens: r.cachedTokens } } : {}),
  };
  const created = 1_700_000_000;
  const model = 'fake-model';
  switch (key) {
    case 'bad':
      return { type: 'json', status: 400, body: errorBody(400) };
    case 'embed':
      return {
        type: 'json',
        body: JSON.stringify({
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: r.embedding }],
          model,
          usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
        }),
      };
    default:
      if (key.startsWith('embed:')) return renderBatchEmbedding(Number(key.slice(6)), r, model);
      return renderChat(key, r, usage, created, model);
  }
}

/**
 * Several inputs: vector i is the reply's embedding plus i, listed in reverse
 * order (each item names its `index`), as the API allows.
 */
function renderBatchEmbedding(inputs: number, r: OpenAIReply, model: string): Rendered {
  const data = Array.from({ length: inputs }, (_, i) => ({
    object: 'embedding',
    index: i,
    embedding: r.embedding.map((v) => v + i),
  })).reverse();
  return {
    type: 'json',
    body: JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens } }),
  };
}

function finiteMessage(r: OpenAIReply): Record<string, unknown> {
  const text = r.tokens.join('');
  if (!r.toolCalls || r.toolCalls.length === 0) return { role: 'assistant', content: text, refusal: null };
  return {
    role: 'assistant',
    content: text === '' ? null : text,
    refusal: null,
    tool_calls: r.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments.join('') },
    })),
  };
}

/** OpenAI's incremental tool call deltas: index, id, type and name (empty arguments) first, then one delta per arguments piece. */
function toolCallDeltas(r: OpenAIReply): Array<Record<string, unknown>> {
  const deltas: Array<Record<string, unknown>> = [];
  (r.toolCalls ?? []).forEach((c, index) => {
    if (r.toolCallsInOneDelta) {
      deltas.push({
        tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments.join('') } }],
      });
      return;
    }
    deltas.push({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
    for (const piece of c.arguments) deltas.push({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  return deltas;
}

function renderChat(key: string, r: OpenAIReply, usage: Record<string, unknown>, created: number, model: string): Rendered {
  switch (key) {
    case 'json':
      return {
        type: 'json',
        body: JSON.stringify({
          id: r.id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: finiteMessage(r), logprobs: null, finish_reason: r.finishReason }],
          usage,
        }),
      };
    default: {
      const base = { id: r.id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake' };
      const frames = [
        sseFrame({
          ...base,
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        }),
      ];
      for (const t of r.tokens)
        frames.push(sseFrame({ ...base, choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }] }));
      for (const delta of toolCallDeltas(r))
        frames.push(sseFrame({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }));
      frames.push(sseFrame({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: r.finishReason }] }));
      if (key === 'sse+usage' && !r.omitUsage) frames.push(sseFrame({ ...base, choices: [], usage }));
      frames.push(sseFrame('[DONE]'));
      return {
        type: 'sse',
        frames,
        errorFrame: sseFrame({ error: { message: 'fake upstream failure', type: 'server_error' } }),
        malformedFrame: 'data: {"id": "chatcmpl-broken", "choices": [\n\n',
      };
    }
  }
}
