/** Fixed-size ring of the most recent finished requests (the request explorer). */
import type { RequestRecord, RequestSort } from '@sipp/shared';

/** Where the previous page ended: the sort key and sequence number of its last row. */
export interface PageCursor {
  sort: RequestSort;
  value: number;
  seq: number;
}

export interface Page {
  requests: RequestRecord[];
  /** Every kept request that matches (all pages). */
  matched: number;
  next: PageCursor | null;
}

/** The sort key: larger first (time: arrival order; ttft: requests without one last). */
function keyOf(sort: RequestSort, r: RequestRecord, seq: number): number {
  if (sort === 'duration') return r.durationMs;
  if (sort === 'ttft') return r.ttftMs ?? -1;
  return seq;
}

export class RecentRequests {
  private readonly ring: Array<RequestRecord | undefined>;
  /** Sequence number of each slot's request (1, 2, 3 … in arrival order): a cursor stays valid while the ring turns. */
  private readonly seqs: Float64Array;
  private next = 0;
  private count = 0;
  private seq = 0;

  constructor(readonly capacity = 1000) {
    this.ring = new Array(capacity);
    this.seqs = new Float64Array(capacity);
  }

  record(r: RequestRecord): void {
    this.ring[this.next] = r;
    this.seqs[this.next] = ++this.seq;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Newest first, at most `limit`, optionally only those matching `keep`. */
  list(limit = this.capacity, keep?: (r: RequestRecord) => boolean): RequestRecord[] {
    const out: RequestRecord[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const r = this.ring[(this.next - i + this.capacity) % this.capacity]!;
      if (!keep || keep(r)) out.push({ ...r });
    }
    return out;
  }

  /** How many kept requests match. */
  countWhere(keep: (r: RequestRecord) => boolean): number {
    let n = 0;
    for (let i = 1; i <= this.count; i++) if (keep(this.ring[(this.next - i + this.capacity) % this.capacity]!)) n++;
    return n;
  }

  /**
   * One page of the matching requests in `sort` order (largest key first, ties
   * newest first), after `cursor` when given. Requests that left the ring since
   * the previous page are simply gone; new ones sort in by their key (for
   * `time`, they are ahead of the cursor, so paging never repeats a row).
   */
  page(keep: (r: RequestRecord) => boolean, sort: RequestSort, limit: number, cursor: PageCursor | null): Page {
    const rows: Array<{ r: RequestRecord; key: number; seq: number }> = [];
    for (let i = 1; i <= this.count; i++) {
      const slot = (this.next - i + this.capacity) % this.capacity;
      const r = this.ring[slot]!;
      if (!keep(r)) continue;
      const seq = this.seqs[slot]!;
      rows.push({ r, key: keyOf(sort, r, seq), seq });
    }
    const matched = rows.length;
    // Newest first already; a stable sort keeps that order among equal keys.
    if (sort !== 'time') rows.sort((a, b) => b.key - a.key);
    const after = cursor ? rows.filter((x) => x.key < cursor.value || (x.key === cursor.value && x.seq < cursor.seq)) : rows;
    const pageRows = after.slice(0, limit);
    const last = pageRows[pageRows.length - 1];
    return {
      requests: pageRows.map((x) => ({ ...x.r })),
      matched,
      next: after.length > limit && last ? { sort, value: last.key, seq: last.seq } : null,
    };
  }
}
