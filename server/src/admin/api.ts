/**
 * The admin JSON API under `<admin>/api/`: a small route table. Each route
 * declares its guard: `public` (login only), `session` (reads) or `csrf`
 * (every mutation: a live session plus the session's token in
 * x-sipp-admin-csrf). Every answer, errors included, is `no-store`.
 */
import type { Context } from 'koa';
import {
  DEFAULT_RANGE,
  DEFAULT_WINDOW,
  STATS_WINDOWS,
  TIMESERIES_RANGES,
  type StatsWindow,
  type TimeseriesRange,
} from '@sipp/shared';
import type { AdminDeps } from './deps.js';
import type { AuditLog } from './audit-log.js';
import { createApiTokenCheck } from './auth/api-token.js';
import { peerOf, type Sessions } from './auth/sessions.js';
import { configView } from './config-view.js';
import { createControls, type Actor } from './controls.js';
import { AdminError } from '../errors.js';
import { readJson } from './http/read-json.js';
import { keyRoutes } from './keys.js';
import { requireSameOrigin } from './http/same-origin.js';
import { answerAudit } from './audit-query.js';
import { exportFileName, requestsCsv } from './request-export.js';
import { circuitView, drainTarget, readTargetReason, releaseTarget } from './routing.js';
import { spend, usageExport } from './spend.js';
import { budgetRoutes } from './budgets.js';
import { parseRequestFilter } from './stats/request-filter.js';
import type { TrafficStats } from './stats/traffic-stats.js';
import * as views from './views.js';

type Guard = 'public' | 'session' | 'csrf';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Route {
  method: Method;
  path: string | RegExp;
  guard: Guard;
  /** The success status (default 200). */
  status?: number;
  handle(ctx: Context, params: string[]): unknown;
}

function choice<T extends string>(ctx: Context, name: string, allowed: readonly T[], fallback: T): T {
  const raw = ctx.query[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === '') return fallback;
  if (!(allowed as readonly string[]).includes(v))
    throw new AdminError('invalid_request', `${name}: must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** The explorer's page, or with `format=` the download of every matching request (docs/dashboard.md#api). */
function requestsOrExport(ctx: Context, stats: TrafficStats): unknown {
  const filter = parseRequestFilter(ctx.query);
  if (filter.format === null) return views.requests(stats, filter);
  const all = views.requestsExport(stats, filter);
  ctx.set('Content-Disposition', `attachment; filename="${exportFileName(filter.format)}"`);
  if (filter.format === 'json') {
    ctx.type = 'application/json';
    return all;
  }
  ctx.type = 'text/csv; charset=utf-8';
  return requestsCsv(all.requests);
}

const windowOf = (ctx: Context) => choice<StatsWindow>(ctx, 'window', STATS_WINDOWS, DEFAULT_WINDOW);
const rangeOf = (ctx: Context) => choice<TimeseriesRange>(ctx, 'range', TIMESERIES_RANGES, DEFAULT_RANGE);

export function createApi(deps: AdminDeps, stats: TrafficStats, sessions: Sessions, audit: AuditLog) {
  const security = () => views.security(deps, stats);
  const controls = createControls(deps, audit);
  const actor = (ctx: Context): Actor => ({
    session: ctx.state.adminApiToken ? 'api-token' : sessions.shortIdOf(ctx),
    client: peerOf(ctx),
  });
  const apiToken = createApiTokenCheck(deps.adminApiToken);
  /** A target's drain flag and circuit state for the audit log (null for unknown names; the route answers 404). */
  const drainState = (raw: string) => {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return null;
    }
    const c = circuitView(deps, name);
    return c ? { target: name, drained: c.drained, state: c.state } : null;
  };

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
    { method: 'GET', path: '/overview', guard: 'session', handle: (ctx) => views.overview(deps, stats, windowOf(ctx)) },
    { method: 'GET', path: '/timeseries', guard: 'session', handle: (ctx) => stats.timeseries.snapshot(rangeOf(ctx)) },
    {
      method: 'GET',
      path: '/callers',
      guard: 'session',
      handle: (ctx) => views.callers(stats, windowOf(ctx), deps.keyCallers?.() ?? []),
    },
    { method: 'GET', path: '/targets', guard: 'session', handle: (ctx) => views.targets(deps, stats, windowOf(ctx)) },
    { method: 'GET', path: '/requests', guard: 'session', handle: (ctx) => requestsOrExport(ctx, stats) },
    { method: 'GET', path: '/routes', guard: 'session', handle: () => views.routes(deps) },
    { method: 'GET', path: '/clients', guard: 'session', handle: () => views.clients(deps, stats) },
    { method: 'GET', path: '/config', guard: 'session', handle: () => configView(deps) },
    { method: 'GET', path: '/audit', guard: 'session', handle: (ctx) => answerAudit(ctx, audit) },
    { method: 'GET', path: '/security', guard: 'session', handle: security },
    { method: 'GET', path: '/fleet', guard: 'session', handle: () => deps.state.fleet.view() },
    { method: 'GET', path: '/spend', guard: 'session', handle: (ctx) => spend(deps.usage ?? null, ctx) },
    { method: 'GET', path: '/usage', guard: 'session', handle: (ctx) => usageExport(deps.usage ?? null, ctx) },
    {
      method: 'PUT',
      path: '/security/rate-limit',
      guard: 'csrf',
      handle: async (ctx) => {
        await controls.setRateLimit(actor(ctx), await readJson(ctx));
        return security();
      },
    },
    {
      method: 'POST',
      path: '/security/blocklist',
      guard: 'csrf',
      handle: async (ctx) => {
        await controls.block(actor(ctx), await readJson(ctx));
        return security();
      },
    },
    {
      // Legacy form: the address in the path, no expiry or note.
      method: 'POST',
      path: /^\/security\/blocklist\/([^/]+)$/,
      guard: 'csrf',
      handle: async (ctx, [entry]) => {
        await controls.blockPath(actor(ctx), entry!);
        return security();
      },
    },
    {
      method: 'DELETE',
      path: /^\/security\/blocklist\/([^/]+)$/,
      guard: 'csrf',
      handle: async (ctx, [entry]) => {
        await controls.unblock(actor(ctx), entry!);
        return security();
      },
    },
    {
      method: 'PUT',
      path: '/controls/concurrency',
      guard: 'csrf',
      handle: async (ctx) => {
        await controls.setConcurrency(actor(ctx), await readJson(ctx));
        return security();
      },
    },
    {
      method: 'POST',
      path: /^\/targets\/([^/]+)\/drain$/,
      guard: 'csrf',
      handle: async (ctx, [name]) => {
        const reason = await readTargetReason(ctx);
        const before = drainState(name!);
        await drainTarget(deps, name!);
        audit.record({ action: 'target.drain', before, after: drainState(name!), reason, ...actor(ctx) });
        return views.targets(deps, stats, windowOf(ctx));
      },
    },
    {
      method: 'DELETE',
      path: /^\/targets\/([^/]+)\/drain$/,
      guard: 'csrf',
      handle: async (ctx, [name]) => {
        const reason = await readTargetReason(ctx);
        const before = drainState(name!);
        await releaseTarget(deps, name!);
        audit.record({ action: 'target.release', before, after: drainState(name!), reason, ...actor(ctx) });
        return views.targets(deps, stats, windowOf(ctx));
      },
    },
    ...keyRoutes(deps.keys ?? null, deps.budgets, audit, actor),
    ...budgetRoutes(deps, audit, actor),
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
    // Automation's bearer token (docs/dashboard.md#automation) replaces the session and its CSRF token.
    ctx.state.adminApiToken = found.route.guard !== 'public' && apiToken(ctx);
    if (!ctx.state.adminApiToken) {
      // Every state-changing call (sign-in included) must not come from another origin.
      if (ctx.method !== 'GET') requireSameOrigin(ctx);
      if (found.route.guard === 'session') sessions.requireSession(ctx);
      else if (found.route.guard === 'csrf') sessions.requireCsrf(ctx);
    }
    const body = await found.route.handle(ctx, found.params);
    ctx.status = found.route.status ?? 200;
    ctx.body = body;
  };
}
