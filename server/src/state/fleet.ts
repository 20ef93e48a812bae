/**
 * The fleet registry: every replica writes its heartbeat (id, host, version,
 * start time, counters) every `heartbeat_seconds`; a replica whose last
 * heartbeat is older than `replica_timeout_seconds` shows as down. With the
 * memory backend the fleet is this replica alone.
 */
import type { FleetResponse, ReplicaView } from '@sipp/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RequestObserver } from '../telemetry/observer.js';
import { safeError } from './redis-connection.js';

export interface ReplicaInfo {
  id: string;
  host: string;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  inFlight: number;
  requestsTotal: number;
  requestsPerSecond: number;
}

export interface FleetStore {
  put(info: ReplicaInfo, ttlMs: number): Promise<void>;
  all(): Promise<ReplicaInfo[]>;
  remove(id: string): Promise<void>;
}

/** Down replicas are forgotten after this long without a heartbeat. */
const FORGET_AFTER_MS = 24 * 3600_000;

export function createRedisFleetStore(redis: Redis, prefix: string): FleetStore {
  const key = `${prefix}fleet`;
  return {
    async put(info) {
      await redis.hset(key, info.id, JSON.stringify(info));
    },
    async all() {
      const raw = await redis.hgetall(key);
      const now = Date.now();
      const list: ReplicaInfo[] = [];
      for (const [id, text] of Object.entries(raw)) {
        try {
          const info = JSON.parse(text) as ReplicaInfo;
          if (now - info.heartbeatAt > FORGET_AFTER_MS) void redis.hdel(key, id).catch(() => {});
          else list.push(info);
        } catch {
          void redis.hdel(key, id).catch(() => {});
        }
      }
      return list;
    },
    async remove(id) {
      await redis.hdel(key, id);
    },
  };
}

export interface FleetOptions {
  id: string;
  host: string;
  version: string;
  startedAt: number;
  backend: 'memory' | 'redis';
  inFlight: () => number;
  heartbeatMs: number;
  replicaTimeoutMs: number;
  store: FleetStore | null;
  log: Logger;
  countError: (err?: unknown) => void;
}

export class Fleet {
  private requests = 0;
  private lastBeat: { at: number; requests: number };
  private rate = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Replicas up at the last heartbeat that could read the registry (this one included). */
  private live = 1;
  readonly observer: RequestObserver = { onRequest: () => void this.requests++ };

  constructor(private readonly o: FleetOptions) {
    this.lastBeat = { at: o.startedAt, requests: 0 };
  }

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.timer.unref();
  }

  private info(now: number): ReplicaInfo {
    return {
      id: this.o.id,
      host: this.o.host,
      version: this.o.version,
      startedAt: this.o.startedAt,
      heartbeatAt: now,
      inFlight: this.o.inFlight(),
      requestsTotal: this.requests,
      requestsPerSecond: this.rate,
    };
  }

  async beat(now = Date.now()): Promise<void> {
    const seconds = (now - this.lastBeat.at) / 1000;
    if (seconds > 0) this.rate = Math.round(((this.requests - this.lastBeat.requests) / seconds) * 100) / 100;
    this.lastBeat = { at: now, requests: this.requests };
    if (!this.o.store) return;
    try {
      await this.o.store.put(this.info(now), this.o.replicaTimeoutMs);
      const all = await this.o.store.all();
      this.live = Math.max(1, all.filter((r) => r.id === this.o.id || now - r.heartbeatAt <= this.o.replicaTimeoutMs).length);
    } catch (err) {
      this.o.countError(err);
      this.o.log.debug({ err: safeError(err) }, 'fleet heartbeat failed');
    }
  }

  /**
   * How many replicas were up at the last readable heartbeat (at least 1): while
   * Redis is skipped each replica enforces this share of the rate limit.
   */
  liveReplicas(): number {
    return this.live;
  }

  async view(now = Date.now()): Promise<FleetResponse> {
    let others: ReplicaInfo[] = [];
    let reachable = true;
    if (this.o.store) {
      try {
        others = (await this.o.store.all()).filter((r) => r.id !== this.o.id);
      } catch (err) {
        reachable = false;
        this.o.countError();
        this.o.log.debug({ err: safeError(err) }, 'fleet view could not read the registry');
      }
    }
    const toView = (r: ReplicaInfo, self: boolean): ReplicaView => ({
      ...r,
      up: self || now - r.heartbeatAt <= this.o.replicaTimeoutMs,
      uptimeSeconds: Math.max(0, Math.floor((now - r.startedAt) / 1000)),
      self,
    });
    const replicas = [toView(this.info(now), true), ...others.map((r) => toView(r, false))];
    replicas.sort((a, b) => (a.self ? -1 : b.self ? 1 : a.startedAt - b.startedAt || a.id.localeCompare(b.id)));
    const up = replicas.filter((r) => r.up);
    const sum = (f: (r: ReplicaView) => number) => up.reduce((n, r) => n + f(r), 0);
    return {
      backend: this.o.backend,
      storeReachable: reachable,
      heartbeatMs: this.o.heartbeatMs,
      replicaTimeoutMs: this.o.replicaTimeoutMs,
      replicas,
      totals: {
        replicas: replicas.length,
        up: up.length,
        inFlight: sum((r) => r.inFlight),
        requestsTotal: sum((r) => r.requestsTotal),
        requestsPerSecond: Math.round(sum((r) => r.requestsPerSecond) * 100) / 100,
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    // A replica that stops cleanly leaves the registry; a crashed one shows as down.
    await this.o.store?.remove(this.o.id).catch(() => {});
  }
}
