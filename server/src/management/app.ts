/**
 * The management listener (docs/operations.md#health-and-readiness): index, health, readiness, Prometheus
 * metrics and the Admin Dashboard. No bearer token; keep it private. Every
 * route first checks the Host header (host-allowlist.ts).
 * Public inference routes are never served here.
 */
import Router from '@koa/router';
import type { IndexDocument } from '@sipp/shared';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdminModule } from '../admin/index.js';
import type { RoutesConfig } from '../config/schema.js';
import { hostAllowlist, type HostAllowlistOptions } from './host-allowlist.js';
import { jsonBody } from '../http/json-body.js';

export interface ManagementDeps {
  routes: RoutesConfig;
  registry: Registry;
  admin: AdminModule;
  log: Logger;
  ready(): boolean;
  index(): IndexDocument;
  /** Host header check (DNS rebinding); applies to every route. */
  hosts: HostAllowlistOptions;
}

export function createManagementApp(deps: ManagementDeps): Koa {
  const app = new Koa();
  app.silent = true;
  const { routes } = deps;
  const adminBase = routes.admin.replace(/\/+$/, '') || '/';

  app.use(hostAllowlist(deps.hosts, deps.log));

  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.respond !== false && ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        jsonBody(ctx, { error: { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` } });
      }
    } catch (err) {
      deps.log.error({ err: { message: (err as Error)?.message } }, 'management request failed');
      ctx.status = 500;
      jsonBody(ctx, { error: { code: 'internal', message: 'internal error' } });
    }
  });

  // The dashboard owns everything under its route.
  app.use(async (ctx, next) => {
    const p = ctx.path;
    if (p === adminBase || p.startsWith(adminBase === '/' ? '/' : `${adminBase}/`)) return deps.admin.middleware(ctx, next);
    return next();
  });

  const router = new Router();
  router.get(routes.index, (ctx) => {
    ctx.set('cache-control', 'no-store');
    jsonBody(ctx, deps.index());
  });
  router.get(routes.health, (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'ok';
  });
  router.get(routes.readiness, (ctx) => {
    ctx.type = 'text/plain';
    ctx.set('cache-control', 'no-store');
    const ready = deps.ready();
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? 'ready' : 'not ready';
  });
  router.get(routes.metrics, async (ctx) => {
    ctx.set('content-type', deps.registry.contentType);
    ctx.body = await deps.registry.metrics();
  });
  app.use(router.routes());
  return app;
}
