/**
 * Admin Dashboard JSON API (docs/dashboard.md): request bodies and response shapes,
 * defined once and used by the server (`server/src/admin`) and the SPA
 * (`admin-web`). Nothing here ever carries a password, bearer token or
 * provider secret.
 */
import { z } from 'zod';
import type { RequestRecord } from './traffic.js';
import type { Operation } from './wire.js';
import type { CircuitView, GroupView } from './routing.js';

/** Header every mutating admin call must carry with the session's CSRF token. */
export const ADMIN_CSRF_HEADER = 'x-sipp-admin-csrf';

/** Windows of the Overview tiles and the callers/targets tables (`?window=`). */
export const STATS_WINDOWS = ['1m', '5m', '15m', '1h'] as const;
export type StatsWindow = (typeof STATS_WINDOWS)[number];
export const WINDOW_SECONDS: Record<StatsWindow, number> = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600 };
export const DEFAULT_WINDOW: StatsWindow = '5m';

/** Chart ranges (`GET timeseries?range=`). */
export const TIMESERIES_RANGES = ['15m', '1h', '6h', '24h'] as const;
export type TimeseriesRange = (typeof TIMESERIES_RANGES)[number];
export const DEFAULT_RANGE: TimeseriesRange = '1h';
/**
 * Bucket geometry per range. The server keeps two rings: 10 s buckets for the
 * last hour and 1 min buckets for the last 24 h; 24 h points merge 5 of them.
 */
export const RANGE_GEOMETRY: Record<TimeseriesRange, { bucketMs: number; buckets: number }> = {
  '15m': { bucketMs: 10_000, buckets: 90 },
  '1h': { bucketMs: 10_000, buckets: 360 },
  '6h': { bucketMs: 60_000, buckets: 360 },
  '24h': { bucketMs: 300_000, buckets: 288 },
};

/** Requests the explorer keeps (newest first). */
export const EXPLORER_CAPACITY = 1000;
/** Status-class filter of the explorer: 4xx excludes 429 (as the client error rate does). */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '429', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export const ADMIN_ERROR_CODES = [
  'unauthenticated',
  'csrf_failed',
  'invalid_request',
  'not_found',
  'rate_limited',
  'internal',
  'unavailable',
] as const;
export type AdminErrorCode = (typeof ADMIN_ERROR_CODES)[number];

export interface AdminErrorBody {
  error: { code: AdminErrorCode; message: string };
}

// ---------------------------------------------------------------- requests

export const LoginRequestSchema = z.strictObject({
  password: z.string().min(1, 'password is required').max(4096),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const RATE_LIMIT_MAX = 1_000_000;

export const RateLimitUpdateSchema = z.strictObject({
  enabled: z.boolean(),
  requestsPerMinute: z.number().positive('must be > 0').max(RATE_LIMIT_MAX, `must be <= ${RATE_LIMIT_MAX}`),
  burst: z.number().int('must be a whole number').positive('must be > 0').max(RATE_LIMIT_MAX, `must be <= ${RATE_LIMIT_MAX}`),
});
export type RateLimitUpdate = z.infer<typeof RateLimitUpdateSchema>;

export const CONCURRENCY_MAX = 100_000;

export const ConcurrencyUpdateSchema = z.strictObject({
  limit: z
    .number()
    .int('must be a whole number')
    .positive('must be > 0')
    .max(CONCURRENCY_MAX, `must be <= ${CONCURRENCY_MAX}`)
    .nullable(),
});
export type ConcurrencyUpdate = z.infer<typeof ConcurrencyUpdateSchema>;

/** `POST security/blocklist` body. */
export const BLOCK_NOTE_MAX = 200;
export const BLOCK_EXPIRY_MAX_SECONDS = 365 * 86_400;
export const BlocklistAddSchema = z.strictObject({
  entry: z.string().min(1, 'is required').max(64, 'must be an IP address or CIDR'),
  expires_in_seconds: z
    .number()
    .int('must be a whole number')
    .positive('must be > 0')
    .max(BLOCK_EXPIRY_MAX_SECONDS, `must be <= ${BLOCK_EXPIRY_MAX_SECONDS}`)
    .optional(),
  note: z.string().max(BLOCK_NOTE_MAX, `must be at most ${BLOCK_NOTE_MAX} characters`).optional(),
});
export type BlocklistAdd = z.infer<typeof BlocklistAddSchema>;

/** `POST|DELETE targets/{name}/drain` body (optional: a request without a body has no reason). */
export const TARGET_REASON_MAX = 500;
export const TargetControlSchema = z.strictObject({
  reason: z.string().trim().max(TARGET_REASON_MAX, `must be at most ${TARGET_REASON_MAX} characters`).optional(),
});
export type TargetControl = z.infer<typeof TargetControlSchema>;

// ---------------------------------------------------------------- responses

/** `GET|POST <admin>/api/session`. */
export interface SessionInfo {
  authenticated: true;
  csrfToken: string;
  csrfHeader: typeof ADMIN_CSRF_HEADER;
  /** The admin route, e.g. "/admin"; the API lives under `${basePath}/api`. */
  basePath: string;
  /** Epoch ms when the session ends (8 h after login). */
  expiresAt: number;
}

export interface LatencyPercentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface TrafficTotals {
  requests: number;
  /** Responses with status >= 400. */
  errors: number;
  /** errors / requests, 0 when there were no requests. */
  errorRate: number;
  rateLimitHits: number;
  blocklistHits: number;
  admissionRejections: number;
  inputTokens: number;
  outputTokens: number;
}

export interface RateLimitView {
  enabled: boolean;
  requestsPerMinute: number;
  burst: number;
}

/** One blocklist entry: a single address or a CIDR range. */
export interface BlockedClient {
  /** Canonical address ("10.0.0.7", "2001:db8::1") or network ("10.0.0.0/24"). */
  entry: string;
  /** Epoch ms. */
  addedAt: number;
  /** Epoch ms when it stops matching; null = never. */
  expiresAt: number | null;
  note: string | null;
}

export interface LocalBackendView {
  target: string;
  requested: string;
  selected: string | null;
  devices: string[];
}

/** Traffic figures over one window (the Overview tiles). */
export interface WindowFigures {
  window: StatsWindow;
  /** Seconds the window spans (the rates divide by it). */
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  inputTokensPerSecond: number;
  outputTokensPerSecond: number;
  inputTokens: number;
  outputTokens: number;
  /** 4xx responses except 429. */
  clientErrors: number;
  clientErrorRate: number;
  /** 5xx responses. */
  serverErrors: number;
  serverErrorRate: number;
  /** 429 responses (rate limit, admission, upstream rate limit). */
  rateLimited: number;
  latencyMs: LatencyPercentiles;
  /** p50 time to first token of streamed requests (ms); null without streams. */
  ttftP50Ms: number | null;
}

/** `GET <admin>/api/overview?window=1m|5m|15m|1h` (default 5m). */
export interface OverviewResponse {
  /** The selected window, current figures first. */
  current: WindowFigures;
  inFlight: { active: number; limit: number | null };
  version: string;
  /** Epoch ms when serve started. */
  startedAt: number;
  uptimeSeconds: number;
  ready: boolean;
  /** Totals since start. */
  totals: TrafficTotals;
  /** Latency percentiles (ms) over every request since start. */
  latencyMs: LatencyPercentiles;
  activeRequests: number;
  limits: { maxRequestBytes: number; maxConcurrentRequests: number | null };
  controls: { concurrencyLimit: number | null; configuredConcurrencyLimit: number | null };
  security: { rateLimit: RateLimitView; blockedClients: number };
  localBackends: LocalBackendView[];
  targets: number;
  callers: number;
  /** Budgets past their soft threshold this period, fullest first (docs/budgets.md#soft-threshold); absent = none. */
  budgetAlerts?: BudgetAlert[];
  /** One verdict over the last 5 minutes and the circuits now (docs/dashboard.md#health-verdict). */
  health: HealthVerdict;
  /** Every circuit that is not closed (open, half-open or drained), with the seconds until it lets a request through. */
  circuits: CircuitStripEntry[];
}

export type HealthStatus = 'healthy' | 'degraded' | 'down';

export interface HealthVerdict {
  status: HealthStatus;
  /** Why it is not healthy, one line each (empty when healthy). */
  reasons: string[];
}

export interface CircuitStripEntry {
  target: string;
  state: 'open' | 'half_open' | 'drained';
  /** Seconds until an open circuit lets a probe through (0 when due or half-open); null when drained (until released). */
  retryInSeconds: number | null;
}

/** A key's (`config:<caller>` for a config token) or caller's budget past its soft threshold. */
export interface BudgetAlert {
  scope: 'key' | 'caller';
  name: string;
  period: 'day' | 'week' | 'month' | 'total';
  /** Spent, in percent of the budget (the larger of its USD and token shares). */
  percent: number;
}

export interface TimeseriesPoint {
  /** Epoch ms of the bucket start. */
  start: number;
  /** Counts in the bucket. */
  requests: number;
  clientErrors: number;
  rateLimited: number;
  serverErrors: number;
  inputTokens: number;
  outputTokens: number;
  /** The same as per-second rates (count / bucket seconds). */
  requestsPerSecond: number;
  clientErrorsPerSecond: number;
  rateLimitedPerSecond: number;
  serverErrorsPerSecond: number;
  inputTokensPerSecond: number;
  outputTokensPerSecond: number;
  /** Latency (ms) of requests that finished in this bucket; null when none. */
  latencyP50: number | null;
  latencyP90: number | null;
  latencyP99: number | null;
}

/** `GET <admin>/api/timeseries?range=15m|1h|6h|24h` (default 1h): oldest first, always RANGE_GEOMETRY[range].buckets points. */
export interface TimeseriesResponse {
  range: TimeseriesRange;
  bucketMs: number;
  points: TimeseriesPoint[];
}

/** Figures shared by the callers and targets tables, over the selected window. */
export interface WindowRowFigures {
  requests: number;
  requestsPerSecond: number;
  inputTokens: number;
  outputTokens: number;
  outputTokensPerSecond: number;
  /** Sum of the requests' cost in USD over the window (RequestRecord.costUsd; docs/dashboard.md#views). */
  costUsd: number;
  clientErrors: number;
  serverErrors: number;
  rateLimited: number;
  latencyMs: LatencyPercentiles;
  ttftP50Ms: number | null;
  /** Requests per sparkline point, oldest first (SPARKLINE_POINTS values). */
  spark: number[];
}
export const SPARKLINE_POINTS = 30;

/** `GET <admin>/api/callers?window=…`: configured callers (even idle) plus unauthenticated requests (caller null). */
export interface CallersResponse {
  window: StatsWindow;
  callers: Array<WindowRowFigures & { caller: string | null; lastSeen: number | null }>;
  /** Callers made by managed keys past the dashboard's cap (docs/dashboard.md#callers), not listed; absent = none. */
  untracked?: number;
}

export type TargetHealth = 'ready' | 'degraded' | 'failing' | 'idle';

export interface TargetWindowView extends WindowRowFigures {
  /** Error codes in the window, most frequent first (at most 3). */
  topCodes: Array<{ code: string; count: number }>;
  /** From the success rate (non-5xx share) over the last 5 minutes: ≥ 95 % ready, ≥ 50 % degraded, else failing; idle without traffic. */
  health: TargetHealth;
  lastErrorAt: number | null;
  lastErrorCode: string | null;
  /** Refusal reasons in the window (RequestRecord.reason: circuit_open, drained, no_member …), most frequent first. */
  reasons: Array<{ reason: string; count: number }>;
}

export interface RouteView {
  listener: 'public' | 'management';
  name: string;
  path: string;
  methods: string[];
}

/** `GET <admin>/api/routes`. */
export interface RoutesResponse {
  publicBind: string;
  managementBind: string;
  routes: RouteView[];
  /** Caller labels and the targets each may use (null = every target). Never token values. */
  callers: Array<{ caller: string; targets: string[] | null }>;
  /** Configured `[[groups]]` (routing). */
  groups?: GroupView[];
}

export interface TargetTraffic {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  latencyMs: LatencyPercentiles;
  lastRequestAt: number | null;
}

export interface TargetView {
  name: string;
  type: 'local' | 'openai' | 'openai_compatible' | 'anthropic';
  model: string;
  operations: Operation[];
  baseUrl: string | null;
  backend: { requested: string; selected: string | null; devices: string[] } | null;
  stats: 'off' | 'basic' | 'profile' | null;
  /** Totals since start. */
  traffic: TargetTraffic;
  /** The selected window. */
  window: TargetWindowView;
  runtime: Record<string, number | string | boolean | null> | null;
  profile: Record<string, number | string | null> | null;
  /** Circuit breaker state and drain flag (routing). */
  circuit?: CircuitView;
}

/** `GET <admin>/api/targets?window=…` (default 5m). */
export interface TargetsResponse {
  window: StatsWindow;
  targets: TargetView[];
  /**
   * Requests that named no target or group (404 `resolution`) or were refused
   * before the body was read (401, 403 blocked, 429 rate limit …), with the model names asked for.
   */
  unrouted: TargetWindowView & { models: Array<{ model: string; count: number }> };
  /** Each `[[groups]]` entry: every request routed through it (served by a member or refused). */
  groups: GroupTrafficView[];
}

export interface GroupTrafficView {
  name: string;
  strategy: string;
  members: string[];
  traffic: TargetTraffic;
  window: TargetWindowView;
}

export interface ClientView {
  client: string;
  /** Last caller label seen from this client (null when never authenticated). */
  caller: string | null;
  requests: number;
  errors: number;
  rateLimitHits: number;
  blocklistHits: number;
  inputTokens: number;
  outputTokens: number;
  /** Epoch ms. */
  lastSeen: number;
  blocked: boolean;
}

/** One recent request as the dashboard shows it: exactly the gateway's RequestRecord. */
export type RecentRequestView = RequestRecord;

/** `GET <admin>/api/clients`: top clients by requests, recent requests newest first. */
export interface ClientsResponse {
  clients: ClientView[];
  /** Distinct clients tracked (bounded). */
  trackedClients: number;
  recent: RecentRequestView[];
}

/**
 * `GET <admin>/api/requests?status=&code=&reason=&operation=&target=&group=&caller=&client=&q=&from=&to=&limit=&sort=&cursor=`:
 * one page in the chosen sort (default newest first); `format=csv|json` downloads every match instead (docs/dashboard.md#api).
 */
export interface RequestsResponse {
  requests: RecentRequestView[];
  /** How many of the kept requests match (before `limit`). */
  matched: number;
  /** Requests kept (EXPLORER_CAPACITY at most). */
  kept: number;
  /** Pass as `cursor` (same filter and sort) for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Explorer order (`GET requests?sort=`): newest first, or slowest / slowest first token first. */
export const REQUEST_SORTS = ['time', 'duration', 'ttft'] as const;
export type RequestSort = (typeof REQUEST_SORTS)[number];
/** Explorer export formats (`GET requests?format=`). */
export const REQUEST_EXPORT_FORMATS = ['csv', 'json'] as const;
export type RequestExportFormat = (typeof REQUEST_EXPORT_FORMATS)[number];

/** One admin action, as `GET audit` lists it and the log records it. */
export interface AuditEntry {
  /** Epoch ms. */
  time: number;
  /** e.g. "login", "blocklist.add", "rate_limit.set". */
  action: string;
  before: unknown;
  after: unknown;
  /** Short id of the admin session (null for sign-in failures). */
  session: string | null;
  /** The management client's address. */
  client: string;
  /** Why, as the operator wrote it (drain / release); null when none was given. */
  reason: string | null;
}

/** `GET <admin>/api/audit?action=&logins=show|hide&format=json|csv`: newest first. */
export interface AuditResponse {
  entries: AuditEntry[];
  /** Entries kept before filtering. */
  kept: number;
  capacity: number;
  /** Every action name among the kept entries (for a filter menu), sorted. */
  actions: string[];
}

/** Sign-in and sign-out actions, hidden by `logins=hide` (the dashboard's default). */
export const AUDIT_LOGIN_ACTIONS = ['login', 'login_failed', 'logout'] as const;

/** A JSON value of the sanitized configuration. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };

/**
 * `GET <admin>/api/config`: the effective configuration with every secret
 * removed. Keys ending in `_env` (and `env`) carry environment variable
 * NAMES, never values; URLs lose any user info.
 */
export interface ConfigResponse {
  version: string;
  /** Path of the Prometheus endpoint on the management listener. */
  metricsPath: string;
  config: { [key: string]: ConfigValue };
}

/** `GET <admin>/api/security` and the answer of every security/controls mutation. */
export interface SecurityResponse {
  rateLimit: RateLimitView;
  blocklist: BlockedClient[];
  concurrency: { limit: number | null; configured: number | null; inFlight: number };
  clientIp: { source: 'peer' | 'x_forwarded_for' | 'x_real_ip'; trustedProxyCidrs: string[] };
  totals: { rateLimitHits: number; blocklistHits: number; admissionRejections: number };
}
