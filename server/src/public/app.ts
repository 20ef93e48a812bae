/**
 * The public listener: inference routes only (docs/api.md). Management routes are
 * never served here.
 */
import cors from '@koa/cors';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { ClientIdentifier } from '../security/client-identity.js';
import { errorBody } from '../surfaces/errors.js';
import { apiByPath, publicRoutes } from '../surfaces/index.js';
import { ROUTE_HANDLERS } from './route-handlers.js';
import { writeError } from './errors.js';
import type { ResponseStore } from '../surfaces/responses/store.js';
import { createSurfaceHandler, type PipelineDeps } from './pipeline.js';
import { bindRequestContext, RequestContext } from './request-context.js';
import { logRequest, newRequestState, requestIdFrom, requestRecord, type RequestState } from './request-state.js';

export interface PublicAppDeps extends PipelineDeps {
  /** `allowed_origins` (CORS) and the `[routes]` paths. */
  config: Pick<GatewayConfig, 'allowed_origins' | 'routes'>;
  identify: ClientIdentifier;
  draining(): boolean;
  /** True until every target has loaded. */
  loading(): boolean;
  /** Tracks in-flight requests for graceful shutdown (see inflight.ts). */
  inflight: { begin(cut: () => void): () => void };
  /** Stored Responses API responses (docs/api.md#responses). */
  responses: ResponseStore;
}

const CORS_HEADERS = ['Authorization', 'Content-Type', 'x-request-id', 'x-api-key', 'anthropic-version', 'anthropic-beta'];

/** The client closed the connection before any byte of the answer was sent. */
function clientGone(ctx: Context): boolean {
  return !ctx.res.headersSent && (ctx.res.destroyed || ctx.req.socket.destroyed);
}

/**
 * The drain grace is over and this request is still running: a stream gets a
 * final `event: error` frame with code `shutting_down`, a request still
 * waiting for its answer gets 503 `shutting_down`; then the connection is
 * closed. The response is deliberately not end()ed: the handler aborts its
 * target call when the connection closes before the response finished, as
 * for a client disconnect, so the body is completed by hand (Content-Length,
 * or the chunked terminator) and the bytes are with the kernel before the
 * socket is destroyed.
 */
function cutForShutdown(ctx: Context, st: RequestState): void {
  const res = ctx.res;
  if (res.writableEnded || res.destroyed) return;
  const cut = new GatewayError('shutting_down', 'the gateway is shutting down');
  const error = JSON.stringify(errorBody(st.api, cut));
  if (res.headersSent) {
    st.cutStatus = res.statusCode;
    // The stream's own error frame, in its surface's format.
    if (st.stream && st.streamError) res.write(st.streamError(cut));
    if (res.chunkedEncoding) res.socket?.write('0\r\n\r\n');
  } else {
    st.cutStatus = 503;
    res.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(error),
      connection: 'close',
    });
    res.write(error);
  }
  // Node corks the socket for a tick on write: flush now, then close.
  const socket = res.socket;
  while (socket && socket.writableCorked > 0) socket.uncork();
  res.destroy();
}

export function createPublicApp(deps: PublicAppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const log: Logger = deps.log;
  const routes = publicRoutes(deps.config.routes, { responses: deps.responses });
  const apis = apiByPath(routes);

  // Outermost: request id, bookkeeping, error rendering, one log line.
  app.use(async (ctx, next) => {
    // Node's own headers and setHeader rather than Koa's ctx.get/ctx.set (same values, less work per request).
    const req = ctx.req;
    const headers = req.headers;
    const path = ctx.path;
    const asked = headers['x-request-id'];
    const st = newRequestState(requestIdFrom(typeof asked === 'string' && asked !== '' ? asked : undefined));
    const end = deps.inflight.begin(() => cutForShutdown(ctx, st));
    const rc = new RequestContext(st, headers, path);
    bindRequestContext(ctx, rc);
    ctx.res.setHeader('x-request-id', st.id);
    st.api = apis.get(path) ?? 'sipp';
    st.client = deps.identify(req.socket.remoteAddress, headers);
    let code: string | null = null;
    try {
      if (deps.draining()) {
        ctx.set('connection', 'close');
        throw new GatewayError('shutting_down', 'the gateway is shutting down');
      }
      if (deps.loading()) {
        throw new GatewayError('not_ready', 'the gateway is still loading its targets; retry shortly', { 'retry-after': '1' });
      }
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new GatewayError('not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (st.cutStatus !== null) {
        // Cut by shutdown (cutForShutdown answered); the handler saw the abort.
      } else if (clientGone(ctx)) {
        // Not an error of ours: the request line (info) records it, nothing else.
        st.statusOverride = 499;
        st.code = code = 'client_closed_request';
      } else {
        code = writeError(ctx, err, log);
      }
    } finally {
      const record = requestRecord(st, ctx.respond === false ? 200 : ctx.status, code);
      // Async afterFinish hooks (settlement) keep the request in flight, so a drain waits for them.
      const settling = deps.stages.afterFinish(record, rc);
      logRequest(record, log);
      if (settling) void settling.then(end);
      else end();
    }
  });

  if (deps.config.allowed_origins.length > 0) {
    const allowed = new Set(deps.config.allowed_origins);
    app.use(
      cors({
        origin: (ctx) => {
          const origin = ctx.get('origin');
          return allowed.has(origin) ? origin : '';
        },
        allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        allowHeaders: CORS_HEADERS,
        exposeHeaders: ['x-request-id', 'retry-after', 'x-sipp-target'],
        maxAge: 600,
      }),
    );
  }

  const router = new Router();
  // POST to a surface's exact path skips the router's per-request matching and composition (docs/architecture.md#request-path);
  // any other method, spelling or path still goes through the router below, which serves the same handler.
  const exact = new Map<string, (ctx: Context) => Promise<void>>();
  for (const route of routes) {
    const { path } = route;
    let method: string = route.method;
    if ('handler' in route) router[route.method === 'POST' ? 'post' : 'get'](path, ROUTE_HANDLERS[route.handler.handler](deps));
    else if (route.method === 'POST') {
      const handle = createSurfaceHandler(deps, route.surface);
      if (!/[:*?(]/.test(path)) exact.set(path, handle);
      router.post(path, handle);
    } else {
      const { handlers } = route.resource;
      if (handlers.GET) router.get(path, ROUTE_HANDLERS[handlers.GET](deps));
      if (handlers.DELETE) router.delete(path, ROUTE_HANDLERS[handlers.DELETE](deps));
      method = Object.keys(handlers).join(', ');
    }
    router.options(path, (ctx) => {
      // Preflight from an origin that is not allowed: no CORS headers, so the browser refuses.
      ctx.status = 204;
    });
    router.all(path, (ctx) => {
      ctx.set('allow', `${method}, OPTIONS`);
      throw new GatewayError('method_not_allowed', `method ${ctx.method} is not allowed; use ${method}`);
    });
  }
  app.use((ctx, next) => {
    const handle = ctx.method === 'POST' ? exact.get(ctx.path) : undefined;
    return handle ? handle(ctx) : next();
  });
  app.use(router.routes());
  return app;
}
