/** Fixed-size ring of the most recent finished requests (the request explorer). */
import type { RequestRecord } from '@sipp/shared';

export class RecentRequests {
  private readonly ring: Array<RequestRecord | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 1000) {
    this.ring = new Array(capacity);
  }

  record(r: RequestRecord): void {
    this.ring[this.next] = r;
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
}
