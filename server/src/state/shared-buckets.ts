/**
 * Rate-limit buckets shared by every replica: one Redis hash per client and
 * setting, taken with one atomic round trip (a Lua script run by EVALSHA,
 * which ioredis' defineCommand falls back to EVAL for when the script cache is
 * empty). The script uses Redis' own clock, so replicas with skewed clocks
 * still share one refill rate. The math is the same token bucket as the
 * in-memory limiter.
 *
 * The takes of one event-loop turn share that round trip (docs/operations.md
 * "Shared state"): a take queues its bucket, and the queue is sent as one
 * script call in the check phase of the same turn (setImmediate), which takes
 * the tokens one after the other in arrival order, atomically, at one reading
 * of Redis' clock. Under load one command, one socket write and one reply then
 * serve many requests (a command per request was a third of a request's CPU);
 * a lone request waits for no timer, only for the end of its turn.
 */
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import { takeToken, type BucketState, type RateDecision, type RateLimitSettings } from '../security/rate-limit.js';
import { RedisSkippedError, type RedisBreaker } from './redis-breaker.js';

/**
 * KEYS: one bucket per take, in arrival order (a key may repeat). ARGV: per take, its rate (tokens per ms) and
 * burst. Returns per take {ok (1/0), wait ms}. A bucket is read once and written once per call, so n takes of
 * one client cost one HMGET and one HSET; each take refills it to `now` (a no-op after the first) and takes a
 * token or says how long until one is back, exactly as that many single takes at this instant would.
 */
const TAKE_TOKENS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = {}
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local s = state[k]
  if not s then
    s = { t = nil, v = burst }
    local b = redis.call('HMGET', k, 't', 'v')
    if b[1] then
      s.t = tonumber(b[1])
      s.v = tonumber(b[2])
    end
    state[k] = s
  end
  local tokens = burst
  if s.t then
    tokens = math.min(burst, s.v + (now - s.t) * rate)
  end
  local ok = 0
  local wait = 0
  if tokens >= 1 then
    tokens = tokens - 1
    ok = 1
  else
    wait = math.ceil((1 - tokens) / rate)
  end
  s.t = now
  s.v = tokens
  s.ttl = math.ceil(burst / rate) + 1000
  out[2 * i - 1] = ok
  out[2 * i] = wait
end
for k, s in pairs(state) do
  redis.call('HSET', k, 't', string.format('%.3f', s.t), 'v', string.format('%.17g', s.v))
  redis.call('PEXPIRE', k, s.ttl)
end
return out
`;

/**
 * Takes `n` tokens (what replicas admitted locally while Redis was skipped)
 * from a bucket, refilled to now first; never below zero, so the bucket ends
 * no fuller than if Redis had counted those requests itself.
 */
const CHARGE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'v')
local tokens = burst
if b[1] then
  tokens = math.min(burst, tonumber(b[2]) + (now - tonumber(b[1])) * rate)
end
tokens = math.max(0, tokens - n)
redis.call('HSET', KEYS[1], 't', string.format('%.3f', now), 'v', string.format('%.17g', tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return 0
`;

type WithTake = Redis & {
  sippTakeTokens(numberOfKeys: number, ...keysThenArgs: Array<string | number>): Promise<number[]>;
  sippCharge(key: string, ratePerMs: number, burst: number, n: number): Promise<number>;
};

interface Waiting {
  key: string;
  settings: RateLimitSettings;
  resolve: (d: RateDecision) => void;
  reject: (err: unknown) => void;
}

export interface SharedBuckets {
  take(client: string, settings: RateLimitSettings): Promise<RateDecision>;
  /** Charges the shared buckets with what was admitted locally while Redis was skipped (on recovery). */
  flushCharges(): Promise<void>;
}

/** At most this many takes in one script call. */
export const MAX_BATCH = 256;

/** At most this many clients' local buckets and pending charges are kept during an outage. */
const MAX_LOCAL = 100_000;

export interface SharedBucketsOptions {
  redis: Redis;
  keyPrefix: string;
  onError: 'allow' | 'deny';
  countError: () => void;
  /** Budget and breaker of the request path (state/redis-breaker.ts). */
  breaker: RedisBreaker;
  /** Replicas up in the fleet registry (this one included): each enforces its share locally while Redis is skipped. */
  liveReplicas: () => number;
  /** Counts a rate-limit decision taken locally (Redis skipped or failing). */
  onLocalDecision?: () => void;
  /** The clock, in ms (default Date.now); injectable for tests. */
  now?: () => number;
}

export function createSharedBuckets(options: SharedBucketsOptions): SharedBuckets {
  const redis = options.redis as WithTake;
  redis.defineCommand('sippTakeTokens', { lua: TAKE_TOKENS });
  redis.defineCommand('sippCharge', { numberOfKeys: 1, lua: CHARGE });
  const now = options.now ?? Date.now;
  const ALLOW: RateDecision = { ok: true };
  /** This replica's share of each client's bucket while Redis is skipped, by shared key. */
  const local = new Map<string, BucketState>();
  /** Requests admitted locally per shared key, charged to Redis when it answers again. */
  const pending = new Map<string, { count: number; settings: RateLimitSettings }>();

  /** on_error = "allow": the limit still holds, each replica enforcing limit ÷ live replicas. */
  const decideLocally = (key: string, s: RateLimitSettings): RateDecision => {
    options.onLocalDecision?.();
    const replicas = Math.max(1, options.liveReplicas());
    const share = { requestsPerMinute: s.requestsPerMinute / replicas, burst: Math.max(1, Math.floor(s.burst / replicas)) };
    const previous = local.get(key);
    if (!previous && local.size >= MAX_LOCAL) local.clear();
    const { bucket, decision } = takeToken(previous, share, now());
    local.set(key, bucket);
    if (decision.ok) {
      const p = pending.get(key);
      if (p) p.count++;
      else if (pending.size < MAX_LOCAL) pending.set(key, { count: 1, settings: { ...s } });
    }
    return decision;
  };

  /** The takes of this event-loop turn, sent together in its check phase (see the top of this file). */
  let queue: Waiting[] = [];
  const send = (): void => {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    const keysThenArgs: Array<string | number> = new Array(batch.length * 3);
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      keysThenArgs[i] = w.key;
      keysThenArgs[batch.length + 2 * i] = w.settings.requestsPerMinute / 60_000;
      keysThenArgs[batch.length + 2 * i + 1] = w.settings.burst;
    }
    options.breaker
      .run(() => redis.sippTakeTokens(batch.length, ...keysThenArgs))
      .then(
        (r) => {
          for (let i = 0; i < batch.length; i++) {
            const w = batch[i]!;
            if (r[2 * i] === 1) w.resolve(ALLOW);
            else w.resolve({ ok: false, retryAfterSeconds: Math.max(1, Math.ceil(Number(r[2 * i + 1]) / 1000)) });
          }
        },
        (err: unknown) => {
          for (const w of batch) {
            try {
              w.resolve(failed(err, w.key, w.settings));
            } catch (e) {
              w.reject(e);
            }
          }
        },
      );
  };

  /** Redis failed or was skipped for this take: `on_error` decides (docs/operations.md "When Redis fails"). */
  const failed = (err: unknown, key: string, s: RateLimitSettings): RateDecision => {
    if (!(err instanceof RedisSkippedError)) options.countError();
    if (options.onError === 'allow') return decideLocally(key, s);
    throw new GatewayError('unavailable', 'rate limiting is unavailable (the shared state store is unreachable); retry later', {
      'retry-after': '1',
    });
  };

  return {
    take(client, s) {
      // The settings are part of the key: a changed limit starts fresh buckets at once.
      const key = `${options.keyPrefix}rl:${s.requestsPerMinute}:${s.burst}:${client}`;
      // Skipped: decided here at once, as a skipped command would be, without waiting for the turn to end.
      if (options.breaker.skipping()) return Promise.resolve().then(() => failed(new RedisSkippedError(), key, s));
      return new Promise<RateDecision>((resolve, reject) => {
        if (queue.length === 0) setImmediate(send);
        queue.push({ key, settings: s, resolve, reject });
        // A full batch goes at once: one script call runs at most MAX_BATCH takes (Redis runs nothing else meanwhile).
        if (queue.length >= MAX_BATCH) send();
      });
    },
    async flushCharges() {
      local.clear();
      const batch = [...pending];
      pending.clear();
      if (batch.length === 0) return;
      try {
        for (let i = 0; i < batch.length; i += 500) {
          const m = redis.pipeline();
          for (const [key, { count, settings }] of batch.slice(i, i + 500)) {
            // Queued on the pipeline; its result comes with exec().
            void (m as unknown as WithTake).sippCharge(key, settings.requestsPerMinute / 60_000, settings.burst, count);
          }
          await m.exec();
        }
      } catch {
        options.countError();
      }
    },
  };
}
