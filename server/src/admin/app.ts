/**
 * The Admin Dashboard's HTTP side (docs/dashboard.md): its own small Koa
 * application (so koa-session gets per-process signing keys and its own
 * context) with the sign-in sessions, the /api routes and the SPA's assets.
 * index.ts imports this module on the first request under the admin route,
 * so a gateway nobody opens the dashboard on never loads it
 * (docs/operations.md#memory).
 */
import { randomBytes } from 'node:crypto';
import Koa, { type Context } from 'koa';
import { StateUnavailableError, AdminError } from '../errors.js';
import { loginLockoutRecorder } from '../telemetry/metrics.js';
import { createApi } from './api.js';
import type { AuditLog } from './audit-log.js';
import { createSessions } from './auth/sessions.js';
import type { AdminDeps } from './deps.js';
import { securityHeaders } from './http/security-headers.js';
import { createStaticAssets } from './http/static-assets.js';
import type { TrafficStats } from './stats/traffic-stats.js';

export interface AdminApp {
  /** Node's request listener of the admin Koa application. */
  handle: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>;
  /** Stops the session sweeper. */
  close(): void;
}

export function createAdminApp(
  deps: AdminDeps,
  parts: { stats: TrafficStats; audit: AuditLog; basePath: string; assetsDir: string },
): AdminApp {
  const { stats, audit, basePath } = parts;
  const assets = createStaticAssets(parts.assetsDir, basePath);
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

  return {
    handle: app.callback() as AdminApp['handle'],
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
