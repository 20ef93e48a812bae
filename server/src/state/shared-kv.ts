/**
 * Small shared key-value operations the admin module needs (sessions with a
 * TTL, the session signing key, login-throttle counters), under the key
 * prefix. Every failure is counted and surfaces as StateUnavailableError.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StateUnavailableError } from '../errors.js';
import { RedisSkippedError, type RedisBreaker } from './redis-breaker.js';

export interface SharedKv {
  get(key: string): Promise<string | null>;
  /** Sets with a time to live in ms. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /**
   * Runs a Lua script atomically on the store (keys get the prefix). For
   * read-modify-write rules that must hold across replicas, e.g. the login
   * throttle's sliding window.
   */
  script(lua: string, keys: string[], args: Array<string | number>): Promise<unknown>;
  /** Remaining ms to live, or 0 when the key is absent. */
  ttl(key: string): Promise<number>;
  /**
   * A secret shared by the whole fleet (e.g. the session-cookie signing key):
   * the stored one, or else `proposal` (default: random) which becomes it.
   */
  sharedSecret(name: string, proposal?: string): Promise<string>;
}

export function createRedisKv(redis: Redis, prefix: string, countError: () => void, breaker?: RedisBreaker): SharedKv {
  const k = (key: string) => `${prefix}${key}`;
  // Each operation within the budget, skipped at once while the breaker is open (state/redis-breaker.ts).
  const guard = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await (breaker ? breaker.run(op) : op());
    } catch (err) {
      if (!(err instanceof RedisSkippedError)) countError();
      throw new StateUnavailableError('the shared state store (Redis) is unreachable');
    }
  };
  return {
    get: (key) => guard(() => redis.get(k(key))),
    set: (key, value, ttlMs) => guard(async () => void (await redis.set(k(key), value, 'PX', Math.max(1, Math.ceil(ttlMs))))),
    del: (key) => guard(async () => void (await redis.del(k(key)))),
    script: (lua, keys, args) => guard(() => redis.eval(lua, keys.length, ...keys.map(k), ...args)),
    ttl: (key) => guard(async () => Math.max(0, await redis.pttl(k(key)))),
    sharedSecret: (name, proposal) =>
      guard(async () => {
        const candidate = proposal ?? randomBytes(32).toString('hex');
        const res = await redis
          .multi()
          .set(k(`secret:${name}`), candidate, 'NX')
          .get(k(`secret:${name}`))
          .exec();
        const value = res?.[1]?.[1];
        if (typeof value !== 'string') throw new Error('no secret');
        return value;
      }),
  };
}
