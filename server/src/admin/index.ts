/**
 * Admin Dashboard module (docs/dashboard.md). It runs its own small Koa application so
 * koa-session gets per-process signing keys and its own context; the
 * management listener hands every request under the admin route to it
 * (`middleware`) and reports every finished public request to `observer`.
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa, { type Context, type Middleware } from 'koa';
import { loginLockoutRecorder } from '../telemetry/metrics.js';
import { StateUnavailableError, AdminError } from '../errors.js';
import type { RequestObserver } from '../telemetry/observer.js';
import { createApi } from './api.js';
import { AuditLog } from './audit-log.js';
import { createSessions } from './auth/sessions.js';
import type { AdminDeps } from './deps.js';
import { securityHeaders } from './http/security-headers.js';
import { createStaticAssets } from './http/static-assets.js';
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
  const basePath = basePathOf(deps.config.routes.admin);
  const stats = new TrafficStats(
    deps.config.targets.map((t) => t.name),
    { callers: deps.config.tokens.map((t) => t.caller), groups: deps.router.groupDefinitions().map((g) => g.name) },
  );
  const audit = new AuditLog(deps.log);
  const assets = createStaticAssets(deps.assetsDir || process.env[ASSETS_DIR_ENV] || defaultAssetsDir(), basePath);

  // This process's own key: signs cookies until the fleet's key is known, and always verifies
  // (a session kept on this replica during a Redis outage was signed with it).
  const processKey = randomBytes(32).toString('hex');
  const app = new Koa({ keys: [processKey] });
  app.silent = true;
  const shared = deps.state.kv;
  const sessions = createSessions({
    app,
    basePath: basePath || '/',
    password: deps.adminPassword,
    log: deps.log,
    onLockout: loginLockoutRecorder(deps.registry),
    shared,
    audit,
  });
  const api = createApi(deps, stats, sessions, audit);

  app.use(securityHeaders);
  app.use(async (ctx: Context, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof StateUnavailableError) {
        const signIn = ctx.method === 'POST' && ctx.state.adminApiPath === '/session';
        err = new AdminError(
          'unavailable',
          signIn ? 'sign-in is unavailable: the shared session store (Redis) is unreachable; retry shortly' : err.message,
        );
      }
      if (err instanceof AdminError) {
        ctx.status = err.status;
        ctx.set(err.headers);
      } else {
        deps.log.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'admin request failed');
        err = new AdminError('internal', 'internal error');
        ctx.status = 500;
      }
      const e = err as AdminError;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: { code: e.code, message: e.message } };
    }
  });
  app.use(async (ctx, next) => {
    const rel = relativePath(ctx.path, basePath);
    if (rel === null) throw new AdminError('not_found', 'not found');
    if (rel === '/api' || rel.startsWith('/api/')) {
      ctx.state.adminApiPath = rel.slice(4) || '/';
      return next();
    }
    await assets.serve(ctx, rel);
  });
  if (shared) {
    // Every replica signs session cookies with one key kept in the shared store,
    // re-read now and then (proposing ours) so a Redis that lost its data gets
    // the fleet's key back instead of a new one from a fresh replica.
    let keyedAt = -Infinity;
    let key: string | undefined;
    app.use(async (_ctx, next) => {
      if (performance.now() - keyedAt > 30_000) {
        const previous = key;
        try {
          key = await shared.sharedSecret('session-signing-key', key);
          // Cookies signed with a replaced key still verify until the next refresh.
          app.keys = [...new Set([key, ...(previous ? [previous] : []), processKey])];
          keyedAt = performance.now();
        } catch (err) {
          // Redis unreachable: keep the keys we have (this process's own at first) and ask again next time.
          if (!(err instanceof StateUnavailableError)) throw err;
        }
      }
      await next();
    });
  }
  app.use(sessions.middleware);
  app.use(async (ctx) => api(ctx, ctx.state.adminApiPath as string));

  const handle = app.callback();

  return {
    middleware: async (ctx) => {
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
      sessions.close();
    },
  };
}

function relativePath(path: string, basePath: string): string | null {
  if (path === basePath) return '';
  if (path.startsWith(basePath + '/')) return path.slice(basePath.length);
  return null;
}
