/**
 * A minimal OpenAI-compatible upstream for the e2e run: answers
 * `POST /v1/chat/completions` (non-streaming) behind a bearer key, on
 * 127.0.0.1 with an ephemeral port. A user message of exactly "fail" gets a
 * provider 500, so the dashboard has server errors to show; one of exactly
 * "hold" is answered only when `releaseHeld()` is called, so a test can keep
 * requests in flight. `setFailing(true)` makes every request a provider 500
 * (an upstream that is down) until switched back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstream {
  url: string;
  /** How many "hold" requests wait for their answer. */
  held(): number;
  /** Answers every held request. */
  releaseHeld(): void;
  /** While true, every request gets a provider 500. */
  setFailing(failing: boolean): void;
  /** Chat requests received. */
  calls(): number;
  close(): Promise<void>;
}

export async function startFakeUpstream(apiKey: string): Promise<FakeUpstream> {
  let n = 0;
  let held: Array<() => void> = [];
  let failing = false;
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key"}}');
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        model: string;
        messages?: Array<{ content?: string }>;
      };
      calls++;
      if (failing || body.messages?.at(-1)?.content === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"provider exploded"}}');
        return;
      }
      const answer = () =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: `chatcmpl-e2e-${++n}`,
            object: 'chat.completion',
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'Gateway ready' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
          }),
        );
      if (body.messages?.at(-1)?.content === 'hold') held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    held: () => held.length,
    setFailing: (f) => {
      failing = f;
    },
    calls: () => calls,
    releaseHeld() {
      for (const answer of held) answer();
      held = [];
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
