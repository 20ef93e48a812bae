import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { parseBind } from './config/schema.js';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Binds a Koa app; a taken or unusable address is a StartupError naming the field. */
export function listen(app: Koa, bind: string, field: string): Promise<{ server: Server; url: string }> {
  const { host, port } = parseBind(bind)!;
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
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
      reject(new StartupError(`${field} ${bind} ${why}`));
    });
    server.listen({ host, port }, () => {
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({ server, url: `http://${h}:${addr.port}` });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
