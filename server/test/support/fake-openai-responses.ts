/**
 * A fake OpenAI Responses API for native Responses targets (`api = "responses"`,
 * docs/api.md#native-responses-targets): a real node:http server that records
 * every request and, like OpenAI, keeps what it made. `POST {url}/responses`
 * (finite or the event stream; `previous_response_id` continues a kept
 * response, an unknown one is OpenAI's 400), `GET` / `DELETE {url}/responses/{id}` (`?stream=true`: its event stream),
 * `GET {url}/responses/{id}/input_items`, `POST {url}/chat/completions` (a
 * translated request still works), behind `Authorization: Bearer <apiKey>`.
 * `failNext` scripts the provider's own error answers.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ResponsesRecord {
  method: string;
  /** Path with the query string, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (text) and parsed. */
  raw: string;
  body: any;
}

export interface ScriptedError {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface FakeResponsesApi {
  /** Base URL for the target config (`http://127.0.0.1:PORT/v1`). */
  readonly url: string;
  readonly apiKey: string;
  readonly requests: ResponsesRecord[];
  /** Every stream this fake sent, as the exact SSE text. */
  readonly sentStreams: string[];
  /** Responses the fake keeps, by id. */
  readonly kept: Map<string, { response: any; input: any[] }>;
  /** The next request answers with this (queued, one each): an error, or a scripted event stream (`content-type` in headers). */
  failNext(...errors: ScriptedError[]): void;
  close(): Promise<void>;
}

/** The upstream's own model name (what the gateway renames to the name the client asked for). */
export const UPSTREAM_MODEL = 'gpt-upstream-responses';

/**
 * A `[[targets]]` entry for a native Responses target (`api = "responses"`) on
 * the fake at `url`, its key in env `UPSTREAM_KEY`: `openai` (`api_key_env`)
 * or `openai_compatible` (`token_env`).
 */
export function nativeResponsesTarget(url: string, name = 'native', type: 'openai' | 'openai_compatible' = 'openai'): string {
  return `[[targets]]
name = "${name}"
type = "${type}"
api = "responses"
model = "${UPSTREAM_MODEL}"
${type === 'openai' ? 'api_key_env' : 'token_env'} = "UPSTREAM_KEY"
base_url = "${url}"
timeout_seconds = 10
`;
}

const TOKENS = ['Nat', 'ive', ' hello'];

/** The event stream of a response, as OpenAI sends it for a streamed create (and for `GET {id}?stream=true`). */
function eventStream(response: any): string {
  const message = response.output[0];
  const text: string = message.content[0].text;
  let seq = 0;
  const ev = (type: string, rest: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...rest })}\n\n`;
  const pending = { ...response, status: 'in_progress', output: [], usage: null };
  const part = { type: 'output_text', text: '', annotations: [] };
  let sse =
    ev('response.created', { response: pending }) +
    ev('response.in_progress', { response: pending }) +
    ev('response.output_item.added', {
      output_index: 0,
      item: { ...message, status: 'in_progress', content: [] },
    }) +
    ev('response.content_part.added', { item_id: message.id, output_index: 0, content_index: 0, part });
  for (const t of TOKENS)
    sse += ev('response.output_text.delta', {
      item_id: message.id,
      output_index: 0,
      content_index: 0,
      delta: t,
      logprobs: [],
    });
  return (
    sse +
    ev('response.output_text.done', { item_id: message.id, output_index: 0, content_index: 0, text, logprobs: [] }) +
    ev('response.content_part.done', {
      item_id: message.id,
      output_index: 0,
      content_index: 0,
      part: { ...part, text },
    }) +
    ev('response.output_item.done', { output_index: 0, item: message }) +
    ev('response.completed', { response })
  );
}

export async function startFakeResponsesApi(apiKey = 'sk-fake-responses-key-0123456789'): Promise<FakeResponsesApi> {
  const requests: ResponsesRecord[] = [];
  const sentStreams: string[] = [];
  const kept = new Map<string, { response: any; input: any[] }>();
  const queued: ScriptedError[] = [];
  const sockets = new Set<Socket>();
  let n = 0;

  const send = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const notFound = (id: string) => ({
    error: { message: `No response with id '${id}' found.`, type: 'invalid_request_error', param: null, code: null },
  });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body });
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        return send(res, 401, {
          error: { message: 'bad key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
        });
      }
      const scripted = queued.shift();
      if (scripted) return send(res, scripted.status, scripted.body, scripted.headers);
      const path = (req.url ?? '').split('?')[0]!;
      const m = /^\/v1\/responses\/([^/]+)(\/input_items)?$/.exec(path);
      if (m) {
        const stored = kept.get(m[1]!);
        if (!stored) return send(res, 404, notFound(m[1]!));
        if (req.method === 'DELETE' && !m[2]) {
          kept.delete(m[1]!);
          return send(res, 200, { id: m[1], object: 'response', deleted: true });
        }
        if (req.method !== 'GET') return send(res, 405, notFound(m[1]!));
        if (m[2]) {
          const data = [...stored.input].reverse();
          return send(res, 200, {
            object: 'list',
            data,
            first_id: data[0]?.id ?? null,
            last_id: data.at(-1)?.id ?? null,
            has_more: false,
          });
        }
        if (new URL(req.url ?? '', 'http://x').searchParams.get('stream') === 'true') {
          // A kept response streamed again: the same event sequence as its streamed create.
          const sse = eventStream(stored.response);
          sentStreams.push(sse);
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          return res.end(sse);
        }
        return send(res, 200, stored.response);
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        return send(res, 200, {
          id: 'chatcmpl-native-fake',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: UPSTREAM_MODEL,
          choices: [{ index: 0, message: { role: 'assistant', content: 'via chat' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        });
      }
      if (req.method !== 'POST' || path !== '/v1/responses') return send(res, 404, notFound(path));
      if (!body || typeof body.model !== 'string') {
        return send(res, 400, {
          error: { message: 'model is required', type: 'invalid_request_error', param: 'model', code: null },
        });
      }
      const prev = body.previous_response_id;
      if (typeof prev === 'string' && !kept.has(prev)) {
        return send(res, 400, {
          error: {
            message: `Previous response with id '${prev}' not found.`,
            type: 'invalid_request_error',
            param: 'previous_response_id',
            code: 'previous_response_not_found',
          },
        });
      }
      n += 1;
      const id = `resp_native_${n}`;
      const input =
        typeof body.input === 'string'
          ? [{ id: `msg_in_${n}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: body.input }] }]
          : ((body.input ?? []) as any[]).map((item, i) => ({ id: `item_in_${n}_${i}`, ...item }));
      const history = typeof prev === 'string' ? [...kept.get(prev)!.input, ...kept.get(prev)!.response.output] : [];
      const text = TOKENS.join('');
      const message = {
        id: `msg_native_${n}`,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      };
      const response = {
        id,
        object: 'response',
        created_at: 1_700_000_000 + n,
        status: 'completed',
        error: null,
        incomplete_details: null,
        model: UPSTREAM_MODEL,
        output: [message],
        previous_response_id: prev ?? null,
        store: body.store !== false,
        tools: body.tools ?? [],
        usage: {
          input_tokens: 11 + history.length,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 3,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 14 + history.length,
        },
      };
      if (body.store !== false) kept.set(id, { response, input: [...history, ...input] });
      if (body.stream !== true) return send(res, 200, response);
      const sse = eventStream(response);
      sentStreams.push(sse);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(sse);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    sentStreams,
    kept,
    failNext: (...e) => void queued.push(...e),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
