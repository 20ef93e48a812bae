/**
 * The TOML configuration schema (docs/configuration.md). Every rule `check` enforces lives
 * here; error messages name the offending field by its TOML path.
 */
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import { MANAGEMENT_ROUTE_KEYS, PUBLIC_ROUTE_KEYS, ROUTE_KEYS, ROUTES, type RouteKey } from '../routes.js';
import { LocalRuntimeSchema } from './local-runtime.js';
import { parseCidr } from './cidr.js';
import { DatabaseSchema } from './database.js';
import { BudgetsSchema, PricingSchema, TOKEN_LIMIT_KEYS } from './budgets.js';
import { TelemetrySchema } from './telemetry.js';
import { CircuitSchema, GroupSchema, checkGroups } from './groups.js';
import { AliasesSchema, checkAliases } from './aliases.js';
import { envName } from './env-name.js';
import { MAX_JSON_DEPTH, PROVIDER_LIMIT_KEYS } from './limits.js';

const label = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => s.trim() === s, 'must not have leading or trailing whitespace')
  .refine((s) => s.trim().length > 0, 'must not be blank');

const routePath = z
  .string()
  .refine((s) => s.startsWith('/'), 'must be an absolute path starting with "/"')
  .refine((s) => !s.includes('?') && !s.includes('#'), 'must not contain "?" or "#"')
  .refine((s) => !/\s/.test(s), 'must not contain whitespace');

export interface BindAddress {
  host: string;
  port: number;
}

export function parseBind(value: string): BindAddress | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const host = m[1] ?? m[2]!;
  if (m[1] && !isIPv6(m[1])) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host, port };
}

const bind = z.string().refine((s) => parseBind(s) !== null, 'must be "host:port" (IPv6 as "[::1]:port", port 0-65535)');

const positiveSeconds = z.number().positive('must be > 0').max(86_400);

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}, 'must be an http(s) URL without credentials, query or fragment');

const LocalTargetSchema = z.strictObject({
  name: label,
  type: z.literal('local'),
  model: z.string().min(1, 'must not be empty'),
  backend: z.enum(['auto', 'cpu', 'cuda', 'metal', 'vulkan']).default('auto'),
  stats: z.enum(['off', 'basic', 'profile']).default('basic'),
  runtime: LocalRuntimeSchema.default(() => LocalRuntimeSchema.parse({})),
  circuit: CircuitSchema.optional(),
  aliases: AliasesSchema,
  pricing: PricingSchema.optional(),
});

const OpenAITargetSchema = z.strictObject({
  name: label,
  type: z.literal('openai'),
  model: label,
  api_key_env: envName,
  base_url: httpUrl.default('https://api.openai.com/v1'),
  /** Absent = `chat`. `responses`: `/v1/responses` requests go to the provider's Responses API as sent (docs/api.md#native-responses-targets). */
  api: z.enum(['chat', 'responses']).optional(),
  timeout_seconds: positiveSeconds.default(60),
  correlation_header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .optional(),
  ...PROVIDER_LIMIT_KEYS,
  circuit: CircuitSchema.optional(),
  aliases: AliasesSchema,
  pricing: PricingSchema.optional(),
});

const CompatibleTargetSchema = z.strictObject({
  name: label,
  type: z.literal('openai_compatible'),
  model: label,
  base_url: httpUrl,
  token_env: envName,
  api: z.enum(['chat', 'responses']).optional(),
  correlation_header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .optional(),
  timeout_seconds: positiveSeconds.default(60),
  ...PROVIDER_LIMIT_KEYS,
  circuit: CircuitSchema.optional(),
  aliases: AliasesSchema,
  pricing: PricingSchema.optional(),
});

const AnthropicTargetSchema = z.strictObject({
  name: label,
  type: z.literal('anthropic'),
  model: label,
  api_key_env: envName,
  base_url: httpUrl.default('https://api.anthropic.com'),
  version: z.string().min(1).default('2023-06-01'),
  timeout_seconds: positiveSeconds.default(60),
  correlation_header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .optional(),
  ...PROVIDER_LIMIT_KEYS,
  circuit: CircuitSchema.optional(),
  aliases: AliasesSchema,
  pricing: PricingSchema.optional(),
});

const TargetSchema = z.discriminatedUnion('type', [
  LocalTargetSchema,
  OpenAITargetSchema,
  CompatibleTargetSchema,
  AnthropicTargetSchema,
]);

const cidr = z.string().refine((s) => parseCidr(s) !== null, 'must be a CIDR such as 10.0.0.0/8 or ::1/128 (valid prefix)');

const SecuritySchema = z.strictObject({
  client_ip: z
    .strictObject({
      source: z.enum(['peer', 'x_forwarded_for', 'x_real_ip']).default('peer'),
      trusted_proxy_cidrs: z.array(cidr).default([]),
    })
    .default({ source: 'peer', trusted_proxy_cidrs: [] }),
  rate_limit: z
    .strictObject({
      enabled: z.boolean().default(false),
      requests_per_minute: z.number().positive('must be > 0').max(1_000_000).default(60),
      burst: z.number().int().positive('must be > 0').max(1_000_000).default(60),
    })
    .default({ enabled: false, requests_per_minute: 60, burst: 60 }),
});

/**
 * [state]: where runtime controls, rate-limit buckets, admin sessions and the
 * fleet registry live. `check` validates the shape only; the Redis URL is read
 * from the env var named by `url_env` at `serve` time (it may hold a password).
 */
const intervalSeconds = z.number().min(0.05, 'must be >= 0.05').max(3600);

export const StateSchema = z
  .strictObject({
    backend: z.enum(['memory', 'redis']).default('memory'),
    file: z.string().min(1, 'must not be empty').optional(),
    url_env: envName.default('SIPP_GATEWAY_REDIS_URL'),
    key_prefix: z
      .string()
      .min(1, 'must not be empty')
      .max(64)
      .regex(/^[A-Za-z0-9_:.-]+$/, 'must use only letters, digits and _ : . -')
      .default('sipp:'),
    on_error: z.enum(['allow', 'deny']).default('allow'),
    heartbeat_seconds: intervalSeconds.default(5),
    replica_timeout_seconds: intervalSeconds.default(15),
    resync_seconds: intervalSeconds.default(10),
    // Fail-fast Redis (docs/configuration.md#state): the request path's budget per command, and the breaker.
    command_budget_ms: z.number().int().min(5, 'must be >= 5').max(1000, 'must be <= 1000').default(50),
    breaker_failures: z.number().int().min(1, 'must be >= 1').max(100).default(3),
    breaker_seconds: z.number().min(0.1, 'must be >= 0.1').max(300).default(2),
  })
  .superRefine((s, ctx) => {
    if (s.backend === 'redis' && s.file !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['file'],
        message: 'only applies to backend = "memory" (Redis is the durable store)',
      });
    }
    if (s.replica_timeout_seconds <= s.heartbeat_seconds) {
      ctx.addIssue({ code: 'custom', path: ['replica_timeout_seconds'], message: 'must be greater than heartbeat_seconds' });
    }
  });

export type StateConfig = z.infer<typeof StateSchema>;

/**
 * [responses]: stored OpenAI Responses API responses (`store: true`), for
 * `previous_response_id` chaining and retrieve / delete / input_items
 * (docs/configuration.md#responses). Kept in the [state] store.
 */
const ResponsesTable = z.strictObject({
  store_ttl_seconds: z
    .number()
    .int()
    .min(1, 'must be >= 1')
    .max(30 * 86_400)
    .default(3600),
  max_stored: z.number().int().positive('must be > 0').max(10_000_000).default(10_000),
  max_stored_mb: z.number().positive('must be > 0').max(1_048_576).default(256),
});
const ResponsesSchema = ResponsesTable.default(() => ResponsesTable.parse({}));

/** `[routes]`: one path per route of the route table (routes.ts), defaulting to the table's. */
const RoutesObject = z.strictObject(
  Object.fromEntries(ROUTE_KEYS.map((k) => [k, routePath.default(ROUTES[k].path)])) as Record<
    RouteKey,
    z.ZodDefault<typeof routePath>
  >,
);
const RoutesSchema = RoutesObject.default(() => RoutesObject.parse({}));

/**
 * `[listeners.public]` / `[listeners.management]`: connection limits and
 * timeouts of one listener (fractions of a second are allowed).
 */
function listenerSchema(defaults: { maxConnections: number; keepAliveSeconds: number }) {
  const schema = z
    .strictObject({
      /** Time a client has to send the complete request head; then 408 and close. */
      headers_timeout_seconds: positiveSeconds.default(10),
      /** Time a client has to send the whole request (head and body). */
      request_timeout_seconds: positiveSeconds.default(30),
      /** How long an idle keep-alive connection is kept open. */
      keep_alive_timeout_seconds: positiveSeconds.default(defaults.keepAliveSeconds),
      /** Open connections at once; further connections are closed on accept. */
      max_connections: z.number().int().positive('must be > 0').max(1_000_000).default(defaults.maxConnections),
    })
    .superRefine((l, ctx) => {
      if (l.headers_timeout_seconds > l.request_timeout_seconds) {
        ctx.addIssue({ code: 'custom', path: ['headers_timeout_seconds'], message: 'must not exceed request_timeout_seconds' });
      }
    });
  return schema.default(() => schema.parse({}));
}

const ListenersTable = z.strictObject({
  public: listenerSchema({ maxConnections: 1024, keepAliveSeconds: 65 }),
  management: listenerSchema({ maxConnections: 64, keepAliveSeconds: 5 }),
});
const ListenersSchema = ListenersTable.default(() => ListenersTable.parse({}));

/** A host name or IP address (no port), as a Host header would name it. */
const allowedHost = z
  .string()
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .refine(
    (s) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(s) || isIP(s) !== 0,
    'must be a host name or IP address without port or brackets',
  );

/** `[admin]`: automation access to the admin API (docs/configuration.md#admin). */
const AdminTable = z.strictObject({
  /** Environment variable holding a bearer token the admin API accepts instead of a session (never the public listener). */
  api_token_env: envName.optional(),
});

const TokenSchema = z.strictObject({
  env: envName,
  caller: label,
  targets: z.array(label).default([]),
  ...TOKEN_LIMIT_KEYS,
});

export const ConfigSchema = z
  .strictObject({
    public_bind: bind.default('127.0.0.1:8080'),
    management_bind: bind.default('127.0.0.1:9090'),
    max_request_bytes: z.number().int().positive('must be > 0').default(1_048_576),
    max_json_depth: MAX_JSON_DEPTH,
    max_concurrent_requests: z.number().int().positive('must be > 0').optional(),
    allowed_origins: z
      .array(
        z.string().refine((s) => {
          if (s === '*') return false;
          try {
            const u = new URL(s);
            return u.origin === s;
          } catch {
            return false;
          }
        }, 'must be an exact origin such as "https://app.example.com" (no wildcard, path or trailing slash)'),
      )
      .default([]),
    management_allowed_hosts: z.array(allowedHost).default([]),
    /** Let image URLs name private, loopback, link-local or metadata hosts (docs/configuration.md#top-level). */
    allow_private_image_urls: z.boolean().default(false),
    admin_password_env: envName,
    admin: AdminTable.optional(),
    security: SecuritySchema,
    state: StateSchema.default(() => StateSchema.parse({})),
    database: DatabaseSchema.optional(),
    budgets: BudgetsSchema,
    telemetry: TelemetrySchema.default(() => TelemetrySchema.parse({})),
    routes: RoutesSchema,
    responses: ResponsesSchema,
    listeners: ListenersSchema,
    tokens: z.array(TokenSchema).min(1, 'at least one [[tokens]] entry is required'),
    targets: z.array(TargetSchema).min(1, 'at least one [[targets]] entry is required'),
    groups: z.array(GroupSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.public_bind === cfg.management_bind) {
      const pub = parseBind(cfg.public_bind);
      if (pub && pub.port !== 0) {
        ctx.addIssue({ code: 'custom', path: ['management_bind'], message: 'must differ from public_bind' });
      }
    }
    const r = cfg.routes;
    // The routes of one listener must be distinct (the route table says which listener serves which key).
    for (const keys of [PUBLIC_ROUTE_KEYS, MANAGEMENT_ROUTE_KEYS])
      checkDistinct(
        ctx,
        keys.map((k) => [k, r[k]]),
      );
    const names = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (names.has(t.name))
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
      names.add(t.name);
    });
    checkGroups(ctx, cfg.targets, cfg.groups);
    checkAliases(ctx, cfg.targets, cfg.groups);
    for (const g of cfg.groups) names.add(g.name);
    const callers = new Set<string>();
    cfg.tokens.forEach((t, i) => {
      if (callers.has(t.caller))
        ctx.addIssue({ code: 'custom', path: ['tokens', i, 'caller'], message: `duplicate caller label "${t.caller}"` });
      callers.add(t.caller);
      t.targets.forEach((name, j) => {
        if (!names.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['tokens', i, 'targets', j],
            message: `unknown target "${name}" (no target or group has this name)`,
          });
      });
    });
  });

function checkDistinct(ctx: z.RefinementCtx, entries: Array<readonly [string, string]>): void {
  const seen = new Map<string, string>();
  for (const [key, path] of entries) {
    const other = seen.get(path);
    if (other) ctx.addIssue({ code: 'custom', path: ['routes', key], message: `must differ from routes.${other} ("${path}")` });
    else seen.set(path, key);
  }
}

export type GatewayConfig = z.infer<typeof ConfigSchema>;
export type TargetConfig = GatewayConfig['targets'][number];
export type LocalTargetConfig = Extract<TargetConfig, { type: 'local' }>;
export type OpenAITargetConfig = Extract<TargetConfig, { type: 'openai' }>;
export type CompatibleTargetConfig = Extract<TargetConfig, { type: 'openai_compatible' }>;
export type AnthropicTargetConfig = Extract<TargetConfig, { type: 'anthropic' }>;
export type ProviderTargetConfig = OpenAITargetConfig | CompatibleTargetConfig | AnthropicTargetConfig;
export type GroupConfig = GatewayConfig['groups'][number];
export type TokenConfig = GatewayConfig['tokens'][number];
export type RoutesConfig = GatewayConfig['routes'];
export type ListenerConfig = GatewayConfig['listeners']['public'];
