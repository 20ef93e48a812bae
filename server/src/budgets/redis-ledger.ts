/**
 * The ledger in Redis (docs/budgets.md#in-a-fleet): every replica's
 * admissions and settlements go through one Lua script each, so the budget
 * check, the reservation, the spend counters and the key's rpm / tpm buckets
 * are one atomic round trip. The buckets use Redis' own clock, like the
 * shared rate-limit buckets (state/shared-buckets.ts).
 *
 * When Redis is skipped or failing ([state] on_error = "allow"), this replica
 * decides from its own memory ledger meanwhile, and settlements of
 * reservations Redis holds are kept and replayed when it answers again.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import { RedisSkippedError, type RedisBreaker } from '../state/redis-breaker.js';
import {
  MemoryLedger,
  type AdmitOutcome,
  type Amount,
  type Ledger,
  type RateCheck,
  type ScopeCheck,
  type SettleInput,
} from './ledger.js';
import { SpendBatch } from './spend-batch.js';

/**
 * KEYS: rpm bucket, tpm bucket, then one counter per budget, then each counter's lease set (same order).
 * ARGV: rpm, tpm (0 = none), reserve nano, reserve tokens, lease member, lease ms, lease clock (ms; 0 = Redis' TIME),
 * then per budget: limit nano, limit tokens (-1 = none), seed nano, seed tokens, ttl ms (0 = none).
 * Returns {1} or {0, reason (1 rpm, 2 tpm, 3 budget), wait ms | budget index (1-based)}.
 *
 * A lease set is a sorted set of the reservations the counter holds, scored by their deadline; a member is
 * `<id>:<nano>:<tokens>`. Leases past their deadline (their replica died, or stopped renewing them) are
 * swept here, before the check: their amounts leave the reservations (docs/budgets.md#leases).
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lnow = tonumber(ARGV[7])
if lnow <= 0 then lnow = now end
local n = (#KEYS - 2) / 2
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local ru = tonumber(ARGV[3])
local rt = tonumber(ARGV[4])
for i = 3, 2 + n do
  local b = 7 + (i - 3) * 5
  local k = KEYS[i]
  local lk = KEYS[i + n]
  if redis.call('EXISTS', k) == 0 then
    redis.call('HSET', k, 'su', ARGV[b + 3], 'st', ARGV[b + 4], 'ru', 0, 'rt', 0)
    local ttl = tonumber(ARGV[b + 5])
    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
    redis.call('DEL', lk)
  else
    local dead = redis.call('ZRANGEBYSCORE', lk, '-inf', lnow, 'LIMIT', 0, 256)
    for _, m in ipairs(dead) do
      local du, dt = string.match(m, ':(%d+):(%d+)$')
      if du then
        if du ~= '0' and redis.call('HINCRBY', k, 'ru', '-' .. du) < 0 then redis.call('HSET', k, 'ru', 0) end
        if dt ~= '0' and redis.call('HINCRBY', k, 'rt', '-' .. dt) < 0 then redis.call('HSET', k, 'rt', 0) end
      end
      redis.call('ZREM', lk, m)
    end
  end
  local h = redis.call('HMGET', k, 'su', 'st', 'ru', 'rt')
  local lu = tonumber(ARGV[b + 1])
  local lt = tonumber(ARGV[b + 2])
  if lu >= 0 and tonumber(h[1]) + tonumber(h[3]) + ru > lu then return {0, 3, i - 2} end
  if lt >= 0 and tonumber(h[2]) + tonumber(h[4]) + rt > lt then return {0, 3, i - 2} end
end
local function level(key, cap)
  local b = redis.call('HMGET', key, 't', 'v')
  if not b[1] then return cap end
  return math.min(cap, tonumber(b[2]) + math.max(0, now - tonumber(b[1])) * cap / 60000)
end
local rv = 0
if rpm > 0 then
  rv = level(KEYS[1], rpm)
  if rv < 1 then return {0, 1, math.ceil((1 - rv) * 60000 / rpm)} end
end
if tpm > 0 then
  local tv = level(KEYS[2], tpm)
  if tv < 1 then return {0, 2, math.ceil((1 - tv) * 60000 / tpm)} end
end
if rpm > 0 then
  redis.call('HSET', KEYS[1], 't', string.format('%.3f', now), 'v', string.format('%.17g', rv - 1))
  redis.call('PEXPIRE', KEYS[1], 61000)
end
local deadline = string.format('%.0f', lnow + tonumber(ARGV[6]))
for i = 3, 2 + n do
  redis.call('HINCRBY', KEYS[i], 'ru', ARGV[3])
  redis.call('HINCRBY', KEYS[i], 'rt', ARGV[4])
  redis.call('ZADD', KEYS[i + n], deadline, ARGV[5])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i + n], ttl) end
end
return {1, 0, 0}
`;

/** Lua: `lnow`, the lease clock from ARGV[arg] (ms), or Redis' TIME when that is 0. */
const leaseClock = (arg: number) => `
local lnow = tonumber(ARGV[${arg}])
if lnow <= 0 then
  local t = redis.call('TIME')
  lnow = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end`;

/**
 * KEYS: lease sets. ARGV: lease ms, lease clock (0 = Redis' TIME), then one member per key.
 * Pushes the deadline of the leases still held (XX: a lease already swept stays gone).
 */
const RENEW = `${leaseClock(2)}
local deadline = string.format('%.0f', lnow + tonumber(ARGV[1]))
for i = 1, #KEYS do redis.call('ZADD', KEYS[i], 'XX', deadline, ARGV[i + 2]) end
return #KEYS
`;

/**
 * KEYS: tpm bucket, then one counter per budget, then each counter's lease set (same order).
 * ARGV: tpm (0 = none), reserved nano, reserved tokens, actual nano, actual tokens, lease member ('' = none),
 * then per counter: threshold nano, threshold tokens (-1 = none), ttl ms, held (1: release the reservation),
 * seed nano, seed tokens (a new counter's start).
 * Returns per budget {spent nano, spent tokens, crossed (0/1)}, flattened.
 * A held reservation is released only if its lease was still there: one swept meanwhile was released then.
 */
const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tpm = tonumber(ARGV[1])
local used = tonumber(ARGV[5])
if tpm > 0 and used > 0 then
  local b = redis.call('HMGET', KEYS[1], 't', 'v')
  local v = tpm
  if b[1] then v = math.min(tpm, tonumber(b[2]) + math.max(0, now - tonumber(b[1])) * tpm / 60000) end
  v = v - used
  redis.call('HSET', KEYS[1], 't', string.format('%.3f', now), 'v', string.format('%.17g', v))
  redis.call('PEXPIRE', KEYS[1], 61000 + math.ceil(math.max(0, -v) * 60000 / tpm))
end
local out = {}
local n = (#KEYS - 1) / 2
for i = 2, 1 + n do
  local k = KEYS[i]
  local b = 6 + (i - 2) * 6
  local fresh = redis.call('EXISTS', k) == 0
  if fresh then redis.call('HSET', k, 'su', ARGV[b + 5], 'st', ARGV[b + 6], 'ru', 0, 'rt', 0) end
  local release = ARGV[b + 4] == '1'
  if release and ARGV[6] ~= '' then release = redis.call('ZREM', KEYS[i + n], ARGV[6]) == 1 end
  if release then
    -- '-' .. amount, not -tonumber(amount): Lua writes -0 as '-0', which HINCRBY refuses.
    if ARGV[2] ~= '0' and redis.call('HINCRBY', k, 'ru', '-' .. ARGV[2]) < 0 then redis.call('HSET', k, 'ru', 0) end
    if ARGV[3] ~= '0' and redis.call('HINCRBY', k, 'rt', '-' .. ARGV[3]) < 0 then redis.call('HSET', k, 'rt', 0) end
  end
  local su = redis.call('HINCRBY', k, 'su', ARGV[4])
  local st = redis.call('HINCRBY', k, 'st', ARGV[5])
  if fresh and tonumber(ARGV[b + 3]) > 0 then redis.call('PEXPIRE', k, tonumber(ARGV[b + 3])) end
  local crossed = 0
  local tu = tonumber(ARGV[b + 1])
  local tt = tonumber(ARGV[b + 2])
  if ((tu >= 0 and su >= tu) or (tt >= 0 and st >= tt)) and redis.call('HSETNX', k, 'w', 1) == 1 then crossed = 1 end
  table.insert(out, su)
  table.insert(out, st)
  table.insert(out, crossed)
end
return out
`;

/**
 * KEYS: a counter, its lease set. ARGV: lease clock (0 = Redis' TIME).
 * Returns {spent nano, spent tokens, reserved nano, reserved tokens} as strings, the reservations without
 * the leases that ran out but were not swept yet (the admin views' figures; nothing is changed here).
 */
const READ = `${leaseClock(1)}
local h = redis.call('HMGET', KEYS[1], 'su', 'st', 'ru', 'rt')
local ru = tonumber(h[3] or 0)
local rt = tonumber(h[4] or 0)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', lnow)) do
  local du, dt = string.match(m, ':(%d+):(%d+)$')
  if du then
    ru = ru - tonumber(du)
    rt = rt - tonumber(dt)
  end
end
return {h[1] or '0', h[2] or '0', string.format('%.0f', math.max(0, ru)), string.format('%.0f', math.max(0, rt))}
`;

type WithScripts = Redis & {
  sippBudgetAdmit(...args: Array<string | number>): Promise<[number, number, number]>;
  sippBudgetSettle(...args: Array<string | number>): Promise<number[]>;
  sippBudgetRenew(...args: Array<string | number>): Promise<number>;
  sippBudgetRead(...args: Array<string | number>): Promise<string[]>;
};

export interface RedisLedgerOptions {
  redis: Redis;
  keyPrefix: string;
  breaker: RedisBreaker;
  onError: 'allow' | 'deny';
  countError: () => void;
  /** Registers a step to run before the Redis connection closes (the last spend-only batch is sent then). */
  beforeClose?: (step: () => Promise<void>) => void;
  /** How long spend-only settlements are summed (default SPEND_BATCH_MS; tests set it long). */
  spendBatchMs?: number;
  /** How long a reservation holds without renewal (docs/budgets.md#leases); renewed every third of it. */
  leaseMs: number;
  /** The lease clock (ms); default: Redis' own TIME. Injectable for tests. */
  now?: () => number;
}

/** Leases renewed per script call. */
const RENEW_BATCH = 512;
/** A reservation never settled (a leak) stops being renewed after this long: no request lasts a day. */
const MAX_RENEW_MS = 86_400_000;

/** At most this many settlements wait for Redis to come back. */
const MAX_PENDING = 100_000;

export class RedisLedger implements Ledger {
  private readonly redis: WithScripts;
  /** This replica's own counts while Redis is skipped (on_error = "allow"). */
  private readonly local = new MemoryLedger();
  private readonly pending: SettleInput[] = [];
  /** Reservations admitted locally (not in Redis): their settlement adds spend only. */
  private readonly localAdmits = new WeakSet<object>();
  /** Spend-only settlements, summed and sent every few ms (spend-batch.ts). */
  private readonly batch: SpendBatch;
  /** This replica's reservations in Redis not settled yet: lease member → its lease sets (renewed until settled). */
  private readonly live = new Map<string, { sets: string[]; at: number }>();
  private readonly leaseIdPrefix = randomBytes(6).toString('base64url');
  private leaseSeq = 0;
  private readonly renewTimer: NodeJS.Timeout;

  constructor(private readonly o: RedisLedgerOptions) {
    this.redis = o.redis as WithScripts;
    this.redis.defineCommand('sippBudgetAdmit', { lua: ADMIT });
    this.redis.defineCommand('sippBudgetSettle', { lua: SETTLE });
    this.batch = new SpendBatch((input) => this.settleNow(input), o.spendBatchMs);
    o.beforeClose?.(() => this.batch.flush());
    this.redis.defineCommand('sippBudgetRenew', { lua: RENEW });
    this.redis.defineCommand('sippBudgetRead', { lua: READ });
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(o.leaseMs / 3)));
    this.renewTimer.unref();
  }

  close(): void {
    clearInterval(this.renewTimer);
  }

  private leaseNow(): number {
    return this.o.now ? this.o.now() : 0;
  }

  /** Pushes the deadline of every reservation this replica still holds (every third of the lease). */
  async renew(): Promise<void> {
    if (this.live.size === 0) return;
    const oldest = Date.now() - MAX_RENEW_MS;
    for (const [m, l] of this.live) if (l.at < oldest) this.live.delete(m);
    const entries = [...this.live];
    for (let i = 0; i < entries.length; i += RENEW_BATCH) {
      const keys: string[] = [];
      const members: string[] = [];
      for (const [m, { sets }] of entries.slice(i, i + RENEW_BATCH)) {
        for (const k of sets) {
          keys.push(k);
          members.push(m);
        }
      }
      try {
        await this.o.breaker.run(() =>
          this.redis.sippBudgetRenew(keys.length, ...keys, this.o.leaseMs, this.leaseNow(), ...members),
        );
      } catch (err) {
        if (!(err instanceof RedisSkippedError)) this.o.countError();
        return;
      }
    }
  }

  private key(k: string): string {
    return `${this.o.keyPrefix}budget:${k}`;
  }

  private leaseKey(k: string): string {
    return `${this.o.keyPrefix}budget-leases:${k}`;
  }

  private rateKeys(rate: RateCheck | null): [string, string] {
    const id = rate?.id ?? '-';
    return [`${this.o.keyPrefix}klim:rpm:${rate?.rpm ?? 0}:${id}`, `${this.o.keyPrefix}klim:tpm:${rate?.tpm ?? 0}:${id}`];
  }

  private failed(err: unknown): void {
    if (!(err instanceof RedisSkippedError)) this.o.countError();
    if (this.o.onError === 'deny') {
      throw new GatewayError('unavailable', 'budgets are unavailable (the shared state store is unreachable); retry later', {
        'retry-after': '1',
      });
    }
  }

  async admit(rate: RateCheck | null, scopes: readonly ScopeCheck[], reserve: Amount): Promise<AdmitOutcome> {
    const sets = scopes.map((s) => this.leaseKey(s.key));
    const keys = [...this.rateKeys(rate), ...scopes.map((s) => this.key(s.key)), ...sets];
    const lease = `${this.leaseIdPrefix}${(++this.leaseSeq).toString(36)}:${reserve.nano}:${reserve.tokens}`;
    const args: Array<string | number> = [
      rate?.rpm ?? 0,
      rate?.tpm ?? 0,
      reserve.nano,
      reserve.tokens,
      lease,
      this.o.leaseMs,
      this.leaseNow(),
    ];
    for (const s of scopes) args.push(s.limitNano, s.limitTokens, s.seedNano, s.seedTokens, s.ttlMs);
    let r: [number, number, number];
    try {
      r = await this.o.breaker.run(() => this.redis.sippBudgetAdmit(keys.length, ...keys, ...args));
    } catch (err) {
      this.failed(err);
      const out = this.local.admit(rate, scopes, reserve);
      if (out.ok) this.localAdmits.add(reserve);
      return out;
    }
    void this.replay();
    if (r[0] === 1) {
      if (scopes.length === 0) return { ok: true };
      this.live.set(lease, { sets, at: Date.now() });
      return { ok: true, lease };
    }
    if (r[1] === 3) return { ok: false, reason: 'budget', scope: r[2] - 1 };
    return { ok: false, reason: r[1] === 1 ? 'rpm' : 'tpm', retryAfterMs: Math.max(1, r[2]) };
  }

  async settle(input: SettleInput) {
    if (this.localAdmits.has(input.reserved)) {
      // Admitted here while Redis was away: its spend is replayed into Redis too (nothing to release there).
      if (this.pending.length < MAX_PENDING)
        this.pending.push({ ...input, scopes: input.scopes.map((x) => ({ ...x, held: false })), lease: undefined });
      return this.local.settle(input);
    }
    if (input.lease !== undefined) this.live.delete(input.lease);
    if (SpendBatch.spendOnly(input)) {
      // Nobody reads this answer (no budget on these counters): the spend is sent with the next batch.
      this.batch.add(input);
      return input.scopes.map(() => ({ spend: { nano: 0, tokens: 0 }, crossed: false }));
    }
    return this.settleNow(input);
  }

  private async settleNow(input: SettleInput) {
    try {
      return await this.settleInRedis(input);
    } catch (err) {
      if (!(err instanceof RedisSkippedError)) this.o.countError();
      if (this.pending.length < MAX_PENDING) this.pending.push(input);
      // Counted here meanwhile (no reservation of ours to release).
      return this.local.settle({ ...input, reserved: { nano: 0, tokens: 0 } });
    }
  }

  private async settleInRedis(input: SettleInput) {
    const keys = [
      this.rateKeys(input.rate)[1],
      ...input.scopes.map((s) => this.key(s.key)),
      ...input.scopes.map((s) => this.leaseKey(s.key)),
    ];
    const args: Array<string | number> = [
      input.rate?.tpm ?? 0,
      input.reserved.nano,
      input.reserved.tokens,
      input.actual.nano,
      input.actual.tokens,
      input.lease ?? '',
    ];
    for (const s of input.scopes)
      args.push(s.thresholdNano, s.thresholdTokens, s.ttlMs, s.held ? 1 : 0, s.seedNano, s.seedTokens);
    const r = await this.o.breaker.run(() => this.redis.sippBudgetSettle(keys.length, ...keys, ...args));
    return input.scopes.map((_, i) => ({
      spend: { nano: Number(r[i * 3]), tokens: Number(r[i * 3 + 1]) },
      crossed: Number(r[i * 3 + 2]) === 1,
    }));
  }

  /** Settlements that failed while Redis was away, replayed once it answers. */
  private async replay(): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending.shift()!;
      try {
        await this.settleInRedis(next);
      } catch {
        this.pending.unshift(next);
        return;
      }
    }
  }

  async read(k: string) {
    // This replica's own spend-only settlements first, so a read after a request counts it.
    await this.batch.flush();
    const h = await this.o.breaker.run(() => this.redis.sippBudgetRead(2, this.key(k), this.leaseKey(k), this.leaseNow()));
    return {
      nano: Number(h[0] ?? 0),
      tokens: Number(h[1] ?? 0),
      reservedNano: Number(h[2] ?? 0),
      reservedTokens: Number(h[3] ?? 0),
    };
  }
}
