/**
 * Wires one gateway process as a short list of named steps (the numbered
 * comments below; the steps themselves are in startup.ts): secrets →
 * controls and metrics → targets and router → [state] → admin, public and
 * management apps → listeners → target loading (readiness waits for it).
 * Shutdown drains, then closes in the one order of Teardown.
 */
import type { Server } from 'node:http';
import { createAdmin } from './admin/index.js';
import { parseBind, type GatewayConfig } from './config/schema.js';
import { readSecrets } from './config/secrets.js';
import { InFlight } from './inflight.js';
import { listen } from './listen.js';
import { createManagementApp } from './management/app.js';
import { createPublicApp } from './public/app.js';
import { pipelineModules } from './public/modules/index.js';
import { composeStages, type PipelineModule } from './public/stages.js';
import { createAuthenticator } from './security/bearer.js';
import { createClientIdentifier } from './security/client-identity.js';
import type { Controls } from './security/controls.js';
import { createRouter, type RoutingClock } from './routing/from-config.js';
import type { Router } from './routing/router.js';
import { createControls, createTargets, indexDocument, loadTargets, Teardown, urlSecrets } from './startup.js';
import { checkModelFiles } from './targets/model-files.js';
import type { Target } from './targets/target.js';
import { createLogging, type Logging } from './telemetry/logger.js';
import { createMetrics, createRoutingMetrics } from './telemetry/metrics.js';
import { startTracing, tracingSettings } from './telemetry/tracing.js';
import type { UsageService } from './usage/index.js';
import type { KeyService } from './keys/service.js';
import { createGatewayState, type GatewayState } from './state/index.js';
import { createBudgets } from './budgets/index.js';
import { createResponseStore } from './surfaces/responses/store.js';
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
  controls: Controls;
  /** The [state] store: shared (redis) or local (memory) controls, sessions and fleet registry. */
  state: GatewayState;
  /** Usage history writer when `[database]` is configured. */
  usage: UsageService | null;
  /** Managed keys when `[database]` is configured (docs/keys.md). */
  keys: KeyService | null;
}

/** How long start-up waits for caller budgets and the spend seed (docs/budgets.md#restarts). */
const BUDGETS_READY_MS = 15_000;

function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<void>((done) => (timer = setTimeout(done, ms)))]).finally(() => clearTimeout(timer));
}

/** How long cut requests get to finish their bookkeeping before connections are closed. */
const CUT_SETTLE_MS = 2_000;

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logging = options.logging ?? createLogging({ env });
  const log = logging.component('sipp_gateway_server');
  const teardown = new Teardown();
  let loadedAll = false;
  let draining = false;
  const ready = () => loadedAll && !draining;

  // 1. Secrets, read once and registered with the log redactor before anything can log them; tracing when on.
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
  const tracing = (teardown.tracing = traceSettings ? await startTracing(config.telemetry.traces, traceSettings, VERSION) : null);
  if (tracing)
    log.info(
      { endpoint: tracing.endpoint.replace(/\/\/[^@/]*@/, '//'), protocol: tracing.protocol },
      'tracing on: exporting spans over OTLP/HTTP',
    );

  // 2. Runtime controls and metrics.
  const controls = createControls(config);
  const metrics = createMetrics({
    targetNames: config.targets.map((t) => t.name),
    activeRequests: () => controls.admission.inFlight,
    maxConcurrentRequests: config.max_concurrent_requests ?? null,
    ready,
    processMetrics: options.processMetrics,
  });
  // Usage history (docs/usage.md): written in the background, never on the request path. Its code and the
  // managed keys' are imported only with [database] (docs/operations.md#memory).
  const database = config.database ? await Promise.all([import('./usage/index.js'), import('./keys/service.js')]) : null;
  const usage = (teardown.usage =
    config.database && database
      ? database[0].startUsage(config.database, {
          env,
          log: logging.component('sipp_gateway_server::usage'),
          registry: metrics.registry,
        })
      : null);
  // Managed keys (docs/keys.md): a per-replica cache of the usage database's keys, polled, never on the request path.
  const keys = (teardown.keys =
    usage && database
      ? database[1].startKeys({
          database: usage.database,
          names: new Set([...config.targets.map((t) => t.name), ...config.groups.map((g) => g.name)]),
          log: logging.component('sipp_gateway_server::keys'),
        })
      : null);

  // 3. Targets (created, not loaded) and the router over them.
  const targets = (teardown.targets = await teardown.unwinding(
    createTargets(config, {
      log: logging.component('sipp_gateway_server::targets'),
      registry: metrics.registry,
      secret: secrets.get,
    }),
  ));
  const routingMetrics = createRoutingMetrics(
    metrics.registry,
    config.targets.map((t) => t.name),
    config.groups.map((g) => g.name),
  );
  const router = createRouter(
    config,
    targets,
    logging.component('sipp_gateway_server::routing'),
    routingMetrics,
    options.routing,
  );
  routingMetrics.watchCircuits(() => router.circuitStates());

  // 4. The [state] store (shared or local controls, sessions, fleet registry).
  const startedAt = Date.now();
  const state = (teardown.state = await teardown.unwinding(
    createGatewayState({
      config: config.state,
      env,
      live: { ...controls, drains: () => [...router.circuitStates()].map(([name]) => [name, router.breaker(name)!] as const) },
      registry: metrics.registry,
      log: logging.component('sipp_gateway_server::state'),
      version: VERSION,
      startedAt,
      inFlight: () => controls.admission.inFlight,
    }),
  ));
  if (state.buckets) controls.rateLimiter.shareBuckets(state.buckets);
  // Budgets, cost and per-key limits (docs/budgets.md): spend seeded from the usage database before serving.
  const budgets = createBudgets({
    config,
    state,
    database: usage ? () => usage.database() : null,
    log: logging.component('sipp_gateway_server::budgets'),
    registry: metrics.registry,
  });
  await settledWithin(budgets.ready, BUDGETS_READY_MS);
  // Stored Responses API responses (docs/configuration.md#responses): in the [state] store, so closed with it.
  const responses = createResponseStore({
    ttlMs: config.responses.store_ttl_seconds * 1000,
    maxStored: config.responses.max_stored,
    maxStoredBytes: config.responses.max_stored_mb * 1_048_576,
    kv: state.kv,
  });

  // 5. The admin module, the public app (pipeline modules, docs/architecture.md) and the management app.
  const admin = (teardown.admin = createAdmin({
    config,
    version: VERSION,
    startedAt,
    adminPassword: secrets.adminPassword,
    adminApiToken: secrets.adminApiToken,
    keys: keys?.manager ?? null,
    ...(keys ? { keyCallers: () => keys.cache.callers() } : {}),
    log: logging.component('sipp_gateway_server::admin'),
    registry: metrics.registry,
    controls,
    targets: () => [...targets.values()].map((t) => t.describe()),
    router,
    ready,
    state,
    budgets: budgets.service,
    assetsDir: env.SIPP_GATEWAY_ADMIN_ASSETS_DIR || undefined,
    usage,
  }));
  budgets.service.audit = admin.audit;

  const inflight = new InFlight();
  const publicLog = logging.component('sipp_gateway_server::public');
  const requestPolicy = { allowPrivateImageUrls: config.allow_private_image_urls };
  const modules = pipelineModules({
    tracing,
    controls,
    authenticate: keys
      ? keys.wrap(createAuthenticator(config.tokens, secrets.tokens))
      : createAuthenticator(config.tokens, secrets.tokens),
    router,
    requestPolicy,
    budgets: { service: budgets.service, defaultMaxTokens: config.budgets.default_max_tokens },
    observers: { metrics, dashboard: admin.observer, fleet: state.fleet.observer, ...(usage ? { usage } : {}) },
  }).concat(options.modules ?? []);
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
    responses,
    log: publicLog,
    requestPolicy,
  });

  const managementApp = createManagementApp({
    routes: config.routes,
    registry: metrics.registry,
    admin,
    log: logging.component('sipp_gateway_server::management'),
    ready,
    index: () => indexDocument(config, targets),
    hosts: { bindHost: parseBind(config.management_bind)!.host, allowed: config.management_allowed_hosts },
  });

  // 6. Listen on both binds.
  let pub: { server: Server; url: string };
  let mgmt: { server: Server; url: string };
  try {
    pub = await listen(publicApp, config.public_bind, 'public_bind', config.listeners.public, log);
    teardown.servers.push(pub.server);
    mgmt = await listen(managementApp, config.management_bind, 'management_bind', config.listeners.management, log);
    teardown.servers.push(mgmt.server);
  } catch (err) {
    await teardown.close();
    throw err;
  }
  log.info({ public: pub.url, management: mgmt.url, version: VERSION }, 'listening');

  // 7. Load the targets; readiness follows.
  const loaded = loadTargets(targets, log).then(() => {
    loadedAll = true;
  });
  loaded.catch(() => {});

  // Shutdown: drain, cut what outlives the grace, then the one close order (Teardown).
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
      for (const s of teardown.servers) s.closeAllConnections();
      await teardown.close();
      budgets.close();
      log.info('stopped');
      // stdout is written asynchronously: the lines logged so far, this one included, leave before the process exits.
      await logging.flush();
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
    controls,
    state,
    usage,
    keys,
  };
}
