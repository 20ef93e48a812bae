/**
 * The gateway's state store ([state]): one interface over the embedded memory
 * backend (optionally durable through a JSON file) and the Redis backend that
 * lets N replicas share rate-limit buckets, runtime controls, admin sessions
 * and a fleet registry. See docs/operations.md "Scaling out".
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from '../telemetry/prom.js';
import type { StateConfig } from '../config/schema.js';
import type { ControlChange, LiveControls } from './controls.js';
import { createFileControlsStore, createRedisControlsStore, noControlsStore, type ControlsStore } from './controls-store.js';
import { ControlsSync } from './controls-sync.js';
import { Fleet, createRedisFleetStore } from './fleet.js';
import { COMMAND_TIMEOUT_MS, connectRedis, redisUrlFrom, type RedisConnection } from './redis-connection.js';
import { RedisBreaker } from './redis-breaker.js';
import { createSharedBuckets, type SharedBuckets } from './shared-buckets.js';
import { createRedisKv, type SharedKv } from './shared-kv.js';

export { StateUnavailableError } from './errors.js';
export { RedisSkippedError } from './redis-breaker.js';
export type { SharedKv } from './shared-kv.js';

export interface GatewayState {
  backend: 'memory' | 'redis';
  replicaId: string;
  /** Redis only: rate-limit buckets every replica shares. */
  buckets: SharedBuckets | null;
  /** Redis only: admin sessions, session signing key and login throttle. */
  kv: SharedKv | null;
  fleet: Fleet;
  /** Redis only: the connection, its fail-fast breaker and settings, for other shared stores (budgets, docs/budgets.md). */
  redis: SharedRedis | null;
  /** Stores (and, with Redis, broadcasts) a control change already applied here. */
  changed(change: ControlChange): Promise<void>;
  close(): Promise<void>;
}

export interface SharedRedis {
  client: Redis;
  breaker: RedisBreaker;
  keyPrefix: string;
  onError: 'allow' | 'deny';
  countError: () => void;
  /** Registers a step (sending what a shared store still holds) run when the state closes, before Redis disconnects. */
  beforeClose(step: () => Promise<void>): void;
}

export interface StateOptions {
  config: StateConfig;
  /** Folder relative `file` paths resolve against (the config file's folder). */
  baseDir?: string;
  env: NodeJS.ProcessEnv;
  live: LiveControls;
  registry: Registry;
  log: Logger;
  version: string;
  startedAt: number;
  inFlight: () => number;
}

/** Waits until the connection is ready or has failed once (never longer than `ms`). */
function settled(conn: RedisConnection, ms: number): Promise<void> {
  if (conn.up()) return Promise.resolve();
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      conn.client.off('ready', finish);
      conn.client.off('error', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    conn.client.once('ready', finish);
    conn.client.once('error', finish);
  });
}

export async function createGatewayState(o: StateOptions): Promise<GatewayState> {
  const c = o.config;
  const errors = new Counter({
    name: 'sipp_gateway_state_errors_total',
    help: 'Failed operations on the shared state store (Redis unreachable, a command failed, the state file unwritable).',
    registers: [o.registry],
  });
  // Background commands (heartbeat, controls reload) that hit ioredis' own timeout: logged, at most one line a minute.
  let lastTimeoutLine = -Infinity;
  let timeoutsSinceLine = 0;
  const countError = (err?: unknown) => {
    errors.inc();
    if ((err as { message?: unknown } | undefined)?.message !== 'Command timed out') return;
    timeoutsSinceLine++;
    if (Date.now() - lastTimeoutLine < 60_000) return;
    o.log.warn(
      { timeouts: timeoutsSinceLine, timeoutMs: COMMAND_TIMEOUT_MS },
      'state store (redis) background command timed out',
    );
    lastTimeoutLine = Date.now();
    timeoutsSinceLine = 0;
  };
  const replicaId = `${hostname()}-${randomBytes(4).toString('hex')}`;
  const fleetBase = {
    id: replicaId,
    host: hostname(),
    version: o.version,
    startedAt: o.startedAt,
    inFlight: o.inFlight,
    heartbeatMs: c.heartbeat_seconds * 1000,
    replicaTimeoutMs: c.replica_timeout_seconds * 1000,
    log: o.log,
    countError,
  };

  if (c.backend === 'memory') {
    const store: ControlsStore = c.file ? createFileControlsStore(resolve(o.baseDir ?? '.', c.file)) : noControlsStore;
    const sync = new ControlsSync(o.live, store, o.log, countError);
    await sync.resync();
    const fleet = new Fleet({ ...fleetBase, backend: 'memory', store: null });
    fleet.start();
    return {
      backend: 'memory',
      replicaId,
      buckets: null,
      kv: null,
      redis: null,
      fleet,
      changed: (change) => sync.changed(change),
      async close() {
        await fleet.close();
      },
    };
  }

  const conn = connectRedis(redisUrlFrom(o.env, c.url_env), o.log, countError);
  const prefix = c.key_prefix;
  const m = breakerMetrics(o.registry);
  let buckets: SharedBuckets | undefined;
  const breaker = new RedisBreaker({
    budgetMs: c.command_budget_ms,
    failures: c.breaker_failures,
    openMs: c.breaker_seconds * 1000,
    log: o.log,
    onTrip: () => m.trips.inc(),
    onTimeout: () => m.timeouts.inc(),
    onSkipping: (skipping) => m.skipping.set(skipping ? 1 : 0),
    // Back: what was admitted locally meanwhile is charged to the shared buckets.
    onRecover: () => void buckets?.flushCharges(),
  });
  const sync = new ControlsSync(o.live, createRedisControlsStore(conn.client, conn.subscriber, prefix), o.log, countError);
  const fleet = new Fleet({ ...fleetBase, backend: 'redis', store: createRedisFleetStore(conn.client, prefix) });
  await settled(conn, 2_000);
  await sync.start(c.resync_seconds * 1000);
  // Back after an outage: reload the controls and re-register without waiting for the timers.
  conn.onReady(() => {
    breaker.success();
    void sync.resync();
    void fleet.beat();
  });
  fleet.start();
  const beforeClose: Array<() => Promise<void>> = [];
  return {
    backend: 'redis',
    replicaId,
    buckets: (buckets = createSharedBuckets({
      redis: conn.client,
      keyPrefix: prefix,
      onError: c.on_error,
      countError,
      breaker,
      liveReplicas: () => fleet.liveReplicas(),
      onLocalDecision: () => m.local.inc(),
    })),
    kv: createRedisKv(conn.client, prefix, countError, breaker),
    redis: {
      client: conn.client,
      breaker,
      keyPrefix: prefix,
      onError: c.on_error,
      countError,
      beforeClose: (step) => void beforeClose.push(step),
    },
    fleet,
    changed: (change) => sync.changed(change),
    async close() {
      await Promise.all(beforeClose.map((step) => step().catch(() => {})));
      sync.close();
      await fleet.close();
      await conn.close();
    },
  };
}

/** The fail-fast breaker's metrics (docs/operations.md#metrics). */
function breakerMetrics(registry: Registry) {
  return {
    skipping: new Gauge({
      name: 'sipp_gateway_state_redis_skipped',
      help: '1 while the state store breaker skips Redis after consecutive failures (rate limits enforced locally), else 0.',
      registers: [registry],
    }),
    trips: new Counter({
      name: 'sipp_gateway_state_breaker_trips_total',
      help: 'Times the state store breaker started skipping Redis after consecutive failures.',
      registers: [registry],
    }),
    timeouts: new Counter({
      name: 'sipp_gateway_state_command_timeouts_total',
      help: 'State store commands that ran out of their budget ([state] command_budget_ms).',
      registers: [registry],
    }),
    local: new Counter({
      name: 'sipp_gateway_state_local_rate_decisions_total',
      help: "Rate-limit decisions taken locally (this replica's share of the limit) because Redis was skipped or failed.",
      registers: [registry],
    }),
  };
}
