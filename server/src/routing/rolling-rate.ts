/**
 * Success ratio over a sliding window, kept in fixed time buckets so memory
 * stays constant however many calls arrive.
 */
export class RollingRate {
  private readonly bucketMs: number;
  private readonly ok: number[];
  private readonly total: number[];
  private readonly stamp: number[];

  constructor(
    windowMs: number,
    private readonly buckets: number,
    private readonly now: () => number,
  ) {
    this.bucketMs = windowMs / buckets;
    this.ok = new Array<number>(buckets).fill(0);
    this.total = new Array<number>(buckets).fill(0);
    this.stamp = new Array<number>(buckets).fill(-1);
  }

  add(success: boolean): void {
    const slot = Math.floor(this.now() / this.bucketMs);
    const i = slot % this.buckets;
    if (this.stamp[i] !== slot) {
      this.stamp[i] = slot;
      this.ok[i] = 0;
      this.total[i] = 0;
    }
    this.total[i]! += 1;
    if (success) this.ok[i]! += 1;
  }

  /** ok / total over the window, or null when there were no calls. */
  ratio(): number | null {
    const current = Math.floor(this.now() / this.bucketMs);
    let ok = 0;
    let total = 0;
    for (let i = 0; i < this.buckets; i++) {
      const s = this.stamp[i]!;
      if (s < 0 || current - s >= this.buckets) continue;
      ok += this.ok[i]!;
      total += this.total[i]!;
    }
    return total === 0 ? null : ok / total;
  }
}
