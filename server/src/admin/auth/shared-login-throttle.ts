/**
 * The admin login throttle of a fleet (redis state backend): the same rules as
 * LoginThrottle — `maxFailures` failures from one client within `windowMs`
 * lock that client out for `windowMs`; `globalMaxFailures` failures from all
 * clients within `globalWindowMs` lock every sign-in for `globalCooldownMs` —
 * with the counters in the shared store, so a guesser cannot multiply its
 * attempts by the number of replicas. (The global window is a fixed window
 * here, started by its first failure.)
 */
import type { SharedKv } from '../../state/index.js';
import { DEFAULT_THROTTLE, type LockoutScope, type ThrottleOptions } from './login-throttle.js';

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class SharedLoginThrottle {
  private readonly opts: ThrottleOptions;
  constructor(
    private readonly kv: SharedKv,
    opts: Partial<ThrottleOptions> = {},
  ) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
  }

  async refusal(client: string): Promise<{ retryAfterSeconds: number; scope: LockoutScope } | null> {
    const global = await this.kv.ttl('login:lock:global');
    if (global > 0) return { retryAfterSeconds: seconds(global), scope: 'global' };
    const own = await this.kv.ttl(`login:lock:${client}`);
    if (own > 0) return { retryAfterSeconds: seconds(own), scope: 'client' };
    return null;
  }

  /** Counts a failure; returns the lockout it started, if any. */
  async failure(client: string): Promise<LockoutScope | null> {
    const all = await this.kv.incr('login:fail:global', this.opts.globalWindowMs);
    if (all === this.opts.globalMaxFailures) {
      await this.kv.set('login:lock:global', '1', this.opts.globalCooldownMs);
      return 'global';
    }
    const failures = await this.kv.incr(`login:fail:${client}`, this.opts.windowMs);
    if (failures === this.opts.maxFailures) {
      await this.kv.set(`login:lock:${client}`, '1', this.opts.windowMs);
      return 'client';
    }
    return null;
  }

  async success(client: string): Promise<void> {
    await this.kv.del(`login:fail:${client}`);
  }

  /** Redis expires the counters itself. */
  sweep(): void {}
}
