/**
 * Rate-limit buckets shared by every replica: one Redis hash per client and
 * setting, taken with one atomic round trip (a Lua script run by EVALSHA,
 * which ioredis' defineCommand falls back to EVAL for when the script cache is
 * empty). The script uses Redis' own clock, so replicas with skewed clocks
 * still share one refill rate. The math is the same token bucket as the
 * in-memory limiter.
 */
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import type { RateDecision, RateLimitSettings } from '../security/rate-limit.js';

const TAKE_TOKEN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'v')
local tokens = burst
if b[1] then
  tokens = math.min(burst, tonumber(b[2]) + (now - tonumber(b[1])) * rate)
end
local ok = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', string.format('%.3f', now), 'v', string.format('%.17g', tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {ok, wait}
`;

type WithTake = Redis & { sippTakeToken(key: string, ratePerMs: number, burst: number): Promise<[number, number]> };

export interface SharedBuckets {
  take(client: string, settings: RateLimitSettings): Promise<RateDecision>;
}

export function createSharedBuckets(options: {
  redis: Redis;
  keyPrefix: string;
  onError: 'allow' | 'deny';
  countError: () => void;
}): SharedBuckets {
  const redis = options.redis as WithTake;
  redis.defineCommand('sippTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
  const ALLOW: RateDecision = { ok: true };
  return {
    async take(client, s) {
      // The settings are part of the key: a changed limit starts fresh buckets at once.
      const key = `${options.keyPrefix}rl:${s.requestsPerMinute}:${s.burst}:${client}`;
      try {
        const [ok, waitMs] = await redis.sippTakeToken(key, s.requestsPerMinute / 60_000, s.burst);
        if (ok === 1) return ALLOW;
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      } catch {
        options.countError();
        if (options.onError === 'allow') return ALLOW;
        throw new GatewayError('unavailable', 'rate limiting is unavailable (the shared state store is unreachable); retry later', {
          'retry-after': '1',
        });
      }
    },
  };
}
