/**
 * The admin login throttle of a fleet (redis state backend): the same rules as
 * LoginThrottle (login-throttle.ts: per-source exponential delay, one global
 * budget of password checks that makes new sources wait rather than refusing
 * them), with the state in the shared store so a guesser cannot multiply its
 * attempts by the number of replicas. Each decision is one Lua script (atomic
 * across replicas). Times come from the replica (`now`), so tests drive the
 * clock; keep the replicas' clocks in sync (NTP).
 */
import { StateUnavailableError, type SharedKv } from '../../state/index.js';
import {
  DEFAULT_THROTTLE,
  delayAfter,
  seconds,
  type LockoutScope,
  type LoginAdmission,
  type LoginThrottle,
  type LoginThrottleRules,
  type ThrottleOptions,
} from './login-throttle.js';

const clientKey = (client: string) => `login:client:${client}`;
const BUDGET = 'login:budget';
const WAITING = 'login:waiting';
const SEEN = 'login:seen';
const SPENT = 'login:spent';

/** Refills the budget hash (KEYS[2]) to `now`; returns the tokens. Shared by the scripts below. */
const REFILL = `
local function refill(now, cap, refillMs)
  local b = redis.call('HMGET', KEYS[2], 'tokens', 't')
  local tokens = cap
  if b[1] then tokens = math.min(cap, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) / refillMs) end
  return tokens
end
local function store(now, tokens, cap, refillMs)
  redis.call('HSET', KEYS[2], 'tokens', string.format('%.17g', tokens), 't', now)
  redis.call('PEXPIRE', KEYS[2], math.ceil(cap * refillMs) + 1000)
end
`;

/**
 * KEYS: client hash {failures, last}, budget hash, waiting zset (arrival),
 * seen zset (last ask), spent marker. ARGV: now, client, the source's delay
 * end (computed by the caller from its failures, 0: none), cap, refillMs,
 * staleMs. Returns {kind, ms, spent}: kind 0 ok, 1 refuse (global), 2 wait.
 */
const ADMISSION_SCRIPT = `${REFILL}
local now, client = tonumber(ARGV[1]), ARGV[2]
local failed = tonumber(ARGV[3])
local cap, refillMs, staleMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local tokens = refill(now, cap, refillMs)
local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - staleMs)
for _, c in ipairs(stale) do
  redis.call('ZREM', KEYS[3], c)
  redis.call('ZREM', KEYS[4], c)
end
local untilToken = math.max(1, math.ceil((1 - tokens) * refillMs))
local function take()
  tokens = tokens - 1
  store(now, tokens, cap, refillMs)
  local spent = 0
  if tokens < 1 and redis.call('SET', KEYS[5], now, 'NX', 'PX', math.ceil(cap * refillMs)) then spent = 1 end
  return {0, 0, spent}
end
if failed == 1 then
  if tokens >= 1 and redis.call('ZCARD', KEYS[3]) == 0 then return take() end
  if tokens >= 1 then return {1, refillMs, 0} end
  return {1, untilToken, 0}
end
redis.call('ZADD', KEYS[3], 'NX', now, client)
redis.call('ZADD', KEYS[4], now, client)
redis.call('PEXPIRE', KEYS[3], staleMs * 10)
redis.call('PEXPIRE', KEYS[4], staleMs * 10)
local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0)[1]
if tokens >= 1 and newest == client then
  redis.call('ZREM', KEYS[3], client)
  redis.call('ZREM', KEYS[4], client)
  return take()
end
if tokens >= 1 then return {2, math.min(250, refillMs), 0} end
return {2, untilToken, 0}
`;

/** KEYS[2]: budget hash (KEYS[1] unused, so REFILL reads the same key). ARGV: now, cap, refillMs. */
const RELEASE_SCRIPT = `${REFILL}
local now, cap, refillMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
store(now, math.min(cap, refill(now, cap, refillMs) + 1), cap, refillMs)
return 0
`;

/** KEYS[1]: client hash. ARGV: now, forgetMs. Returns the failures within forgetMs, this one included. */
const FAILURE_SCRIPT = `
local now, forget = tonumber(ARGV[1]), tonumber(ARGV[2])
local c = redis.call('HMGET', KEYS[1], 'failures', 'last')
local failures, last = tonumber(c[1]) or 0, tonumber(c[2]) or 0
if now - last > forget then failures = 0 end
failures = failures + 1
redis.call('HSET', KEYS[1], 'failures', failures, 'last', now)
redis.call('PEXPIRE', KEYS[1], forget + 1000)
return failures
`;

export class SharedLoginThrottle implements LoginThrottleRules {
  private readonly opts: ThrottleOptions;
  constructor(
    private readonly kv: SharedKv,
    opts: Partial<ThrottleOptions> = {},
  ) {
    this.opts = { ...DEFAULT_THROTTLE, ...opts };
  }

  async admission(client: string, now = Date.now()): Promise<LoginAdmission> {
    const o = this.opts;
    const [failuresRaw, lastRaw] = (await this.kv.script(
      "return redis.call('HMGET', KEYS[1], 'failures', 'last')",
      [clientKey(client)],
      [],
    )) as [string | null, string | null];
    let failures = Number(failuresRaw ?? 0);
    const last = Number(lastRaw ?? 0);
    if (now - last > o.forgetMs) failures = 0;
    const until = failures > 0 ? last + delayAfter(failures, o) : 0;
    if (until > now) return { kind: 'refuse', retryAfterSeconds: seconds(until - now), scope: 'client' };
    const [kind, ms, spent] = (await this.kv.script(
      ADMISSION_SCRIPT,
      [clientKey(client), BUDGET, WAITING, SEEN, SPENT],
      [now, client, failures > 0 ? 1 : 0, o.budget, o.refillMs, o.waiterStaleMs],
    )) as [number, number, number];
    if (kind === 0) return { kind: 'ok', budgetSpent: spent === 1 };
    if (kind === 1) return { kind: 'refuse', retryAfterSeconds: seconds(ms), scope: 'global' };
    return { kind: 'wait', waitMs: ms };
  }

  async failure(client: string, now = Date.now()): Promise<LockoutScope | null> {
    const failures = Number(await this.kv.script(FAILURE_SCRIPT, [clientKey(client)], [now, this.opts.forgetMs]));
    return failures === this.opts.freeFailures + 1 ? 'client' : null;
  }

  async success(client: string, now = Date.now()): Promise<void> {
    await this.kv.del(clientKey(client));
    await this.release(now);
  }

  async release(now = Date.now()): Promise<void> {
    await this.kv.script(RELEASE_SCRIPT, [BUDGET, BUDGET], [now, this.opts.budget, this.opts.refillMs]);
  }

  /** Redis expires the counters itself. */
  sweep(): void {}
}

/**
 * The fleet's throttle with this replica's in-memory one behind it: while the
 * shared store is unreachable, sign-in attempts are throttled locally (same
 * rules) instead of failing, so the operator can sign in during an outage.
 */
export class FallbackThrottle implements LoginThrottleRules {
  constructor(
    private readonly shared: SharedLoginThrottle,
    private readonly local: LoginThrottle,
  ) {}

  private async either<T>(shared: () => Promise<T>, local: () => T): Promise<T> {
    try {
      return await shared();
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      return local();
    }
  }

  admission(client: string, now = Date.now()): Promise<LoginAdmission> {
    return this.either(
      () => this.shared.admission(client, now),
      () => this.local.admission(client, now),
    );
  }

  failure(client: string, now = Date.now()): Promise<LockoutScope | null> {
    return this.either(
      () => this.shared.failure(client, now),
      () => this.local.failure(client, now),
    );
  }

  async success(client: string, now = Date.now()): Promise<void> {
    this.local.success(client, now);
    await this.either(
      () => this.shared.success(client, now),
      () => undefined,
    );
  }

  release(now = Date.now()): Promise<void> {
    return this.either(
      () => this.shared.release(now),
      () => this.local.release(now),
    );
  }

  sweep(): void {
    this.local.sweep();
  }
}
