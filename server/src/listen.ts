import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { BIND_OVERRIDE_ENV } from './config/load.js';
import { parseBind, type ListenerConfig } from './config/schema.js';
import { deferContinue } from './http/expect-continue.js';
import { StartupError } from './errors.js';

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { StartupError };

/**
 * A response that closes its connection when it is sent before the request
 * body has fully arrived (a refused request: 401, 403, 413, 429, …, or a
 * client waiting for a 100 Continue it will not get). Node would otherwise
 * read and discard the rest of the body to keep the connection alive, for as
 * long as the client cares to send it. Here the answer says `Connection:
 * close` and the socket is closed as soon as the answer is written.
 */
class GatewayResponse extends ServerResponse {
  override writeHead(...args: unknown[]): this {
    if (!this.headersSent && !this.req.complete) {
      this.setHeader('connection', 'close');
      // Node would read (and discard) on until its close completes; stop as soon as the answer is out.
      this.once('finish', () => this.req.socket?.destroy());
    }
    return (ServerResponse.prototype.writeHead as (...a: unknown[]) => this).apply(this, args);
  }
}

const MIN_LOG_INTERVAL_MS = 60_000;

/**
 * Binds a Koa app with the listener's connection limits and timeouts; a taken
 * or unusable address is a StartupError naming the field.
 */
export function listen(
  app: Koa,
  bind: string,
  field: string,
  limits: ListenerConfig,
  log?: Logger,
): Promise<{ server: Server; url: string }> {
  const { host, port } = parseBind(bind)!;
  const ms = (seconds: number) => Math.max(1, Math.round(seconds * 1000));
  const headersTimeout = ms(limits.headers_timeout_seconds);
  const requestTimeout = ms(limits.request_timeout_seconds);
  const handler = app.callback();
  const server = createServer(
    {
      ServerResponse: GatewayResponse as unknown as typeof ServerResponse<IncomingMessage>,
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: ms(limits.keep_alive_timeout_seconds),
      // Node checks the two timeouts on this interval (default 30 s, which
      // made a 66 s headers timeout last up to 96 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    handler,
  );
  server.keepAliveTimeout = ms(limits.keep_alive_timeout_seconds);
  server.maxConnections = limits.max_connections;
  server.on('checkContinue', (req, res) => {
    deferContinue(req, res);
    void handler(req, res);
  });
  let lastDropLog = -Infinity;
  let dropped = 0;
  server.on('drop', () => {
    dropped++;
    const now = performance.now();
    if (now - lastDropLog < MIN_LOG_INTERVAL_MS) return;
    lastDropLog = now;
    log?.warn(
      { listener: field, max_connections: limits.max_connections, dropped },
      'max_connections reached; refusing new connections',
    );
    dropped = 0;
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is already in use'
          : err.code === 'EACCES'
            ? 'needs privileges this process does not have'
            : err.code === 'EADDRNOTAVAIL'
              ? 'is not an address of this machine'
              : `cannot be bound (${err.code ?? 'error'})`;
      reject(new StartupError(`${field} ${bind} ${why}${err.code === 'EADDRINUSE' ? movingHint(field) : ''}`));
    });
    server.listen({ host, port }, () => {
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({ server, url: `http://${h}:${addr.port}` });
    });
  });
}

/** How to move a taken bind: the key, or its environment override (docs/configuration.md#environment-variables). */
function movingHint(field: string): string {
  const env = BIND_OVERRIDE_ENV[field as keyof typeof BIND_OVERRIDE_ENV];
  if (!env) return '';
  return `; stop what holds it, or move the gateway: set ${field} in the config file or ${env}=host:port in the environment (docs/configuration.md#environment-variables)`;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
