/**
 * Wires one gateway process: secrets → targets → security → telemetry →
 * public and management listeners; then loads targets (readiness waits for
 * them) and drains gracefully on shutdown.
 */
import { APIS, OPERATIONS, type IndexDocument } from '@sipp/shared';
import type { Server } from 'node:http';
import { createAdmin } from './admin/index.js';
import { parseBind, type GatewayConfig } from './config/schema.js';
import { readSecrets } from './config/secrets.js';
import { InFlight } from './inflight.js';
import { closeServer, listen, StartupError } from './listen.js';
import { createManagementApp } from './management/app.js';
import { createPublicApp } from './public/app.js';
import { pipelineModules } from './public/modules/index.js';
import { observe } from './public/modules/observers.js';
import { composeStages, type PipelineModule } from './public/stages.js';
import { Admission } from './security/admission.js';
import { createAuthenticator } from './security/bearer.js';
import { Blocklist } from './security/blocklist.js';
import { createClientIdentifier } from './security/client-identity.js';
import { RateLimiter } from './security/rate-limit.js';
import { createRouter, type RoutingClock } from './routing/from-config.js';
import type { Router } from './routing/router.js';
import { MANAGEMENT_ROUTE_KEYS, pathsOf, PUBLIC_ROUTE_KEYS } from './routes.js';
import { checkModelFiles } from './targets/model-files.js';
import { createTarget } from './targets/registry.js';
import type { Target } from './targets/target.js';
import { createLogging, type Logging } from './telemetry/logger.js';
import { createMetrics, createRoutingMetrics } from './telemetry/metrics.js';
import { createGatewayState, type GatewayState } from './state/index.js';
import { createResponseStore } from './surfaces/responses/store.js';
import { startTracing, tracingSettings } from './telemetry/tracing.js';
import { tracingModule } from './public/modules/tracing.js';
import { startUsage, type UsageService } from './usage/index.js';
import { VERSION } from './version.js';

export interface GatewayOptions {
  config: GatewayConfig;
  env?: NodeJS.ProcessEnv;
  logging?: Logging;
  /** How long in-flight requests may run on after a shutdown starts. Default 30 s. */
  graceMs?: number;
  /** Prometheus default process metrics (off in tests that start many gateways). */
  processMetrics?: boolean;
  /** Clock, jitter and backoff sleep of the router (tests inject fakes). */
  routing?: RoutingClock;
  /** Pipeline modules run after the registered ones (public/modules/index.ts) in each stage (tests, embedders). */
  modules?: readonly PipelineModule[];
}

export interface RunningGateway {
  publicUrl: string;
  managementUrl: string;
  /** Resolves when every target has loaded; rejects with the first load failure. */
  loaded: Promise<void>;
  ready(): boolean;
  /** Drains (readiness 503, new requests 503) then closes everything. Idempotent. */
  shutdown(): Promise<void>;
  targets: ReadonlyMap<string, Target>;
  /** Groups, circuits and drains. */
  router: Router;
  /** The two HTTP servers (tests observe their sockets). */
  servers: { public: Server; management: Server };
  /** Runtime controls (the admin API changes these). */
  controls: { blocklist: Blocklist; rateLimiter: RateLimiter; admission: Admission };
  /** The [state] store: shared (redis) or local (memory) controls, sessions and fleet registry. */
  state: GatewayState;
  /** Usage history writer when `[database]` is configured. */
  usage: UsageService | null;
}

/** How long cut requests get to finish their bookkeeping before connections are closed. */
const CUT_SETTLE_MS = 2_000;

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logging = options.logging ?? createLogging({ env });
  const log = logging.component('sipp_gateway_server');
  const secrets = readSecrets(config, env);
  await checkModelFiles(config.targets);
  const redisUrl = config.state.backend === 'redis' ? env[config.state.url_env] : undefined;
  const databaseUrl = config.database?.backend === 'postgres' ? env[config.database.url_env!] : undefined;
  const traceSettings = tracingSettings(config.telemetry.traces, env);
  logging.addSecrets([
    ...secrets.all(),
    ...[redisUrl, databaseUrl].flatMap((u) => (u ? urlSecrets(u) : [])),
    ...Object.values(traceSettings?.headers ?? {}),
  ]);
  // OpenTelemetry traces (docs/operations.md#traces): the SDK is loaded only when tracing is on.
  const tracing = traceSettings ? await startTracing(config.telemetry.traces, traceSettings, VERSION) : null;
  if (tracing) log.info({ endpoint: tracing.endpoint.replace(/\/\/[^@/]*@/, '//'), protocol: tracing.protocol }, 'tracing on: exporting spans over OTLP/HTTP');

  const blocklist = new Blocklist();
  const rl = config.security.rate_limit;
  const rateLimiter = new RateLimiter({ enabled: rl.enabled, requestsPerMinute: rl.requests_per_minute, burst: rl.burst });
  const admission = new Admission(config.max_concurrent_requests ?? null);
  const metrics = createMetrics({
    targetNames: config.targets.map((t) => t.name),
    activeRequests: () => admission.inFlight,
    maxConcurrentRequests: config.max_concurrent_requests ?? null,
    // Read at scrape time, after `ready` below is defined.
    ready: () => ready(),
    processMetrics: options.processMetrics,
  });
  // Usage history (docs/usage.md): written in the background, never on the request path.
  const usage = config.database
    ? startUsage(config.database, { env, log: logging.component('sipp_gateway_server::usage'), registry: metrics.registry })
    : null;


  const targetLog = logging.component('sipp_gateway_server::targets');
  const targets = new Map<string, Target>();
  for (const tc of config.targets) {
    try {
      targets.set(tc.name, await createTarget(tc, { log: targetLog.child({ target: tc.name }), registry: metrics.registry, secret: secrets.get }));
    } catch (err) {
      await Promise.allSettled([...targets.values()].map((t) => t.close()));
      const message = (err as Error).message;
      throw new StartupError(message.includes(`"${tc.name}"`) ? message : `target "${tc.name}" cannot be created: ${message}`);
    }
  }

  const routingMetrics = createRoutingMetrics(metrics.registry, config.targets.map((t) => t.name), config.groups.map((g) => g.name));
  const router = createRouter(config, targets, logging.component('sipp_gateway_server::routing'), routingMetrics, options.routing);
  routingMetrics.watchCircuits(() => router.circuitStates());

  const startedAt = Date.now();
  let state: GatewayState;
  try {
    state = await createGatewayState({
      config: config.state,
      env,
      live: { blocklist, rateLimiter, admission, drains: () => [...router.circuitStates()].map(([name]) => [name, router.breaker(name)!] as const) },
      registry: metrics.registry,
      log: logging.component('sipp_gateway_server::state'),
      version: VERSION,
      startedAt,
      inFlight: () => admission.inFlight,
    });
  } catch (err) {
    await Promise.allSettled([...targets.values()].map((t) => t.close()));
    await usage?.close();
    throw err;
  }
  if (state.buckets) rateLimiter.shareBuckets(state.buckets);

  let loadedAll = false;
  let draining = false;
  const ready = () => loadedAll && !draining;

  const admin = createAdmin({
    config,
    version: VERSION,
    startedAt,
    adminPassword: secrets.adminPassword,
    log: logging.component('sipp_gateway_server::admin'),
    registry: metrics.registry,
    blocklist,
    rateLimiter,
    admission,
    targets: () => [...targets.values()].map((t) => t.describe()),
    router,
    ready,
    state,
    assetsDir: env.SIPP_GATEWAY_ADMIN_ASSETS_DIR || undefined,
  });

  const inflight = new InFlight();
  const publicLog = logging.component('sipp_gateway_server::public');
  const modules = (tracing ? [tracingModule(tracing)] : []).concat(pipelineModules({
    controls: { blocklist, rateLimiter, admission },
    authenticate: createAuthenticator(config.tokens, secrets.tokens),
    router,
    observers: { metrics, dashboard: admin.observer, fleet: state.fleet.observer },
  }))
    .concat(usage ? [observe('usage', usage)] : [])
    .concat(options.modules ?? []);
  const publicApp = createPublicApp({
    config,
    maxRequestBytes: config.max_request_bytes,
    maxJsonDepth: config.max_json_depth,
    targets,
    router,
    stages: composeStages(modules, publicLog),
    identify: createClientIdentifier(config.security.client_ip.source, config.security.client_ip.trusted_proxy_cidrs),
    draining: () => draining,
    loading: () => !loadedAll,
    inflight,
    responses: createResponseStore({
      ttlMs: config.responses.store_ttl_seconds * 1000,
      maxStored: config.responses.max_stored,
      maxStoredBytes: config.responses.max_stored_mb * 1_048_576,
      kv: state.kv,
    }),
    log: publicLog,
  });

  const indexDoc = (): IndexDocument => ({
    name: 'sipp-gateway',
    version: VERSION,
    capabilities: [...OPERATIONS],
    apis: [...APIS],
    routes: { public: pathsOf(PUBLIC_ROUTE_KEYS, config.routes), management: pathsOf(MANAGEMENT_ROUTE_KEYS, config.routes) },
    targets: [...targets.values()].map((t) => {
      const d = t.describe();
      return {
        name: d.name,
        type: d.type,
        operations: d.operations,
        ...(d.backend ? { backend: { requested: d.backend.requested, selected: d.backend.selected } } : {}),
      };
    }),
  });

  const managementApp = createManagementApp({
    routes: config.routes,
    registry: metrics.registry,
    admin,
    log: logging.component('sipp_gateway_server::management'),
    ready,
    index: indexDoc,
    hosts: { bindHost: parseBind(config.management_bind)!.host, allowed: config.management_allowed_hosts },
  });

  const servers: Server[] = [];
  const closeTargets = async () => {
    await Promise.allSettled([...targets.values()].map((t) => t.close()));
  };
  let pub: { server: Server; url: string };
  let mgmt: { server: Server; url: string };
  try {
    pub = await listen(publicApp, config.public_bind, 'public_bind', config.listeners.public, log);
    servers.push(pub.server);
    mgmt = await listen(managementApp, config.management_bind, 'management_bind', config.listeners.management, log);
    servers.push(mgmt.server);
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    admin.close();
    await closeTargets();
    await state.close();
    await usage?.close();
    throw err;
  }
  log.info({ public: pub.url, management: mgmt.url, version: VERSION }, 'listening');

  const loaded = (async () => {
    const began = performance.now();
    for (const t of targets.values()) {
      try {
        await t.load();
      } catch (err) {
        const message = (err as Error).message;
        throw new StartupError(message.includes(`"${t.name}"`) ? message : `target "${t.name}" failed to load: ${message}`);
      }
    }
    loadedAll = true;
    log.info({ targets: targets.size, ms: Math.round(performance.now() - began) }, 'targets loaded; ready');
  })();
  loaded.catch(() => {});

  let shutdownPromise: Promise<void> | undefined;
  const graceMs = options.graceMs ?? 30_000;
  const shutdown = () =>
    (shutdownPromise ??= (async () => {
      draining = true;
      log.info({ inFlight: inflight.size, graceMs }, 'draining');
      const idle = await inflight.idle(graceMs);
      if (!idle) {
        // Streams get a final shutting_down frame, waiting requests a 503; each writes its request line.
        const cut = inflight.cutAll();
        log.warn({ inFlight: cut }, 'grace period over; cutting the remaining requests');
        await inflight.idle(CUT_SETTLE_MS);
      }
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map(closeServer));
      admin.close();
      await closeTargets();
      await state.close();
      // Every request has written its row (and ended its spans) by now: flush them.
      await Promise.all([usage?.close(), tracing?.shutdown().catch(() => {})]);
      log.info('stopped');
    })());

  return {
    publicUrl: pub.url,
    managementUrl: mgmt.url,
    loaded,
    ready,
    shutdown,
    targets,
    router,
    servers: { public: pub.server, management: mgmt.server },
    controls: { blocklist, rateLimiter, admission },
    state,
    usage,
  };
}

/** A Redis or PostgreSQL URL and its password, for the log redactor (neither is ever logged on purpose). */
function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [url, decodeURIComponent(u.password)].filter((v) => v.length >= 4);
  } catch {
    return [url];
  }
}
