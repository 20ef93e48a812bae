/**
 * A fixed set of slots (context sequences) handed out one request at a time,
 * with a bounded FIFO queue of waiters. Queue full → 429 `admission` (marked
 * `busy` for routing). With `noWait` a request that finds no free slot fails
 * `busy` at once instead of queueing (spillover to another group member). A waiter
 * whose request is aborted leaves the queue at once. Releasing is idempotent so
 * every exit path (success, error, abort) can call it.
 *
 * FIFO hand-off means no waiter can be overtaken, and every holder is bounded
 * by its max_tokens, so no request starves.
 */
import { GatewayError } from '../../errors.js';

export interface PoolLease<T> {
  readonly item: T;
  release(): void;
}

interface Waiter<T> {
  resolve(lease: PoolLease<T>): void;
  reject(err: unknown): void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class SequencePool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];

  constructor(
    items: readonly T[],
    private readonly maxQueue: number,
    private readonly label: string,
  ) {
    this.free = [...items];
    this.total = items.length;
  }

  readonly total: number;

  get busy(): number {
    return this.total - this.free.length;
  }

  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal: AbortSignal, options: { noWait?: boolean } = {}): Promise<PoolLease<T>> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    const item = this.free.shift();
    if (item !== undefined) return Promise.resolve(this.lease(item));
    if (options.noWait) {
      return Promise.reject(
        new GatewayError('admission', `${this.label} is busy: all ${this.total} sequences in use`, undefined, { phase: 'busy' }),
      );
    }
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(
        new GatewayError(
          'admission',
          `${this.label} is busy: all ${this.total} sequences in use and ${this.maxQueue} requests waiting`,
          undefined,
          { phase: 'busy' },
        ),
      );
    }
    return new Promise<PoolLease<T>>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortError(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private lease(item: T): PoolLease<T> {
    let released = false;
    return {
      item,
      release: () => {
        if (released) return;
        released = true;
        this.handOff(item);
      },
    };
  }

  private handOff(item: T): void {
    const next = this.waiters.shift();
    if (!next) {
      this.free.push(item);
      return;
    }
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve(this.lease(item));
  }

  /** Rejects every waiter (shutdown). */
  rejectWaiters(err: unknown): void {
    for (const w of this.waiters.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
