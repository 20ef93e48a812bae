/**
 * The admin JSON API under `<admin>/api/`: a small route table. Each route
 * declares its guard: `public` (login only), `session` (reads) or `csrf`
 * (every mutation: a live session plus the session's token in
 * x-sipp-admin-csrf). Every answer, errors included, is `no-store`.
 */
import type { Context } from 'koa';
import type { AdminDeps } from './deps.js';
import type { Sessions } from './auth/sessions.js';
import { blockClient, setConcurrency, setRateLimit, unblockClient } from './controls.js';
import { AdminError } from './http/admin-error.js';
import { readJson } from './http/read-json.js';
import { drainTarget, releaseTarget } from './routing.js';
import type { TrafficStats } from './stats/traffic-stats.js';
import * as views from './views.js';

type Guard = 'public' | 'session' | 'csrf';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Route {
  method: Method;
  path: string | RegExp;
  guard: Guard;
  handle(ctx: Context, params: string[]): unknown;
}

export function createApi(deps: AdminDeps, stats: TrafficStats, sessions: Sessions) {
  const security = () => views.security(deps, stats);

  const table: Route[] = [
    { method: 'GET', path: '/session', guard: 'session', handle: (ctx) => sessions.current(ctx) },
    { method: 'POST', path: '/session', guard: 'public', handle: (ctx) => sessions.login(ctx) },
    {
      method: 'DELETE',
      path: '/session',
      guard: 'csrf',
      handle: (ctx) => {
        sessions.logout(ctx);
        return { authenticated: false };
      },
    },
    { method: 'GET', path: '/overview', guard: 'session', handle: () => views.overview(deps, stats) },
    { method: 'GET', path: '/timeseries', guard: 'session', handle: () => stats.timeseries.snapshot() },
    { method: 'GET', path: '/routes', guard: 'session', handle: () => views.routes(deps) },
    { method: 'GET', path: '/targets', guard: 'session', handle: () => views.targets(deps, stats) },
    { method: 'GET', path: '/clients', guard: 'session', handle: () => views.clients(deps, stats) },
    { method: 'GET', path: '/security', guard: 'session', handle: security },
    { method: 'GET', path: '/fleet', guard: 'session', handle: () => deps.state.fleet.view() },
    {
      method: 'PUT',
      path: '/security/rate-limit',
      guard: 'csrf',
      handle: async (ctx) => {
        await setRateLimit(deps, await readJson(ctx));
        return security();
      },
    },
    {
      method: 'POST',
      path: /^\/security\/blocklist\/([^/]+)$/,
      guard: 'csrf',
      handle: async (_ctx, [ip]) => {
        await blockClient(deps, ip!);
        return security();
      },
    },
    {
      method: 'DELETE',
      path: /^\/security\/blocklist\/([^/]+)$/,
      guard: 'csrf',
      handle: async (_ctx, [ip]) => {
        await unblockClient(deps, ip!);
        return security();
      },
    },
    {
      method: 'PUT',
      path: '/controls/concurrency',
      guard: 'csrf',
      handle: async (ctx) => {
        await setConcurrency(deps, await readJson(ctx));
        return security();
      },
    },
    {
      method: 'POST',
      path: /^\/targets\/([^/]+)\/drain$/,
      guard: 'csrf',
      handle: async (_ctx, [name]) => {
        await drainTarget(deps, name!);
        return views.targets(deps, stats);
      },
    },
    {
      method: 'DELETE',
      path: /^\/targets\/([^/]+)\/drain$/,
      guard: 'csrf',
      handle: async (_ctx, [name]) => {
        await releaseTarget(deps, name!);
        return views.targets(deps, stats);
      },
    },
  ];

  function match(method: string, path: string): { route: Route; params: string[] } | null {
    for (const route of table) {
      if (route.method !== method) continue;
      if (typeof route.path === 'string') {
        if (route.path === path) return { route, params: [] };
      } else {
        const m = route.path.exec(path);
        if (m) return { route, params: m.slice(1) };
      }
    }
    return null;
  }

  /** `rel` is the path below `<admin>/api`, e.g. "/overview". */
  return async function api(ctx: Context, rel: string): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    const found = match(ctx.method, rel);
    if (!found) throw new AdminError('not_found', 'no such admin API route');
    if (found.route.guard === 'session') sessions.requireSession(ctx);
    else if (found.route.guard === 'csrf') sessions.requireCsrf(ctx);
    const body = await found.route.handle(ctx, found.params);
    ctx.status = 200;
    ctx.body = body;
  };
}
