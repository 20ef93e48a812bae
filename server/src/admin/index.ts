/**
 * Admin Dashboard module (docs/dashboard.md). The traffic statistics and the
 * audit log are kept from the start (every finished public request is reported
 * to `observer`; the budget module records in `audit`). The dashboard's HTTP
 * side (its own Koa application, sessions, /api routes and assets, app.ts) is
 * imported on the first request under the admin route, so a gateway whose
 * dashboard is never opened does not hold it (docs/operations.md#memory).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import type { RequestObserver } from '../telemetry/observer.js';
import type { AdminApp } from './app.js';
import { AuditLog } from './audit-log.js';
import type { AdminDeps } from './deps.js';
import { TrafficStats } from './stats/traffic-stats.js';

export interface AdminModule {
  /** Koa middleware serving everything under the admin route (SPA + /api). */
  middleware: Middleware;
  /** Fed with every finished public request. */
  observer: RequestObserver;
  /** The audit log (the budget module records `budget.threshold` in it). */
  audit: AuditLog;
  /** Stops timers. */
  close(): void;
}

export const ASSETS_DIR_ENV = 'SIPP_GATEWAY_ADMIN_ASSETS_DIR';

/** `admin-web/dist` next to the installed server package (not the working directory). */
export function defaultAssetsDir(): string {
  // This file is server/dist/src/admin/index.js (server/src/admin/index.ts when run from source, README.md#developer-loop).
  const up = import.meta.url.endsWith('.ts') ? '../../../admin-web/dist' : '../../../../admin-web/dist';
  return resolve(dirname(fileURLToPath(import.meta.url)), up);
}

function basePathOf(route: string): string {
  return route.length > 1 && route.endsWith('/') ? route.replace(/\/+$/, '') : route === '/' ? '' : route;
}

export function createAdmin(deps: AdminDeps): AdminModule {
  const stats = new TrafficStats(
    deps.config.targets.map((t) => t.name),
    { callers: deps.config.tokens.map((t) => t.caller), groups: deps.router.groupDefinitions().map((g) => g.name) },
  );
  const audit = new AuditLog(deps.log);
  const assetsDir = deps.assetsDir || process.env[ASSETS_DIR_ENV] || defaultAssetsDir();

  // The HTTP side, imported and built once, on the first admin request.
  let app: Promise<AdminApp> | null = null;
  let closed = false;
  const httpSide = () =>
    (app ??= import('./app.js').then(({ createAdminApp }) => {
      const made = createAdminApp(deps, { stats, audit, basePath: basePathOf(deps.config.routes.admin), assetsDir });
      if (closed) made.close();
      return made;
    }));

  return {
    middleware: async (ctx) => {
      const { handle } = await httpSide();
      ctx.respond = false;
      await handle(ctx.req, ctx.res);
    },
    observer: {
      onRequest(record) {
        try {
          stats.record(record);
        } catch (err) {
          deps.log.error({ err: { name: (err as Error)?.name } }, 'admin statistics failed to record a request');
        }
      },
    },
    audit,
    close() {
      closed = true;
      app?.then((made) => made.close()).catch(() => {});
    },
  };
}
