/** The blocklist model: addresses and CIDR ranges, expiry, notes, outside replacement. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Blocklist, normalizeEntry } from '../../src/security/blocklist.js';

describe('blocklist entries', () => {
  it('normalizes addresses and reduces CIDRs to their network', () => {
    assert.equal(normalizeEntry('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(normalizeEntry('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(normalizeEntry('10.0.0.77/24'), '10.0.0.0/24');
    assert.equal(normalizeEntry('10.0.0.7/32'), '10.0.0.7');
    assert.equal(normalizeEntry('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(normalizeEntry('2001:db8:ffff::1/33'), '2001:db8:8000::/33');
    assert.equal(normalizeEntry('2001:db8::1/128'), '2001:db8::1');
    for (const bad of [
      'not an ip',
      '999.1.1.1',
      '1.2.3',
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '10.0.0.0/8/8',
      '',
      'x'.repeat(65),
    ]) {
      assert.equal(normalizeEntry(bad), null, bad);
    }
  });

  it('matches single addresses and ranges, lists and removes them', () => {
    const b = new Blocklist();
    assert.equal(b.add('::ffff:192.0.2.1')!.entry, '192.0.2.1');
    assert.equal(b.add('not an ip'), null);
    assert.equal(b.add('10.1.2.3/16', { note: 'scanner' })!.entry, '10.1.0.0/16');
    assert.equal(b.add('2001:db8::/32')!.entry, '2001:db8::/32');
    assert.ok(b.has('192.0.2.1'));
    assert.ok(!b.has('192.0.2.2'));
    assert.ok(b.has('10.1.255.254'));
    assert.ok(!b.has('10.2.0.1'));
    assert.ok(b.has('2001:db8:1::5'));
    assert.ok(!b.has('2001:db9::5'));
    assert.ok(!b.has('unknown'));
    assert.deepEqual(
      b
        .list()
        .map((e) => [e.entry, e.note])
        .sort(),
      [
        ['10.1.0.0/16', 'scanner'],
        ['192.0.2.1', null],
        ['2001:db8::/32', null],
      ],
    );
    assert.equal(b.remove('10.1.9.9/16')!.entry, '10.1.0.0/16', 'any spelling of the range removes it');
    assert.ok(!b.has('10.1.255.254'));
    assert.equal(b.remove('10.1.0.0/16'), null);
    assert.equal(b.size, 2);
  });

  it('entries expire on their own', () => {
    let now = 1_000_000;
    const b = new Blocklist(() => now);
    const e = b.add('10.0.0.0/8', { expiresInSeconds: 60 })!;
    assert.equal(e.expiresAt, 1_060_000);
    b.add('192.0.2.1');
    assert.ok(b.has('10.9.9.9'));
    now += 59_999;
    assert.ok(b.has('10.9.9.9'));
    now += 1;
    assert.ok(!b.has('10.9.9.9'), 'expired');
    assert.ok(b.has('192.0.2.1'), 'entries without expiry stay');
    assert.deepEqual(
      b.list().map((x) => x.entry),
      ['192.0.2.1'],
    );
  });

  it('can be replaced or changed from outside (a shared store)', () => {
    const b = new Blocklist();
    b.add('192.0.2.1');
    b.replaceAll([{ entry: '10.0.0.0/8', addedAt: 1, expiresAt: null, note: 'from store' }]);
    assert.ok(!b.has('192.0.2.1'));
    assert.ok(b.has('10.0.0.1'));
    b.apply({ op: 'add', entry: { entry: '198.51.100.7', addedAt: 2, expiresAt: null, note: null } });
    assert.ok(b.has('198.51.100.7'));
    b.apply({ op: 'remove', entry: '10.0.0.0/8' });
    assert.ok(!b.has('10.0.0.1'));
    assert.equal(b.size, 1);
  });

  it('an IPv4-mapped range is stored as the IPv4 range it covers; IPv6 ranges never match IPv4 clients', () => {
    assert.equal(normalizeEntry('::ffff:127.0.0.1/96'), '0.0.0.0/0', 'not ::ffff:0.0.0.0/96');
    assert.equal(normalizeEntry('::ffff:10.1.2.3/104'), '10.0.0.0/8');
    assert.equal(normalizeEntry('::FFFF:192.0.2.77/120'), '192.0.2.0/24');
    assert.equal(normalizeEntry('::ffff:0:0/95'), '::fffe:0:0/95', 'wider than the mapped block: stays IPv6');
    const b = new Blocklist();
    b.add('::/0');
    assert.equal(b.has('2001:db8::1'), true, '::/0 blocks every IPv6 client');
    assert.equal(b.has('192.0.2.1'), false, 'and no IPv4 client');
    b.add('::ffff:10.1.2.3/104');
    assert.equal(b.has('10.200.0.1'), true);
    assert.equal(b.has('11.0.0.1'), false);
    const all4 = new Blocklist();
    all4.add('0.0.0.0/0');
    assert.equal(all4.has('203.0.113.9'), true);
    assert.equal(all4.has('2001:db8::1'), false);
  });
});
