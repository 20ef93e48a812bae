/**
 * Managed keys in a running gateway (docs/keys.md#replicas): the key cache,
 * kept current by polling the one-row change counter of the usage database
 * every `pollMs` (250 ms: a revocation, a disable or an edit made on any
 * replica, or by the CLI, applies everywhere well within a second), and the
 * authenticator that consults it beside the config tokens. Public requests
 * only read the cache: while the database is down the keys last loaded keep
 * working and changes wait for it.
 */
import { KEY_SECRET_PREFIX } from '@sipp/shared';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { Authenticator } from '../security/bearer.js';
import type { UsageDatabase } from '../usage/database.js';
import { KeyCache } from './cache.js';
import { createKeyManager, type KeyManager } from './manage.js';
import { keysSince, keysVersion } from './store.js';

export const KEY_POLL_MS = 250;

export interface KeyServiceDeps {
  database(): Promise<UsageDatabase>;
  /** Target and group names (a key's `targets` must name them). */
  names: ReadonlySet<string>;
  log: Logger;
  clock?: () => number;
  pollMs?: number;
}

export interface KeyService {
  manager: KeyManager;
  cache: KeyCache;
  /** Config tokens first (as before), then managed keys. */
  wrap(configured: Authenticator): Authenticator;
  /** Loads the changes made since the cache's version (the poll does this every `pollMs`). */
  refresh(): Promise<void>;
  /** Resolves once the cache holds the database's keys. */
  loaded(): Promise<void>;
  close(): void;
}

/** The token of an `Authorization: Bearer …` value, as the config-token check reads it (security/bearer.ts). */
function bearerToken(authorization: string | undefined): string | null {
  if (!authorization || authorization.length > 8192) return null;
  return /^Bearer +(\S+) *$/i.exec(authorization)?.[1] ?? null;
}

export function startKeys(deps: KeyServiceDeps): KeyService {
  const clock = deps.clock ?? Date.now;
  const cache = new KeyCache();
  let failing = false;
  let closed = false;
  let running: Promise<void> | null = null;
  let onLoaded: () => void = () => {};
  const firstLoad = new Promise<void>((r) => (onLoaded = r));

  const load = async () => {
    try {
      const db = await deps.database();
      const version = await keysVersion(db);
      if (version !== cache.version) cache.apply(await keysSince(db, Math.max(cache.version, 0)), version);
      if (failing) deps.log.info({ keys: cache.size }, 'managed keys reloaded; the usage database answers again');
      failing = false;
      onLoaded();
    } catch (err) {
      if (!failing && !closed)
        deps.log.warn(
          { err: { message: (err as Error).message }, keys: cache.size },
          'managed keys cannot be reloaded (usage database unreachable); serving the cached keys',
        );
      failing = true;
    }
  };
  const refresh = (): Promise<void> => (running ??= load().finally(() => (running = null)));

  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    timer = setTimeout(() => {
      void refresh().finally(() => {
        if (!closed) tick();
      });
    }, deps.pollMs ?? KEY_POLL_MS);
    timer.unref();
  };
  void refresh();
  tick();

  const manager = createKeyManager({
    database: deps.database,
    names: deps.names,
    clock,
    // This replica applies its own change before answering; the others within one poll.
    changed: async () => {
      await running;
      await refresh();
    },
  });

  return {
    manager,
    cache,
    refresh,
    loaded: () => firstLoad,
    wrap(configured) {
      return (authorization) => {
        const caller = configured(authorization);
        if (caller) return caller;
        const token = bearerToken(authorization);
        if (!token?.startsWith(KEY_SECRET_PREFIX)) return null;
        // Never answer "unknown" for a key we have not read yet (docs/keys.md#replicas).
        if (!cache.loaded) throw new GatewayError('unavailable', 'API keys are loading; retry shortly', { 'retry-after': '1' });
        const found = cache.lookup(token, clock());
        if (!found) return null;
        if ('refused' in found) {
          deps.log.info(
            { keyId: found.key.id, prefix: found.key.prefix, caller: found.key.caller, reason: found.refused },
            `managed key refused: ${found.refused}`,
          );
          return null;
        }
        return found.caller;
      };
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
