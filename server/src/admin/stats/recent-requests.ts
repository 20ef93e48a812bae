/** Fixed-size ring of the most recent finished requests. */
import type { RequestRecord } from '@sipp/shared';

export class RecentRequests {
  private readonly ring: Array<RequestRecord | undefined>;
  private next = 0;
  private count = 0;

  constructor(private readonly capacity = 200) {
    this.ring = new Array(capacity);
  }

  record(r: RequestRecord): void {
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Newest first, at most `limit`. */
  list(limit = this.capacity): RequestRecord[] {
    const out: RequestRecord[] = [];
    const n = Math.min(limit, this.count);
    for (let i = 1; i <= n; i++) {
      out.push({ ...this.ring[(this.next - i + this.capacity) % this.capacity]! });
    }
    return out;
  }
}
