/**
 * Counts in-flight public requests so shutdown can wait for them, and lets
 * shutdown cut the ones still running when the grace period is over (each
 * request registers how it is cut: an error frame or a 503, see public/app.ts).
 */
export class InFlight {
  private readonly cuts = new Set<() => void>();
  private waiters: Array<() => void> = [];

  /** Registers a request; call the returned function when it has finished. */
  begin(cut: () => void): () => void {
    const entry = () => cut();
    this.cuts.add(entry);
    return () => {
      if (!this.cuts.delete(entry)) return;
      if (this.cuts.size === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  get size(): number {
    return this.cuts.size;
  }

  /** Cuts every request still in flight; returns how many there were. */
  cutAll(): number {
    const all = [...this.cuts];
    for (const cut of all) cut();
    return all.length;
  }

  /** Resolves true when idle, false when the timeout passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.cuts.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
