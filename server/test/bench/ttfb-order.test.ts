/**
 * The ttfb bench's order of requests (server/bench/ttfb.ts, roundOrder): every
 * round asks every row once, and no row always follows the same one, so the
 * row that wakes a gateway after it idled through the other rows is not
 * always the same row; the floor's copies (asked as often as a gateway) are
 * reported as one row holding all their samples (docs/architecture.md#streams).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pooledRows, roundOrder } from '../../bench/ttfb.js';

describe('ttfb bench round order', () => {
  it('asks every row once per round', () => {
    for (let round = 0; round < 50; round++) {
      const order = roundOrder(round, 16);
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        Array.from({ length: 16 }, (_, i) => i),
      );
    }
  });

  it('gives each row many different predecessors and first places across rounds', () => {
    const n = 16;
    const before = Array.from({ length: n }, () => new Set<number>());
    const first = new Set<number>();
    let prev = -1;
    for (let round = 0; round < 300; round++) {
      const order = roundOrder(round, n);
      first.add(order[0]!);
      for (const k of order) {
        if (prev >= 0) before[k]!.add(prev);
        prev = k;
      }
    }
    // A rotation (row k after row k - 1 every round) gives each row at most 2 predecessors.
    for (const [k, set] of before.entries()) assert.ok(set.size >= n / 2, `row ${k} follows only ${set.size} rows`);
    assert.equal(first.size, n);
  });

  it('is the same in every run', () => {
    assert.deepEqual(roundOrder(7, 12), roundOrder(7, 12));
    assert.notDeepEqual(roundOrder(7, 12), roundOrder(8, 12));
  });

  it('reports the floor copies as one row with every sample, the other rows in order', () => {
    const rows = [
      { label: 'direct', ms: [1] },
      { label: 'floor', ms: [2, 3] },
      { label: 'floor', ms: [4] },
      { label: 'gateway', ms: [5] },
      { label: 'floor', ms: [6] },
    ];
    const out = pooledRows(rows);
    assert.deepEqual(
      out.map((r) => r.label),
      ['direct', 'floor', 'gateway'],
    );
    assert.deepEqual(
      [...out[1]!.ms].sort((a, b) => a - b),
      [2, 3, 4, 6],
    );
    assert.deepEqual(out[2]!.ms, [5]);
  });
});
