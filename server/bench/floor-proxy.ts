/**
 * The floor of the provider-path bench: the least a Node.js proxy can do for
 * an OpenAI chat request, in its own process. `node floor-proxy.js <upstream
 * base URL> <upstream key>` prints its port as one JSON line, then serves.
 *
 * Per request it does what any gateway must and nothing else: read the body,
 * parse it, rewrite `model`, send it with undici (keep-alive pool) and relay
 * the status, content type and body (a stream chunk by chunk). No auth, no
 * logging, no metrics, no error shapes. Its CPU per request is what Node's
 * HTTP server, undici and the loopback sockets cost on this machine, the
 * figure the gateway's own rows are read against (README, benchmark).
 *
 * The answer is relayed with undici's `dispatch` (handler callbacks, each
 * chunk written from inside undici's socket read), not `request()`'s body
 * stream: measured here, the time from the upstream's headers parsed to the
 * first write to the client was ~52 µs p50 this way against ~160 µs through
 * `for await` over the body and ~115 µs through its `data` / `read()` events
 * (docs/architecture.md#streams), so the floor's first byte is the least a
 * Node proxy pays. Backpressure: a full client socket pauses the upstream.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [base, key] = process.argv.slice(2) as [string, string];
const url = new URL(base);
const prefix = url.pathname.replace(/\/$/, '');
const pool = new Pool(url.origin, { connections: 128 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    body.model = 'bench-model';
    let resume: () => void = () => {};
    res.on('drain', () => resume());
    pool.dispatch(
      {
        method: 'POST',
        path: `${prefix}/chat/completions`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(body),
      },
      {
        onConnect() {},
        onHeaders(status: number, raw: Buffer[], resumeUpstream: () => void) {
          resume = resumeUpstream;
          let type = 'application/json';
          for (let i = 0; i < raw.length; i += 2) {
            if (raw[i]!.toString('latin1').toLowerCase() === 'content-type') type = raw[i + 1]!.toString('latin1');
          }
          res.writeHead(status, { 'content-type': type });
          return true;
        },
        onData: (chunk: Buffer) => res.write(chunk),
        onComplete: () => res.end(),
        onError(err: Error) {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(err.message);
        },
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
