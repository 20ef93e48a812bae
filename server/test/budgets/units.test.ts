/**
 * The arithmetic under budgets (docs/budgets.md): periods in UTC (ISO weeks
 * from Monday), cost with cache reads and writes priced apart (and their
 * prices defaulting to the input price), the memory ledger's all-or-nothing
 * admission and once-per-period threshold, and the TOML keys with errors
 * naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { createAuthenticator } from '../../src/security/bearer.js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { memoryCallerBudgets } from '../../src/budgets/caller-budgets.js';
import { MemoryLedger } from '../../src/budgets/ledger.js';
import { BudgetService } from '../../src/budgets/service.js';
import { periodWindow, secondsUntilReset } from '../../src/budgets/periods.js';
import { costNano, pricingOf } from '../../src/budgets/pricing.js';
import { MINIMAL_CONFIG, rejectsConfig, variantOf } from '../support/config-text.js';

describe('budget periods', () => {
  const at = Date.UTC(2026, 11, 3, 21, 0, 0); // Thursday 3 December 2026, 21:00 UTC
  it('day, ISO week (Monday), month and total, with the seconds until the reset', () => {
    assert.deepEqual(periodWindow('day', at), { id: '2026-12-03', start: Date.UTC(2026, 11, 3), end: Date.UTC(2026, 11, 4) });
    assert.deepEqual(periodWindow('week', at), { id: 'w2026-11-30', start: Date.UTC(2026, 10, 30), end: Date.UTC(2026, 11, 7) });
    // A Sunday belongs to the week that began the Monday before (bug caught: weeks from Sunday).
    assert.equal(periodWindow('week', Date.UTC(2026, 11, 6, 23, 59)).id, 'w2026-11-30');
    assert.equal(periodWindow('week', Date.UTC(2026, 11, 7)).id, 'w2026-12-07');
    assert.deepEqual(periodWindow('month', at), { id: '2026-12', start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
    assert.deepEqual(periodWindow('total', at), { id: 'total', start: 0, end: null });
    assert.equal(secondsUntilReset(periodWindow('day', at), at), 3 * 3600);
    assert.equal(secondsUntilReset(periodWindow('total', at), at), null);
  });
});

describe('cost', () => {
  it('prices uncached input, cache reads, cache writes and output apart; cache prices default to the input price', () => {
    const p = pricingOf({ input_per_mtok: 3, output_per_mtok: 15, cache_read_per_mtok: 0.3, cache_write_per_mtok: 3.75 });
    // 350 input of which 200 cache reads and 100 cache writes, 10 output: 150 + 60 + 375 + 150 = 735 µUSD.
    assert.equal(costNano(p, { input: 350, output: 10, cacheRead: 200, cacheWrite: 100 }), 735_000);
    const plain = pricingOf({ input_per_mtok: 2, output_per_mtok: 8 });
    assert.equal(costNano(plain, { input: 100, output: 20, cacheRead: 40 }), 100 * 2000 + 20 * 8000);
    assert.equal(costNano(pricingOf(undefined), { input: 1e6, output: 1e6 }), 0);
  });
});

describe('memory ledger', () => {
  const scope = (limitNano: number) => ({ key: 'key:a:total', limitNano, limitTokens: -1, seedNano: 0, seedTokens: 0, ttlMs: 0 });
  const settleScope = {
    key: 'key:a:total',
    thresholdNano: 80,
    thresholdTokens: -1,
    ttlMs: 0,
    held: true,
    seedNano: 0,
    seedTokens: 0,
  };

  it('reservations in flight count against the budget; settlement replaces them with the real spend', async () => {
    const l = new MemoryLedger(() => 0);
    const r = { nano: 40, tokens: 1 };
    assert.deepEqual(l.admit(null, [scope(100)], r), { ok: true });
    assert.deepEqual(l.admit(null, [scope(100)], r), { ok: true });
    assert.deepEqual(l.admit(null, [scope(100)], r), { ok: false, reason: 'budget', scope: 0 });
    const [s] = l.settle({ rate: null, scopes: [settleScope], reserved: r, actual: { nano: 10, tokens: 1 } });
    assert.deepEqual(s!.spend, { nano: 10, tokens: 1 });
    assert.deepEqual(await l.read('key:a:total'), { nano: 10, tokens: 1, reservedNano: 40, reservedTokens: 1 });
    assert.deepEqual(l.admit(null, [scope(100)], r), { ok: true });
  });

  it('a refusal by one budget takes nothing from the others or from the rpm bucket', async () => {
    const l = new MemoryLedger(() => 0);
    const other = { ...scope(1000), key: 'caller:c:total' };
    const out = l.admit({ id: 'a', rpm: 1 }, [other, scope(10)], { nano: 40, tokens: 1 });
    assert.equal(out.ok, false);
    assert.equal((await l.read('caller:c:total')).reservedNano, 0);
    assert.deepEqual(l.admit({ id: 'a', rpm: 1 }, [other], { nano: 40, tokens: 1 }), { ok: true });
  });

  it('the threshold is crossed once per counter', async () => {
    const l = new MemoryLedger(() => 0);
    const crossed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const [s] = l.settle({
        rate: null,
        scopes: [settleScope],
        reserved: { nano: 0, tokens: 0 },
        actual: { nano: 30, tokens: 1 },
      });
      crossed.push(s!.crossed);
    }
    assert.deepEqual(crossed, [false, false, true, false, false]);
  });
});

describe('budget service settlement (plans kept per key)', () => {
  it('a settlement after midnight lands in the new day; a changed budget takes effect at once', async () => {
    let clock = Date.UTC(2026, 11, 3, 23, 59, 59, 500);
    const log = pino({ level: 'silent' });
    const svc = new BudgetService({
      ledger: new MemoryLedger(() => clock),
      callerBudgets: memoryCallerBudgets(null, log),
      pricing: new Map(),
      thresholdPercent: 50,
      log,
      registry: new Registry(),
      now: () => clock,
    });
    const who = { keyId: 'k1', caller: 'c1', limits: { budget: { tokens: 1000, period: 'day' as const } } };
    await svc.settle(who, null, null, 0, 100);
    clock += 1000;
    // Bug caught: a plan reused past its period's end settles into yesterday's counter.
    await svc.settle(who, null, null, 0, 30);
    assert.equal((await svc.spend('key', 'k1', 'day')).tokens, 30);
    assert.equal((await svc.spend('key', 'k1', 'month')).tokens, 130);
    assert.equal((await svc.spend('key', 'k1', 'total')).tokens, 130);
    // A new budget object (an edit): its threshold (50 % of 100) applies to the next settlement.
    // Bug caught: a plan that ignores the budget's change keeps the old threshold (500) and never alerts.
    const edited = { ...who, limits: { budget: { tokens: 100, period: 'day' as const } } };
    await svc.settle(edited, null, null, 0, 30);
    assert.deepEqual(
      svc.alerts().map((a) => [a.scope, a.name, a.period]),
      [['key', 'k1', 'day']],
    );
  });
});

describe('budget service admission (plans kept per key)', () => {
  const log = pino({ level: 'silent' });
  const service = (clock: () => number, registry = new Registry()) =>
    new BudgetService({
      ledger: new MemoryLedger(clock),
      callerBudgets: memoryCallerBudgets(null, log),
      pricing: new Map(),
      thresholdPercent: 80,
      log,
      registry,
      now: clock,
    });
  const reserve = { nano: 0, tokens: 60 };

  it('a new day, an edited key and a caller budget set meanwhile apply to the next admission', async () => {
    let clock = Date.UTC(2026, 11, 3, 23, 59, 59, 500);
    const svc = service(() => clock);
    const who = { keyId: 'k1', caller: 'c1', limits: { budget: { tokens: 100, period: 'day' as const } } };
    assert.equal((await svc.admit(who, reserve)).ok, true);
    assert.equal((await svc.admit(who, reserve)).ok, false, 'the day holds 60 of 100 reserved');
    clock += 1000;
    // Bug caught: a plan reused past its period's end checks yesterday's counter (and refuses).
    assert.equal((await svc.admit(who, reserve)).ok, true, 'a new day, a new counter');
    // An edit makes a new limits object (keys/cache.ts). Bug caught: a plan that ignores it keeps the old budget.
    const edited = { ...who, limits: { budget: { tokens: 1000, period: 'day' as const } } };
    assert.equal((await svc.admit(edited, reserve)).ok, true);
    await svc.callerBudgets.set('c1', { tokens: 50, period: 'day' });
    // Bug caught: a plan that ignores the caller's new budget admits a request whose 60 tokens pass it.
    const d = await svc.admit(edited, reserve);
    assert.equal(d.ok, false);
    assert.match(!d.ok ? d.message : '', /this caller's daily budget/);
  });

  it('a settlement releases what its own reservation holds, in each counter that holds it', async () => {
    const clock = Date.UTC(2026, 11, 3, 12);
    const svc = service(() => clock);
    const who = { keyId: 'k2', caller: 'c2', limits: { budget: { tokens: 1000, period: 'month' as const } } };
    const a = await svc.admit(who, reserve);
    // Set meanwhile: b reserves in the caller's counter too, a does not.
    await svc.callerBudgets.set('c2', { tokens: 1000, period: 'month' });
    const b = await svc.admit(who, reserve);
    assert.ok(a.ok && b.ok);
    assert.equal((await svc.spend('key', 'k2', 'month')).reserved.tokens, 120);
    assert.equal((await svc.spend('caller', 'c2', 'month')).reserved.tokens, 60);
    await svc.settle(who, a.reservation, null, 0, 10);
    assert.equal((await svc.spend('key', 'k2', 'month')).reserved.tokens, 60);
    assert.equal((await svc.spend('caller', 'c2', 'month')).reserved.tokens, 60);
    // Bug caught: the scopes marked held for a's reservation reused for b's leave b's caller reservation held.
    await svc.settle(who, b.reservation, null, 0, 10);
    assert.deepEqual(await svc.spend('key', 'k2', 'month'), { usd: 0, tokens: 20, reserved: { usd: 0, tokens: 0 } });
    assert.deepEqual(await svc.spend('caller', 'c2', 'month'), { usd: 0, tokens: 20, reserved: { usd: 0, tokens: 0 } });
  });

  it('the cost counter holds the sum of every settlement, read after read', async () => {
    const registry = new Registry();
    const svc = service(() => Date.UTC(2026, 11, 3, 12), registry);
    const read = async () => (await registry.getSingleMetric('sipp_gateway_cost_usd_total')!.get()).values;
    await svc.settle(null, null, 't1', 1_500_000, 0);
    await svc.settle(null, null, 't1', 500_000, 0);
    await svc.settle(null, null, 't2', 250_000_000, 0);
    const first = await read();
    assert.deepEqual(
      first.map((v) => [v.labels.target, v.value]),
      [
        ['t1', 0.002],
        ['t2', 0.25],
      ],
    );
    // Bug caught: sums kept after they were added count again at the next read.
    assert.deepEqual(await read(), first);
    await svc.settle(null, null, 't1', 1_000_000, 0);
    assert.equal((await read()).find((v) => v.labels.target === 't1')!.value, 0.003);
  });
});

describe('TOML: pricing, token limits, [budgets]', () => {
  it('accepts pricing on a target, rpm / tpm / budget on a token, and maps them into the caller', () => {
    const cfg = parseConfigText(
      variantOf(
        variantOf(
          MINIMAL_CONFIG,
          'caller = "client-a"',
          'caller = "client-a"\nrpm = 60\ntpm = 1000\nbudget = { usd = 5, period = "week" }',
        ),
        'token_env = "PROVIDER_TOKEN"',
        'token_env = "PROVIDER_TOKEN"\npricing = { input_per_mtok = 1, output_per_mtok = 2 }\n[budgets]\nthreshold_percent = 90',
      ),
    );
    assert.deepEqual(cfg.targets[0]!.pricing, { input_per_mtok: 1, output_per_mtok: 2 });
    assert.equal(cfg.budgets.threshold_percent, 90);
    assert.equal(cfg.budgets.default_max_tokens, 4096);
    const caller = createAuthenticator(cfg.tokens, ['tok-units-0123456789abc'])('Bearer tok-units-0123456789abc');
    assert.deepEqual(caller?.limits, { rpm: 60, tpm: 1000, budget: { usd: 5, period: 'week' } });
  });

  it('refuses bad values, naming the field', () => {
    const token = (extra: string) => variantOf(MINIMAL_CONFIG, 'caller = "client-a"', `caller = "client-a"\n${extra}`);
    rejectsConfig(token('budget = { period = "day" }'), /tokens\[0\]\.budget\.usd: must set usd, tokens or both/);
    rejectsConfig(token('budget = { usd = 1, period = "year" }'), /tokens\[0\]\.budget\.period: /);
    rejectsConfig(token('rpm = 0'), /tokens\[0\]\.rpm: must be > 0/);
    rejectsConfig(
      variantOf(
        MINIMAL_CONFIG,
        'token_env = "PROVIDER_TOKEN"',
        'token_env = "PROVIDER_TOKEN"\npricing = { input_per_mtok = -1 }',
      ),
      /targets\[0\]\.pricing\.input_per_mtok: must be >= 0/,
    );
  });
});
