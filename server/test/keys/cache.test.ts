/**
 * The managed-key cache and secrets (docs/keys.md): which presented secret
 * authenticates when — active, disabled, revoked, expired, rotated with and
 * without grace — on an injected clock; the secret format; the budget periods
 * a key's spend is read over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyCache } from '../../src/keys/cache.js';
import { displayPrefix, generateSecret, hashSecret, newKeyId } from '../../src/keys/secret.js';
import { periodStart } from '../../src/keys/spend.js';
import type { KeyRow } from '../../src/keys/store.js';

const T0 = Date.UTC(2026, 5, 10, 12, 0, 0);

function row(secret: string, over: Partial<KeyRow> = {}): KeyRow {
  return {
    id: 'key_AAAAAAAAAAAAAAAA',
    name: 'n',
    caller: 'team-a',
    secretHash: hashSecret(secret),
    prefix: displayPrefix(secret),
    targets: [],
    rpm: null,
    tpm: null,
    budget: null,
    expiresAt: null,
    metadata: {},
    disabled: false,
    revokedAt: null,
    previousHash: null,
    previousValidUntil: null,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...over,
  };
}

describe('key secrets', () => {
  test('sk-sipp- + 40 base62 characters, all different; the prefix shows 4 of them', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = generateSecret();
      assert.match(s, /^sk-sipp-[0-9A-Za-z]{40}$/);
      seen.add(s);
      for (const c of s.slice(8)) chars.add(c);
    }
    assert.equal(seen.size, 2000);
    assert.equal(chars.size, 62, 'every base62 character occurs');
    const s = generateSecret();
    assert.equal(displayPrefix(s), s.slice(0, 12));
    assert.match(newKeyId(), /^key_[0-9A-Za-z]{16}$/);
    assert.match(hashSecret(s), /^[0-9a-f]{64}$/);
    assert.notEqual(hashSecret(s), hashSecret(`${s}x`));
  });
});

describe('key cache', () => {
  const secret = generateSecret();

  test('an active key authenticates as its caller with its targets and limits', () => {
    const c = new KeyCache();
    assert.equal(c.loaded, false);
    c.apply([row(secret, { targets: ['chat'], rpm: 5, tpm: 100, budget: { usd: 2, period: 'day' } })], 1);
    assert.equal(c.loaded, true);
    const r = c.lookup(secret, T0);
    assert.ok(r && 'caller' in r);
    assert.equal(r.caller.label, 'team-a');
    assert.equal(r.caller.keyId, 'key_AAAAAAAAAAAAAAAA');
    assert.deepEqual([...r.caller.allowed!], ['chat']);
    assert.deepEqual(r.caller.limits, { rpm: 5, tpm: 100, budget: { usd: 2, period: 'day' } });
    assert.equal(c.lookup(`${secret}x`, T0), null, 'exact match only');
    assert.equal(c.lookup(secret.toUpperCase(), T0), null);
    assert.equal(c.lookup('not-a-key', T0), null);
  });

  test('no targets means every target; no limits means an empty limits object', () => {
    const c = new KeyCache();
    c.apply([row(secret)], 1);
    const r = c.lookup(secret, T0);
    assert.ok(r && 'caller' in r);
    assert.equal(r.caller.allowed, null);
    assert.deepEqual(r.caller.limits, {});
  });

  test('disabled, revoked and expired keys are refused, each saying why', () => {
    const c = new KeyCache();
    c.apply([row(secret, { disabled: true })], 1);
    assert.deepEqual(refusal(c.lookup(secret, T0)), 'disabled');
    c.apply([row(secret, { disabled: false, version: 2 })], 2);
    assert.ok(c.lookup(secret, T0) && 'caller' in c.lookup(secret, T0)!);
    c.apply([row(secret, { expiresAt: T0 + 1000, version: 3 })], 3);
    assert.ok('caller' in c.lookup(secret, T0 + 999)!, 'valid until the instant it expires');
    assert.equal(refusal(c.lookup(secret, T0 + 1000)), 'expired');
    c.apply([row(secret, { revokedAt: T0, disabled: true, version: 4 })], 4);
    assert.equal(refusal(c.lookup(secret, T0)), 'revoked', 'revocation wins over the other states');
  });

  test('an older row never replaces a newer one', () => {
    const c = new KeyCache();
    c.apply([row(secret, { revokedAt: T0, version: 5 })], 5);
    c.apply([row(secret, { version: 4 })], 5);
    assert.equal(refusal(c.lookup(secret, T0)), 'revoked');
  });

  test('rotation: the new secret works, the old one only until its grace deadline', () => {
    const next = generateSecret();
    const c = new KeyCache();
    c.apply([row(secret)], 1);
    c.apply([row(next, { previousHash: hashSecret(secret), previousValidUntil: T0 + 60_000, version: 2 })], 2);
    assert.ok('caller' in c.lookup(next, T0)!);
    assert.ok('caller' in c.lookup(secret, T0 + 59_999)!, 'old secret inside the grace');
    assert.equal(refusal(c.lookup(secret, T0 + 60_000)), 'rotated');
    // Rotated again without grace: the first secret is unknown, the second refused.
    const third = generateSecret();
    c.apply([row(third, { version: 3 })], 3);
    assert.equal(c.lookup(secret, T0), null);
    assert.equal(c.lookup(next, T0), null);
    assert.ok('caller' in c.lookup(third, T0)!);
  });

  test('a disabled key refuses its grace secret too', () => {
    const next = generateSecret();
    const c = new KeyCache();
    c.apply([row(next, { previousHash: hashSecret(secret), previousValidUntil: T0 + 60_000, disabled: true })], 1);
    assert.equal(refusal(c.lookup(secret, T0)), 'disabled');
  });
});

function refusal(r: ReturnType<KeyCache['lookup']>): string | null {
  return r && 'refused' in r ? r.refused : null;
}

describe('budget periods', () => {
  test('calendar UTC: day, ISO week from Monday, month; total has no start', () => {
    const wed = Date.UTC(2026, 5, 10, 23, 59, 59); // Wednesday 2026-06-10
    assert.equal(new Date(periodStart('day', wed)!).toISOString(), '2026-06-10T00:00:00.000Z');
    assert.equal(new Date(periodStart('week', wed)!).toISOString(), '2026-06-08T00:00:00.000Z');
    assert.equal(new Date(periodStart('week', Date.UTC(2026, 5, 14, 12))!).toISOString(), '2026-06-08T00:00:00.000Z', 'Sunday');
    assert.equal(new Date(periodStart('week', Date.UTC(2026, 5, 8))!).toISOString(), '2026-06-08T00:00:00.000Z', 'Monday');
    assert.equal(new Date(periodStart('month', wed)!).toISOString(), '2026-06-01T00:00:00.000Z');
    assert.equal(periodStart('total', wed), null);
  });
});
