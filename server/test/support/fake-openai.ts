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

export interface OpenAIReply {
  id: string;
  /** Content pieces: one SSE chunk each; joined for the finite answer. */
  tokens: string[];
  /** Raw OpenAI finish_reason. */
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  embedding: number[];
}

export const DEFAULT_OPENAI_REPLY: OpenAIReply = {
  id: 'chatcmpl-fake-1',
  tokens: ['Gate', 'way', ' ready'],
  finishReason: 'stop',
  promptTokens: 8,
  completionTokens: 3,
  embedding: [0.25, -0.5, 0.125],
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
      key = body && typeof body.model === 'string' && typeof body.input === 'string' ? 'embed' : 'bad';
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
  const usage = { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
  const created = 1_700_000_000;
  const model = 'fake-model';
  switch (key) {
    case 'bad':
      return { type: 'json', status: 400, body: errorBody(400) };
    case 'embed':
      return {
        type: 'json',
        body: JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: r.embedding }], model, usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens } }),
      };
    case 'json':
      return {
        type: 'json',
        body: JSON.stringify({
          id: r.id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: r.tokens.join(''), refusal: null }, logprobs: null, finish_reason: r.finishReason }],
          usage,
        }),
      };
    default: {
      const base = { id: r.id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake' };
      const frames = [sseFrame({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] })];
      for (const t of r.tokens) frames.push(sseFrame({ ...base, choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }] }));
      frames.push(sseFrame({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: r.finishReason }] }));
      if (key === 'sse+usage') frames.push(sseFrame({ ...base, choices: [], usage }));
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
