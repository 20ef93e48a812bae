/**
 * One target's circuit: closed → (failure_threshold consecutive retryable
 * failures) → open → (open_seconds later) half-open, where exactly one probe
 * request is let through: its success closes the circuit, its failure reopens
 * it. An operator drain forces the circuit open until released.
 *
 * Without a `[targets.circuit]` table the breaker still keeps the numbers the
 * dashboard shows (consecutive failures, last failure, success rate) but never
 * opens by itself; a drain still works.
 *
 * Time comes from an injected clock so tests need no sleeps.
 */
import type { CircuitState } from '@sipp/shared';
import { RollingRate } from './rolling-rate.js';

export interface CircuitSettings {
  failureThreshold: number;
  openMs: number;
}

export interface CircuitTransition {
  target: string;
  from: CircuitState;
  to: CircuitState;
  reason: string;
}

/** The right to make one call; report how it went exactly once. */
export interface CircuitPermit {
  /** The upstream answered (successfully, or with a non-retryable error). */
  success(): void;
  /** A retryable failure (`code` says which, e.g. "5xx", "timeout"). */
  failure(code: string): void;
  /** The call ended without a verdict (client gone, local target busy). */
  abandon(): void;
}

export interface CircuitSnapshot {
  state: CircuitState;
  drained: boolean;
  consecutiveFailures: number;
  lastFailure: { time: number; code: string } | null;
  /** Successful calls / calls over the last 5 minutes; null without calls. */
  successRate5m: number | null;
  /** Epoch ms when an open circuit half-opens (null unless open and not drained). */
  halfOpenAt: number | null;
}

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private drained = false;
  private failures = 0;
  private lastFailure: { time: number; code: string } | null = null;
  private openedAt = 0;
  private probing = false;
  private readonly rate: RollingRate;

  constructor(
    readonly target: string,
    private readonly settings: CircuitSettings | null,
    private readonly now: () => number,
    private readonly onTransition: (t: CircuitTransition) => void,
  ) {
    this.rate = new RollingRate(5 * 60_000, 30, now);
  }

  /** A permit to call now, or null when the circuit refuses (open, drained, probe in flight). */
  admit(): CircuitPermit | null {
    if (this.drained) return null;
    if (this.state === 'open') {
      if (this.now() < this.openedAt + (this.settings?.openMs ?? 0)) return null;
      this.move('half_open', 'open_seconds elapsed');
    }
    if (this.state === 'half_open') {
      if (this.probing) return null;
      this.probing = true;
      return this.permit(true);
    }
    return this.permit(false);
  }

  /** Whether admit() would grant a permit now (changes nothing). */
  available(): boolean {
    if (this.drained) return false;
    if (this.state === 'open') return this.now() >= this.openedAt + (this.settings?.openMs ?? 0);
    return !(this.state === 'half_open' && this.probing);
  }

  /** Milliseconds until this circuit lets a request through again (0 when it would now; null when drained). */
  retryAfterMs(): number | null {
    if (this.drained) return null;
    if (this.state !== 'open') return 0;
    return Math.max(0, this.openedAt + (this.settings?.openMs ?? 0) - this.now());
  }

  drain(): void {
    if (this.drained) return;
    this.drained = true;
    const from = this.state;
    this.state = 'open';
    this.probing = false;
    this.openedAt = this.now();
    if (from !== 'open') this.onTransition({ target: this.target, from, to: 'open', reason: 'drained by operator' });
  }

  release(): void {
    if (!this.drained) return;
    this.drained = false;
    this.failures = 0;
    this.move('closed', 'released by operator');
  }

  snapshot(): CircuitSnapshot {
    // An open circuit whose time is up reads as half-open before the next request arrives.
    const due = this.state === 'open' && !this.drained && this.retryAfterMs() === 0;
    return {
      state: due ? 'half_open' : this.state,
      drained: this.drained,
      consecutiveFailures: this.failures,
      lastFailure: this.lastFailure,
      successRate5m: this.rate.ratio(),
      halfOpenAt: this.state === 'open' && !this.drained ? this.openedAt + (this.settings?.openMs ?? 0) : null,
    };
  }

  private permit(probe: boolean): CircuitPermit {
    return new Permit(this, probe);
  }

  /** A permit's verdict; called by Permit only, once per permit. */
  settle(probe: boolean, verdict: 'success' | 'failure' | 'abandon', code?: string): void {
    if (probe) this.probing = false;
    if (verdict === 'abandon') return;
    if (verdict === 'success') {
      this.rate.add(true);
      this.failures = 0;
      if (probe && this.state === 'half_open') this.move('closed', 'probe succeeded');
      return;
    }
    this.rate.add(false);
    this.failures += 1;
    this.lastFailure = { time: this.now(), code: code! };
    if (this.drained) return;
    if (probe && this.state === 'half_open') return this.open(`probe failed (${code})`);
    if (this.settings && this.state === 'closed' && this.failures >= this.settings.failureThreshold) {
      this.open(`${this.failures} consecutive failures (last ${code})`);
    }
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.move('open', reason);
  }

  private move(to: CircuitState, reason: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.onTransition({ target: this.target, from, to, reason });
  }
}

/** One call's permit: the first report counts, later ones do nothing. One object per call, its methods on the prototype. */
class Permit implements CircuitPermit {
  private settled = false;

  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly probe: boolean,
  ) {}

  success(): void {
    if (this.take()) this.breaker.settle(this.probe, 'success');
  }

  failure(code: string): void {
    if (this.take()) this.breaker.settle(this.probe, 'failure', code);
  }

  abandon(): void {
    if (this.take()) this.breaker.settle(this.probe, 'abandon');
  }

  private take(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}
