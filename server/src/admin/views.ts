/**
 * Builds the admin API's read responses from the core's live objects and the
 * traffic statistics. Only configured labels, names and numbers go out: no
 * token value, env var value, password or provider credential.
 */
import type {
  CallersResponse,
  ClientsResponse,
  RequestsResponse,
  StatsWindow,
  LocalBackendView,
  OverviewResponse,
  RouteView,
  RoutesResponse,
  SecurityResponse,
  TargetView,
  TargetsResponse,
} from '@sipp/shared';
import { ROUTE_KEYS, ROUTES } from '../routes.js';
import type { TargetDescription } from '../targets/target.js';
import type { AdminDeps } from './deps.js';
import { healthVerdict, openCircuits } from './health.js';
import { circuitView, groupViews } from './routing.js';
import type { RequestsExport } from './request-export.js';
import { encodeCursor, type RequestFilter } from './stats/request-filter.js';
import type { TrafficStats } from './stats/traffic-stats.js';

export const TOP_CLIENTS = 50;
export const RECENT_REQUESTS = 100;

function localBackends(descriptions: TargetDescription[]): LocalBackendView[] {
  return descriptions
    .filter((d) => d.type === 'local' && d.backend)
    .map((d) => ({
      target: d.name,
      requested: d.backend!.requested,
      selected: d.backend!.selected,
      devices: d.backend!.devices ?? [],
    }));
}

export function overview(
  deps: Pick<AdminDeps, 'targets' | 'controls' | 'version' | 'startedAt' | 'ready' | 'config' | 'router' | 'budgets'>,
  stats: TrafficStats,
  window: StatsWindow,
  now = Date.now(),
): OverviewResponse {
  const descriptions = deps.targets();
  const circuits = openCircuits(deps.router);
  const ready = deps.ready();
  return {
    health: healthVerdict({
      stats,
      circuits,
      targets: descriptions.length,
      ready,
      inFlight: deps.controls.admission.inFlight,
      limit: deps.controls.admission.limit,
      now,
    }),
    circuits,
    current: stats.window(window, now),
    inFlight: { active: deps.controls.admission.inFlight, limit: deps.controls.admission.limit },
    version: deps.version,
    startedAt: deps.startedAt,
    uptimeSeconds: Math.max(0, Math.floor((now - deps.startedAt) / 1000)),
    ready,
    totals: stats.totals(),
    latencyMs: stats.latency.summary(),
    activeRequests: deps.controls.admission.inFlight,
    limits: {
      maxRequestBytes: deps.config.max_request_bytes,
      maxConcurrentRequests: deps.config.max_concurrent_requests ?? null,
    },
    controls: {
      concurrencyLimit: deps.controls.admission.limit,
      configuredConcurrencyLimit: deps.config.max_concurrent_requests ?? null,
    },
    security: { rateLimit: deps.controls.rateLimiter.settings(), blockedClients: deps.controls.blocklist.size },
    localBackends: localBackends(descriptions),
    targets: descriptions.length,
    callers: deps.config.tokens.length,
    budgetAlerts: deps.budgets?.alerts() ?? [],
  };
}

export function routes(deps: Pick<AdminDeps, 'config' | 'router'>): RoutesResponse {
  const r = deps.config.routes;
  // Public routes also answer CORS preflight when origins are allowed.
  const cors = deps.config.allowed_origins.length > 0;
  const list: RouteView[] = ROUTE_KEYS.map((name) => {
    const { listener, methods } = ROUTES[name];
    return { listener, name, path: r[name], methods: listener === 'public' && cors ? [...methods, 'OPTIONS'] : [...methods] };
  });
  return {
    publicBind: deps.config.public_bind,
    managementBind: deps.config.management_bind,
    routes: list,
    callers: deps.config.tokens.map((t) => ({ caller: t.caller, targets: t.targets.length ? [...t.targets] : null })),
    groups: groupViews(deps),
  };
}

export function targets(
  deps: Pick<AdminDeps, 'targets' | 'router' | 'config'>,
  stats: TrafficStats,
  window: StatsWindow,
  now = Date.now(),
): TargetsResponse {
  return {
    window,
    unrouted: stats.unroutedRow(window, now),
    groups: deps.router.groupDefinitions().map((g) => ({
      name: g.name,
      strategy: g.strategy,
      members: [...g.targets],
      traffic: stats.group(g.name),
      window: stats.groupRow(g.name, window, now),
    })),
    targets: deps.targets().map((d): TargetView => ({
      name: d.name,
      type: d.type,
      model: d.model,
      operations: [...d.operations],
      baseUrl: d.baseUrl ?? null,
      backend: d.backend
        ? { requested: d.backend.requested, selected: d.backend.selected, devices: d.backend.devices ?? [] }
        : null,
      stats: d.stats ?? null,
      traffic: stats.target(d.name),
      window: stats.targetRow(d.name, window, now),
      runtime: d.runtime ?? null,
      profile: d.profile ?? null,
      circuit: circuitView(deps, d.name),
    })),
  };
}

export function clients(deps: Pick<AdminDeps, 'controls'>, stats: TrafficStats): ClientsResponse {
  return {
    clients: stats.clients.top(TOP_CLIENTS).map((c) => ({ ...c, blocked: deps.controls.blocklist.has(c.client) })),
    trackedClients: stats.clients.size,
    recent: stats.recent.list(RECENT_REQUESTS),
  };
}

export function callers(
  stats: TrafficStats,
  window: StatsWindow,
  keyCallers: Iterable<string> = [],
  now = Date.now(),
): CallersResponse {
  const { rows, untracked } = stats.callerRows(window, now, keyCallers);
  return { window, callers: rows, ...(untracked > 0 ? { untracked } : {}) };
}

export function requests(stats: TrafficStats, filter: RequestFilter): RequestsResponse {
  const page = stats.recent.page(filter.keep, filter.sort, filter.limit, filter.cursor);
  return {
    requests: page.requests,
    matched: page.matched,
    kept: stats.recent.size,
    nextCursor: page.next ? encodeCursor(page.next) : null,
  };
}

/** Every matching request in the filter's sort (the export ignores `limit` and `cursor`). */
export function requestsExport(stats: TrafficStats, filter: RequestFilter): RequestsExport {
  const page = stats.recent.page(filter.keep, filter.sort, stats.recent.capacity, null);
  return { requests: page.requests, matched: page.matched, kept: stats.recent.size };
}

export function security(deps: Pick<AdminDeps, 'controls' | 'config'>, stats: TrafficStats): SecurityResponse {
  const totals = stats.totals();
  return {
    rateLimit: deps.controls.rateLimiter.settings(),
    blocklist: deps.controls.blocklist.list(),
    concurrency: {
      limit: deps.controls.admission.limit,
      configured: deps.config.max_concurrent_requests ?? null,
      inFlight: deps.controls.admission.inFlight,
    },
    clientIp: {
      source: deps.config.security.client_ip.source,
      trustedProxyCidrs: [...deps.config.security.client_ip.trusted_proxy_cidrs],
    },
    totals: {
      rateLimitHits: totals.rateLimitHits,
      blocklistHits: totals.blocklistHits,
      admissionRejections: totals.admissionRejections,
    },
  };
}
