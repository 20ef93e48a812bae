/**
 * `max_concurrent_requests` admission: a counter of in-flight inference
 * requests with an adjustable limit (null = unbounded). The release function is
 * idempotent so every exit path (success, error, disconnect) can call it.
 */
export type Release = () => void;

export class Admission {
  private active = 0;
  constructor(private max: number | null) {}

  get limit(): number | null {
    return this.max;
  }

  setLimit(limit: number | null): void {
    this.max = limit;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Returns a release function, or null when every slot is taken. */
  tryAcquire(): Release | null {
    if (this.max !== null && this.active >= this.max) return null;
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }
}
