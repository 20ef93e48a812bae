/**
 * The public listener: inference routes only (SPEC §3). Management routes are
 * never served here.
 */
import cors from '@koa/cors';
import Router from '@koa/router';
import { OPERATIONS } from '@sipp/shared';
import Koa from 'koa';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { ClientIdentifier } from '../security/client-identity.js';
import type { RequestObserver } from '../telemetry/observer.js';
import { writeError } from './errors.js';
import { createInferenceHandler, type InferenceDeps } from './inference.js';
import { finishRequest, newRequestState, requestIdFrom } from './request-state.js';

export interface PublicAppDeps extends InferenceDeps {
  identify: ClientIdentifier;
  observers: readonly RequestObserver[];
  draining(): boolean;
  /** True until every target has loaded. */
  loading(): boolean;
  /** Tracks in-flight requests for graceful shutdown. */
  inflight: { begin(): void; end(): void };
}

const CORS_HEADERS = ['Authorization', 'Content-Type', 'x-request-id'];

export function createPublicApp(deps: PublicAppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const log: Logger = deps.log;

  // Outermost: request id, bookkeeping, error rendering, one log line.
  app.use(async (ctx, next) => {
    deps.inflight.begin();
    const st = newRequestState(requestIdFrom(ctx.get('x-request-id') || undefined));
    ctx.state.request = st;
    ctx.set('x-request-id', st.id);
    st.client = deps.identify(ctx.req.socket.remoteAddress, ctx.req.headers);
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
      code = writeError(ctx, err, log);
    } finally {
      finishRequest(st, ctx.respond === false ? 200 : ctx.status, code, deps.observers, log);
      deps.inflight.end();
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
        allowMethods: ['POST', 'OPTIONS'],
        allowHeaders: CORS_HEADERS,
        exposeHeaders: ['x-request-id', 'retry-after', 'x-sipp-target'],
        maxAge: 600,
      }),
    );
  }

  const router = new Router();
  for (const op of OPERATIONS) {
    const path = deps.config.routes[op];
    const handler = createInferenceHandler(deps, op);
    router.post(path, handler);
    router.options(path, (ctx) => {
      // Preflight from an origin that is not allowed: no CORS headers, so the browser refuses.
      ctx.status = 204;
    });
    router.all(path, (ctx) => {
      ctx.set('allow', 'POST, OPTIONS');
      throw new GatewayError('method_not_allowed', `method ${ctx.method} is not allowed; use POST`);
    });
  }
  app.use(router.routes());
  return app;
}
