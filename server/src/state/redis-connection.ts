/**
 * The Redis connections of the redis state backend (ioredis): one for
 * commands, one for pub/sub. Commands never queue while Redis is away (they
 * fail at once, so rate limiting can follow `on_error` without waiting), and
 * ioredis reconnects with a capped exponential backoff.
 *
 * The URL may hold a password: it is never logged, and errors are reduced to
 * their code (ECONNREFUSED, …) before anything is written.
 */
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StartupError } from '../errors.js';

export const COMMAND_TIMEOUT_MS = 1_000;
/** Reconnect attempts back off up to this, so a returning Redis is in use again within half a second. */
export const MAX_BACKOFF_MS = 500;

/** Reads and checks the URL from the env var named by [state] url_env; errors never echo it. */
export function redisUrlFrom(env: NodeJS.ProcessEnv, urlEnv: string): string {
  const url = env[urlEnv];
  if (!url) throw new StartupError(`[state] backend = "redis" needs the Redis URL in env var ${urlEnv}, which is not set`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StartupError(`env var ${urlEnv} is not a valid URL (expected redis://[:password@]host:port/db or rediss://…)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StartupError(`env var ${urlEnv} must be a redis:// or rediss:// URL`);
  }
  return url;
}

/** An error reduced to something safe to log: its code, or its class name. */
export function safeError(err: unknown): { code: string } {
  const e = err as { code?: unknown; name?: unknown } | undefined;
  if (e && typeof e.code === 'string' && /^[A-Z0-9_]+$/.test(e.code)) return { code: e.code };
  return { code: typeof e?.name === 'string' ? e.name : 'Error' };
}

export interface RedisConnection {
  client: Redis;
  subscriber: Redis;
  /** True while the command connection is ready. */
  up(): boolean;
  /** Called each time the command connection becomes ready (first connect and every reconnect). */
  onReady(listener: () => void): void;
  close(): Promise<void>;
}

// ioredis is loaded on first use: a gateway on the memory backend never holds it (docs/operations.md#memory).
const require = createRequire(import.meta.url);

export function connectRedis(url: string, log: Logger, countError: () => void): RedisConnection {
  const { Redis } = require('ioredis') as typeof import('ioredis');
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 10), MAX_BACKOFF_MS),
    maxRetriesPerRequest: 0,
  };
  // No auto-pipelining: ioredis would hold single commands for the next turn but send multi() at once, so a
  // command and a transaction issued in one turn could reach Redis out of order (controls, shared KV).
  const client = new Redis(url, {
    ...base,
    enableOfflineQueue: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  // The subscriber queues SUBSCRIBE until connected and resubscribes after each reconnect.
  const subscriber = new Redis(url, { ...base, enableOfflineQueue: true, autoResubscribe: true });

  let wasUp = false;
  let warned = false;
  const readyListeners: Array<() => void> = [];
  client.on('ready', () => {
    wasUp = true;
    warned = false;
    log.info('state store (redis) connected');
    for (const l of readyListeners) l();
  });
  const onError = (err: unknown) => {
    countError();
    if (!warned) {
      warned = true;
      log.warn(
        { err: safeError(err) },
        wasUp
          ? 'state store (redis) connection lost; reconnecting'
          : 'state store (redis) unreachable; retrying in the background',
      );
    }
  };
  client.on('error', onError);
  subscriber.on('error', () => {});
  client.on('close', () => {
    if (wasUp && !warned) onError({ code: 'ECONNCLOSED' });
  });

  client.connect().catch(() => {});
  subscriber.connect().catch(() => {});

  return {
    client,
    subscriber,
    up: () => client.status === 'ready',
    onReady: (l) => void readyListeners.push(l),
    async close() {
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
