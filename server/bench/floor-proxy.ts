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
    pool
      .request({
        method: 'POST',
        path: `${prefix}/chat/completions`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(body),
      })
      .then(async (up) => {
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      })
      .catch((err: Error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(err.message);
      });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
