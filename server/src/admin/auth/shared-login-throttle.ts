/**
 * The admin login throttle of a fleet (redis state backend): the same rules
 * and window semantics as LoginThrottle, with the state in the shared store so
 * a guesser cannot multiply its attempts by the number of replicas:
 *  - per client: `maxFailures` failures within `windowMs` of the client's
 *    first failure lock that client out for `windowMs`;
 *  - global: a sliding window — when `globalMaxFailures` failures from all
 *    clients fall within the last `globalWindowMs`, every sign-in is locked
 *    for `globalCooldownMs`, and the count starts afresh.
 * Each failure is one Lua script (atomic across replicas). Lock values hold
 * their end time (epoch ms), so `refusal` computes Retry-After like the
 * in-memory throttle; times are passed in (`now`), so tests drive the clock.
 */
import { randomBytes } from 'node:crypto';
import { StateUnavailableError, type SharedKv } from '../../state/index.js';
import { DEFAULT_THROTTLE, type LockoutScope, type LoginThrottle, type ThrottleOptions } from './login-throttle.js';

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

const GLOBAL_FAILURES = 'login:fail:global';
const GLOBAL_LOCK = 'login:lock:global';
const clientKey = (client: string) => `login:client:${client}`;

/**
 * KEYS: client hash {failures, first, locked}, global failures (sorted set of
 * failure times), global lock (its end time).
 * ARGV: now, windowMs, maxFailures, globalWindowMs, globalMaxFailures,
 * globalCooldownMs, a unique member for this failure.
 * Returns '' or the lockout it tripped ('client' | 'global').
 */
const FAILURE_SCRIPT = `
local now = tonumber(ARGV[1])
local window, maxFailures = tonumber(ARGV[2]), tonumber(ARGV[3])
local gWindow, gMax, gCooldown = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local tripped = ''

local c = redis.call('HMGET', KEYS[1], 'failures', 'first', 'locked')
local failures, first, locked = tonumber(c[1]), tonumber(c[2]), tonumber(c[3]) or 0
if not failures or now - first > window then failures, first, locked = 0, now, 0 end
failures = failures + 1
if failures >= maxFailures then
  if locked <= now then tripped = 'client' end
  locked = now + window
end
redis.call('HSET', KEYS[1], 'failures', failures, 'first', first, 'locked', locked)
-- Relative TTLs: Redis cleans up; the rules themselves only compare the stored times with now.
redis.call('PEXPIRE', KEYS[1], math.max(first + window, locked) - now + 1000)

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - gWindow)
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('PEXPIRE', KEYS[2], gWindow + 1000)
local gLocked = tonumber(redis.call('GET', KEYS[3])) or 0
if redis.call('ZCARD', KEYS[2]) >= gMax and gLocked <= now then
  redis.call('SET', KEYS[3], now + gCooldown, 'PX', gCooldown + 1000)
  redis.call('DEL', KEYS[2])
  tripped = 'global'
end
return tripped
`;

export class SharedLoginThrottle {
  private readonly opts: ThrottleOptions;
  constructor(
    private readonly kv: SharedKv,
    opts: Partial<ThrottleOptions> = {},
  ) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
  }

  async refusal(client: string, now = Date.now()): Promise<{ retryAfterSeconds: number; scope: LockoutScope } | null> {
    const global = Number(await this.kv.get(GLOBAL_LOCK));
    if (global > now) return { retryAfterSeconds: seconds(global - now), scope: 'global' };
    const own = Number(await this.kv.script("return redis.call('HGET', KEYS[1], 'locked')", [clientKey(client)], []));
    if (own > now) return { retryAfterSeconds: seconds(own - now), scope: 'client' };
    return null;
  }

  /** Counts a failure; returns the lockout it started, if any. */
  async failure(client: string, now = Date.now()): Promise<LockoutScope | null> {
    const o = this.opts;
    const tripped = await this.kv.script(
      FAILURE_SCRIPT,
      [clientKey(client), GLOBAL_FAILURES, GLOBAL_LOCK],
      [now, o.windowMs, o.maxFailures, o.globalWindowMs, o.globalMaxFailures, o.globalCooldownMs, `${now}:${randomBytes(6).toString('hex')}`],
    );
    return tripped === 'client' || tripped === 'global' ? tripped : null;
  }

  async success(client: string): Promise<void> {
    await this.kv.del(clientKey(client));
  }

  /** Redis expires the counters itself. */
  sweep(): void {}
}

/**
 * The fleet's throttle with this replica's in-memory one behind it: while the
 * shared store is unreachable, sign-in attempts are throttled locally (same
 * rules) instead of failing, so the operator can sign in during an outage.
 */
export class FallbackThrottle {
  constructor(
    private readonly shared: SharedLoginThrottle,
    private readonly local: LoginThrottle,
  ) {}

  async refusal(client: string, now = Date.now()): Promise<{ retryAfterSeconds: number; scope: LockoutScope } | null> {
    try {
      return await this.shared.refusal(client, now);
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      return this.local.refusal(client, now);
    }
  }

  async failure(client: string, now = Date.now()): Promise<LockoutScope | null> {
    try {
      return await this.shared.failure(client, now);
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      return this.local.failure(client, now);
    }
  }

  async success(client: string): Promise<void> {
    this.local.success(client);
    await this.shared.success(client).catch((err: unknown) => {
      if (!(err instanceof StateUnavailableError)) throw err;
    });
  }

  sweep(): void {
    this.local.sweep();
  }
}
