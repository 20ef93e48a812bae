/**
 * The stored controls document (file or Redis) and how a replica loads it:
 * blocklist expiry is enforced on load and resync, not only by the matcher,
 * and the document keeps each entry's range, expiry and note.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyControls, foldChange, parseControlsDoc, type ControlsDoc } from '../../src/state/controls.js';
import { Admission } from '../../src/security/admission.js';
import { Blocklist } from '../../src/security/blocklist.js';
import { RateLimiter } from '../../src/security/rate-limit.js';

/** Live controls whose blocklist clock stands still at `blocklistNow`. */
function liveControls(blocklistNow: number) {
  return {
    blocklist: new Blocklist(() => blocklistNow),
    rateLimiter: new RateLimiter({ enabled: false, requestsPerMinute: 60, burst: 60 }),
    admission: new Admission(null),
  };
}

const doc = (blocklist: ControlsDoc['blocklist']): ControlsDoc => ({ blocklist });

describe('applyControls and blocklist expiry', () => {
  it('loads a CIDR entry with its expiry and note; the matcher refuses inside the range only', () => {
    const live = liveControls(1_000);
    applyControls(live, doc([{ ip: '10.9.0.0/16', addedAt: 500, expiresAt: 5_000, note: 'bot range' }]), 1_000);
    assert.deepEqual(live.blocklist.list(), [{ entry: '10.9.0.0/16', addedAt: 500, expiresAt: 5_000, note: 'bot range' }]);
    assert.equal(live.blocklist.has('10.9.200.3'), true);
    assert.equal(live.blocklist.has('10.10.0.1'), false);
  });

  it('an entry expired by the load time is not loaded, whatever the matcher clock says', () => {
    // The blocklist's own clock lags (it would still match): the load itself must drop the entry.
    const live = liveControls(0);
    applyControls(
      live,
      doc([
        { ip: '10.9.0.0/16', addedAt: 0, expiresAt: 1_000, note: null },
        { ip: '192.0.2.1', addedAt: 0, expiresAt: null },
      ]),
      1_000,
    );
    assert.deepEqual(
      live.blocklist.list().map((e) => e.entry),
      ['192.0.2.1'],
    );
    assert.equal(live.blocklist.has('10.9.0.1'), false);
  });

  it('a resync after expiry does not bring the entry back', () => {
    let clock = 0;
    const live = { ...liveControls(0), blocklist: new Blocklist(() => clock) };
    const stored = doc([{ ip: '10.9.0.0/16', addedAt: 0, expiresAt: 1_000, note: 'short' }]);
    applyControls(live, stored, clock);
    assert.equal(live.blocklist.has('10.9.0.1'), true);
    clock = 1_000;
    assert.equal(live.blocklist.has('10.9.0.1'), false, 'the matcher drops it at its expiry');
    applyControls(live, stored, clock);
    assert.equal(live.blocklist.has('10.9.0.1'), false, 'and the resync does not revive it');
    assert.equal(live.blocklist.size, 0);
  });
});

describe('the stored document', () => {
  it('folding a change drops expired entries and keeps the others with their expiry and note', () => {
    const before = doc([
      { ip: '10.1.0.0/24', addedAt: 0, expiresAt: 1_000, note: 'gone' },
      { ip: '10.2.0.0/24', addedAt: 0, expiresAt: 9_000, note: 'kept' },
    ]);
    const after = foldChange(
      before,
      { kind: 'block', entry: { ip: '10.3.0.1', addedAt: 2_000, expiresAt: null, note: null } },
      2_000,
    );
    assert.deepEqual(after.blocklist, [
      { ip: '10.2.0.0/24', addedAt: 0, expiresAt: 9_000, note: 'kept' },
      { ip: '10.3.0.1', addedAt: 2_000, expiresAt: null, note: null },
    ]);
  });

  it('a stored entry with a malformed expiry or note is a named error', () => {
    assert.throws(
      () => parseControlsDoc({ blocklist: [{ ip: '10.0.0.1', addedAt: 1, expiresAt: 'soon' }] }),
      /blocklist\[0\]\.expiresAt: must be null or epoch ms/,
    );
    assert.throws(
      () => parseControlsDoc({ blocklist: [{ ip: '10.0.0.1', addedAt: 1, note: 7 }] }),
      /blocklist\[0\]\.note: must be null or a string/,
    );
  });

  it('applies the TOML / admin API ranges and names the entry: nothing invalid is dropped silently', () => {
    const base = { blocklist: [] };
    assert.throws(
      () => parseControlsDoc({ ...base, rateLimit: { enabled: true, requestsPerMinute: 60, burst: 1e300 } }),
      /rateLimit\.burst: must be (<= 1000000|a whole number)/,
    );
    assert.throws(
      () => parseControlsDoc({ ...base, rateLimit: { enabled: true, requestsPerMinute: 60, burst: 1.5 } }),
      /rateLimit\.burst: must be a whole number/,
    );
    assert.throws(
      () => parseControlsDoc({ ...base, rateLimit: { enabled: true, requestsPerMinute: Infinity, burst: 1 } }),
      /rateLimit\.requestsPerMinute/,
    );
    assert.throws(() => parseControlsDoc({ ...base, concurrencyLimit: 100_001 }), /concurrencyLimit: must be <= 100000/);
    assert.throws(
      () => parseControlsDoc({ blocklist: [{ ip: 'not-an-ip', addedAt: 1 }] }),
      /blocklist\[0\]\.ip: not a valid IP address or CIDR \("not-an-ip"\)/,
    );
    assert.throws(() => parseControlsDoc({ blocklist: [{ ip: '10.0.0.0/33', addedAt: 1 }] }), /blocklist\[0\]\.ip/);
    assert.throws(
      () => parseControlsDoc({ blocklist: [{ ip: '10.0.0.1', addedAt: 1, note: 'n'.repeat(201) }] }),
      /blocklist\[0\]\.note/,
    );
    assert.throws(() => parseControlsDoc({ blocklist: [], extra: 1 }), /unknown field "extra"/);
    assert.throws(() => parseControlsDoc({ blocklist: [], drained: [7] }), /drained\[0\]/);
    // A valid but non-canonical entry is kept, in its canonical form.
    assert.deepEqual(parseControlsDoc({ blocklist: [{ ip: '10.1.2.3/8', addedAt: 1 }] }).blocklist, [
      { ip: '10.0.0.0/8', addedAt: 1 },
    ]);
    assert.deepEqual(
      parseControlsDoc({ blocklist: [], rateLimit: { enabled: true, requestsPerMinute: 1_000_000, burst: 1_000_000 } }).rateLimit,
      {
        enabled: true,
        requestsPerMinute: 1_000_000,
        burst: 1_000_000,
      },
    );
  });
});
