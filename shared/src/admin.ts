/**
 * Admin Dashboard JSON API (SPEC §7): request bodies and response shapes,
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

/** Timeseries geometry: 10 s buckets over 30 minutes. */
export const TIMESERIES_BUCKET_MS = 10_000;
export const TIMESERIES_BUCKETS = 180;

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

export interface BlockedClient {
  ip: string;
  /** Epoch ms. */
  addedAt: number;
}

export interface LocalBackendView {
  target: string;
  requested: string;
  selected: string | null;
  devices: string[];
}

/** `GET <admin>/api/overview`. */
export interface OverviewResponse {
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
}

export interface TimeseriesPoint {
  /** Epoch ms of the bucket start. */
  start: number;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  /** Latency (ms) of requests that finished in this bucket; null when none. */
  latencyP50: number | null;
  latencyP99: number | null;
}

/** `GET <admin>/api/timeseries`: oldest first, always TIMESERIES_BUCKETS points. */
export interface TimeseriesResponse {
  bucketMs: number;
  points: TimeseriesPoint[];
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
  traffic: TargetTraffic;
  runtime: Record<string, number | string | boolean | null> | null;
  profile: Record<string, number | string | null> | null;
  /** Circuit breaker state and drain flag (routing). */
  circuit?: CircuitView;
}

/** `GET <admin>/api/targets`. */
export interface TargetsResponse {
  targets: TargetView[];
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

/** `GET <admin>/api/security` and the answer of every security/controls mutation. */
export interface SecurityResponse {
  rateLimit: RateLimitView;
  blocklist: BlockedClient[];
  concurrency: { limit: number | null; configured: number | null; inFlight: number };
  clientIp: { source: 'peer' | 'x_forwarded_for' | 'x_real_ip'; trustedProxyCidrs: string[] };
  totals: { rateLimitHits: number; blocklistHits: number; admissionRejections: number };
}
