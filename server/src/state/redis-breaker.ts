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

  constructor(private readonly o: BreakerOptions) {
    this.now = o.now ?? Date.now;
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
      const value = await withBudget(op(), this.o.budgetMs);
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
