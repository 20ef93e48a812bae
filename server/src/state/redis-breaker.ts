/**
 * Fail-fast access to the shared state store (docs/operations.md "When Redis
 * fails"): every command on the request path and of the admin session store
 * gets a short budget (`[state] command_budget_ms`), and after
 * `breaker_failures` consecutive failures (errors or budgets run out) Redis is
 * skipped for `breaker_seconds`: callers decide locally at once instead of
 * waiting. After that one probe command goes through; its success closes the
 * breaker, its failure skips Redis for another period. A warn line is logged
 * when the breaker trips and when Redis is back, and command timeouts are
 * logged (at most one line a minute) even when they do not trip it.
 */
import type { Logger } from 'pino';
import { safeError } from './redis-connection.js';

export { BudgetExceededError, RedisSkippedError } from '../errors.js';
import { BudgetExceededError, RedisSkippedError } from '../errors.js';

export interface BreakerOptions {
  budgetMs: number;
  failures: number;
  openMs: number;
  log: Logger;
  /** The clock, in ms (default Date.now); injectable for tests. */
  now?: () => number;
  onTrip?: () => void;
  onTimeout?: () => void;
  /** Called with true while Redis is skipped, false when it is back. */
  onSkipping?: (skipping: boolean) => void;
  /** Called when a probe succeeded and Redis is used again. */
  onRecover?: () => void;
}

const TIMEOUT_LOG_EVERY_MS = 60_000;

export class RedisBreaker {
  private consecutive = 0;
  private openUntil = 0;
  private open = false;
  private probing = false;
  private openedAt = 0;
  private timeoutsSinceLine = 0;
  private lastTimeoutLine = -Infinity;
  private readonly now: () => number;
  private readonly budgets: Budgets;

  constructor(private readonly o: BreakerOptions) {
    this.now = o.now ?? Date.now;
    this.budgets = new Budgets(o.budgetMs);
  }

  /** True while callers must not wait for Redis. */
  skipping(now = this.now()): boolean {
    return this.open && (this.probing || now < this.openUntil);
  }

  /**
   * Runs `op` within the budget unless Redis is skipped (then RedisSkippedError
   * at once). While open, the first call after the period is the probe.
   */
  async run<T>(op: () => Promise<T>): Promise<T> {
    const now = this.now();
    if (this.skipping(now)) throw new RedisSkippedError();
    const probe = this.open;
    if (probe) this.probing = true;
    try {
      const value = await this.budgets.race(op());
      this.success();
      return value;
    } catch (err) {
      this.failure(err);
      throw err;
    } finally {
      if (probe) this.probing = false;
    }
  }

  success(): void {
    this.consecutive = 0;
    if (!this.open) return;
    this.open = false;
    this.o.log.warn(
      { skippedMs: Math.max(0, this.now() - this.openedAt) },
      'state store (redis) answering again: shared rate limits and sessions resumed',
    );
    this.o.onSkipping?.(false);
    this.o.onRecover?.();
  }

  failure(err: unknown, now = this.now()): void {
    const timedOut = err instanceof BudgetExceededError || (err as { message?: unknown })?.message === 'Command timed out';
    if (timedOut) {
      this.o.onTimeout?.();
      this.timeoutsSinceLine++;
      if (!this.open && now - this.lastTimeoutLine >= TIMEOUT_LOG_EVERY_MS) {
        this.o.log.warn({ timeouts: this.timeoutsSinceLine, budgetMs: this.o.budgetMs }, 'state store (redis) command timed out');
        this.lastTimeoutLine = now;
        this.timeoutsSinceLine = 0;
      }
    }
    if (this.open) {
      // A failed probe: skip for another period, quietly (the trip was logged).
      this.openUntil = now + this.o.openMs;
      return;
    }
    if (++this.consecutive < this.o.failures) return;
    this.open = true;
    this.openedAt = now;
    this.openUntil = now + this.o.openMs;
    this.o.onTrip?.();
    this.o.onSkipping?.(true);
    this.o.log.warn(
      { err: safeError(err), failures: this.consecutive, skipSeconds: this.o.openMs / 1000, budgetMs: this.o.budgetMs },
      'state store (redis) failing: skipped for a while; rate limits are enforced locally, sign-in uses local sessions',
    );
  }
}

/**
 * Rejects with BudgetExceededError when `p` has not settled within `ms`. When
 * the timer fires, the check waits for the I/O phase of the same loop turn
 * (setImmediate), so a reply that arrived while the event loop was busy still
 * counts: only a store that really did not answer runs out of budget.
 */
export function withBudget<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(new BudgetExceededError(ms));
      });
    }, ms);
    p.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

interface Pending {
  deadline: number;
  settled: boolean;
  reject: (err: Error) => void;
}

/**
 * withBudget for many commands with one budget, without a timer each (a
 * timer per request-path command was a tenth of a Redis request's CPU): every
 * command gets the same budget, so deadlines fall in the order commands
 * start, and one timer armed for the oldest unsettled one serves them all.
 * Same rule as withBudget: a command is out of budget only if it has not
 * settled by the I/O phase after its deadline.
 */
class Budgets {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ms: number) {}

  race<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.ms, settled: false, reject };
      this.queue.push(entry);
      if (!this.timer) this.arm();
      p.then(
        (v) => {
          if (entry.settled) return;
          entry.settled = true;
          resolve(v);
        },
        (e: unknown) => {
          if (entry.settled) return;
          entry.settled = true;
          reject(e);
        },
      );
    });
  }

  /** Arms the timer for the oldest unsettled command, dropping settled ones from the front. */
  private arm(): void {
    while (this.head < this.queue.length && this.queue[this.head]!.settled) this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const wait = Math.max(0, this.queue[this.head]!.deadline - performance.now());
    this.timer = setTimeout(() => {
      const firedAt = performance.now();
      setImmediate(() => this.expire(firedAt));
    }, Math.ceil(wait));
  }

  /** Rejects the commands whose deadline had passed when the timer fired and that the I/O phase since did not settle. */
  private expire(firedAt: number): void {
    this.timer = null;
    while (this.head < this.queue.length) {
      const e = this.queue[this.head]!;
      if (!e.settled) {
        if (e.deadline > firedAt) break;
        e.settled = true;
        e.reject(new BudgetExceededError(this.ms));
      }
      this.head++;
    }
    this.arm();
  }
}
