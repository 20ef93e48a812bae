/**
 * Admin Dashboard module entry (SPEC §7). Placeholder until issue #4 lands:
 * the core mounts `middleware` under the admin route and feeds `observer`.
 */
import type { Middleware } from 'koa';
import type { RequestObserver } from '../telemetry/observer.js';
import type { AdminDeps } from './deps.js';

export interface AdminModule {
  /** Koa middleware serving everything under the admin route (SPA + /api). */
  middleware: Middleware;
  /** Fed with every finished public request. */
  observer: RequestObserver;
  /** Stops timers. */
  close(): void;
}

export function createAdmin(_deps: AdminDeps): AdminModule {
  return {
    middleware: async (ctx) => {
      ctx.status = 404;
      ctx.body = { error: { code: 'not_found', message: 'admin dashboard is not available' } };
    },
    observer: { onRequest() {} },
    close() {},
  };
}
