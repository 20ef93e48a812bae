/**
 * Resolves a request's `model` (a target or a `[[groups]]` name) and runs the
 * caller's `attempt` against its members: strategy order, circuit breakers,
 * retries with backoff, fallbacks. One router serves every API surface: the
 * surface decides what an attempt is (for streams: open the stream and await
 * its first chunk, so every failure before the first byte to the client can
 * fall over; later failures are the surface's business).
 *
 * A direct target request is a group of one with no retries: its circuit still
 * applies (open or drained → 503 `unavailable`).
 */
import type { AttemptRecord, CircuitState, GroupStrategy, Operation, RetryOn } from '@sipp/shared';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { GatewayError, ProviderError } from '../errors.js';
import type { Target } from '../targets/target.js';
import { CircuitBreaker, type CircuitPermit, type CircuitSettings, type CircuitTransition } from './circuit-breaker.js';
import { failureKind, NO_RETRY, retryDelayMs, type RetrySettings } from './retry-policy.js';
import { createStrategy, type Strategy } from './strategies.js';

export interface GroupDefinition {
  name: string;
  strategy: GroupStrategy;
  targets: string[];
  weights?: number[];
  retry: RetrySettings;
}

export type AttemptOutcome = 'success' | 'retryable_error' | 'error';

/** Where the router reports what it did (metrics). */
export interface RoutingMetrics {
  attempt(target: string, outcome: AttemptOutcome): void;
  fallback(group: string): void;
  transition(t: CircuitTransition): void;
}

export interface RouterOptions {
  targets: ReadonlyMap<string, Target>;
  groups: readonly GroupDefinition[];
  /** `aliases` of targets and groups (config/aliases.ts); absent = names only. */
  aliases?: { resolve(model: string): string | null; exactAliases(): Array<[string, string]> };
  /** Per-target `[targets.circuit]`; absent = never opens by itself. */
  circuits: ReadonlyMap<string, CircuitSettings>;
  log: Logger;
  metrics?: RoutingMetrics;
  /** Epoch ms (tests inject a fake clock). */
  now?: () => number;
  /** [0, 1) for backoff jitter. */
  random?: () => number;
  /** Waits `ms` unless `signal` aborts first (then rejects). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface AttemptOptions {
  /**
   * Fail at once with a `busy` error instead of waiting in a local target's
   * queue: set when `busy` is retryable and another member can still take the
   * request (spillover).
   */
  noWait: boolean;
}

/** What the request record learns while the router works (RequestState has these fields). */
export interface RouteTrace {
  /** Request id, for the fallback log line. */
  id?: string;
  target: string | null;
  group: string | null;
  /** Each call, in time order (docs/dashboard.md#reasons). */
  attempts: AttemptRecord[];
  upstreamStatus: number | null;
  /** Set when the router refused without calling anyone: `circuit_open`, `drained` or `no_member`. */
  reason: string | null;
}

export interface Served<T> {
  value: T;
  target: Target;
  /** Call when the response is over (streams: after the last frame) so least_busy sees it leave. */
  done(): void;
}

/** A resolved `model`: its group (if any) and the members that support the operation, in listed order. */
export interface Route {
  model: string;
  group: string | null;
  members: readonly Target[];
}

interface Group extends GroupDefinition {
  order: Strategy;
}

export class Router {
  private readonly groups = new Map<string, Group>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly inFlight = new Map<string, number>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly options: RouterOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    for (const g of options.groups) {
      this.groups.set(g.name, { ...g, order: createStrategy(g.strategy, g.targets.length, g.weights) });
    }
    for (const name of options.targets.keys()) {
      const settings = options.circuits.get(name) ?? null;
      this.breakers.set(name, new CircuitBreaker(name, settings, this.now, (t) => this.transitioned(t)));
      this.inFlight.set(name, 0);
    }
  }

  /**
   * The target or group name `model` stands for: itself when it is one, else
   * what an alias resolves it to (docs/configuration.md#aliases), else itself.
   */
  canonical(model: string): string {
    if (this.groups.has(model) || this.options.targets.has(model)) return model;
    return this.options.aliases?.resolve(model) ?? model;
  }

  /** Exact aliases and the target or group each names (model listings). */
  aliasNames(): Array<[alias: string, name: string]> {
    return this.options.aliases?.exactAliases() ?? [];
  }

  /** The target or group `model` names (aliases resolved), or null when it names neither. */
  known(model: string): string | null {
    const name = this.canonical(model);
    return this.groups.has(name) || this.options.targets.has(name) ? name : null;
  }

  /** Configured groups, in configuration order. */
  groupDefinitions(): GroupDefinition[] {
    return [...this.groups.values()].map(({ order: _order, ...g }) => g);
  }

  breaker(target: string): CircuitBreaker | undefined {
    return this.breakers.get(target);
  }

  /** Every target's circuit state now (metrics scrape). */
  *circuitStates(): Iterable<readonly [string, CircuitState]> {
    for (const [name, b] of this.breakers) yield [name, b.snapshot().state] as const;
  }

  /** In-flight requests on a target (least_busy's measure). */
  load(target: string): number {
    return this.inFlight.get(target) ?? 0;
  }

  /**
   * What `model` names and which of its members can serve the request: throws
   * 404 `resolution` for an unknown name, 400 `invalid_request` when no member
   * supports `operation`. `refuse` (optional) is the caller's capability check:
   * it returns the error a target would answer with (e.g. 400 naming a field it
   * cannot honour) or null; group members it refuses are skipped, and when it
   * refuses them all (or the one direct target) its first error is thrown.
   */
  resolve(asked: string, operation: Operation, refuse?: (target: Target) => Error | null): Route {
    const model = this.canonical(asked);
    const group = this.groups.get(model);
    const direct = group ? undefined : this.options.targets.get(model);
    if (!group && !direct) throw new GatewayError('resolution', `target "${model}" is not configured`);
    const candidates = group ? group.targets.map((n) => this.options.targets.get(n)!) : [direct!];
    const operable = candidates.filter((t) => t.operations.has(operation));
    if (operable.length === 0) {
      throw new GatewayError(
        'invalid_request',
        group
          ? `no member of group "${group.name}" supports ${operation}`
          : `target "${direct!.name}" (${direct!.type}) does not support ${operation}`,
      );
    }
    let firstRefusal: Error | null = null;
    const members = operable.filter((t) => {
      const refusal = refuse?.(t) ?? null;
      firstRefusal ??= refusal;
      return refusal === null;
    });
    if (members.length === 0) throw firstRefusal!;
    return { model, group: group ? group.name : null, members };
  }

  /**
   * Runs `attempt` on the route's members until one succeeds, a failure is
   * final, the members are exhausted or `signal` aborts (then it rejects with
   * the signal's reason and starts nothing more).
   */
  async run<T>(
    route: Route,
    signal: AbortSignal,
    trace: RouteTrace,
    attempt: (target: Target, options: AttemptOptions) => Promise<T>,
  ): Promise<Served<T>> {
    const group = route.group === null ? null : this.groups.get(route.group)!;
    trace.group = route.group;
    let members: readonly Target[] = route.members;
    let retry: RetrySettings = NO_RETRY;
    if (group) {
      // The strategy orders the full member list (its rotation state is per
      // group); members that do not support the operation then drop out.
      const all = group.targets.map((n) => this.options.targets.get(n)!);
      const supported = new Set(route.members);
      members = group.order
        .order((i) => this.load(all[i]!.name))
        .map((i) => all[i]!)
        .filter((t) => supported.has(t));
      retry = group.retry;
    }
    const model = route.model;

    let lastError: unknown = null;
    let previous: { target: string; reason: string } | null = null;
    let backoffMs = 0;
    for (let m = 0; m < members.length; m++) {
      const target = members[m]!;
      const breaker = this.breakers.get(target.name)!;
      for (let tryNo = 1; tryNo <= retry.attempts; tryNo++) {
        if (signal.aborted) throw abortReason(signal);
        const permit = breaker.admit();
        if (!permit) {
          if (tryNo === 1) previous = { target: target.name, reason: 'circuit_open' };
          break;
        }
        if (previous && previous.target !== target.name && group) this.fellBack(group.name, previous, target.name, trace.id);
        previous = null;
        trace.target = target.name;
        const started = performance.now();
        const waited = backoffMs;
        backoffMs = 0;
        // Spill instead of queueing only when something else could still take the request.
        const noWait = retry.on.has('busy') && (tryNo < retry.attempts || this.anyAvailable(members, m + 1));
        this.enter(target.name);
        let value: T;
        try {
          value = await attempt(target, noWait ? NO_WAIT : MAY_WAIT);
        } catch (err) {
          this.leave(target.name);
          if (signal.aborted) {
            permit.abandon();
            book(trace, target, started, waited, 499, 'client_closed_request', err);
            throw abortReason(signal);
          }
          book(trace, target, started, waited, statusOf(err), err instanceof GatewayError ? err.code : 'internal', err);
          const kind = this.failed(target.name, permit, err, trace);
          const retryable = kind !== null && retry.on.has(kind);
          if (!retryable) throw err;
          lastError = err;
          previous = { target: target.name, reason: kind };
          if (tryNo === retry.attempts) break;
          const wait = retryDelayMs(err, tryNo, retry, this.random);
          if (wait === null) break;
          try {
            if (wait > 0) await this.sleep(wait, signal);
          } catch (sleepErr) {
            throw signal.aborted ? abortReason(signal) : sleepErr;
          }
          backoffMs = wait;
          continue;
        }
        book(trace, target, started, waited, 200, null);
        // The record's upstream status is the served attempt's (the earlier ones are in `attempts`).
        trace.upstreamStatus = null;
        permit.success();
        this.options.metrics?.attempt(target.name, 'success');
        return new ServedBy(value, target, this);
      }
    }
    if (lastError !== null) throw lastError;
    // Refused without a call: the record counts it under the asked target or group, with the reason.
    if (trace.attempts.length === 0) {
      trace.reason = group ? 'no_member' : this.breakers.get(members[0]!.name)!.snapshot().drained ? 'drained' : 'circuit_open';
    }
    throw this.unavailable(model, members);
  }

  /** Whether a member from `from` on would take a call now (no allocation per attempt). */
  private anyAvailable(members: readonly Target[], from: number): boolean {
    for (let i = from; i < members.length; i++) if (this.breakers.get(members[i]!.name)!.available()) return true;
    return false;
  }

  /** Books a failed attempt (circuit, metric, record) and returns its failure kind. */
  private failed(target: string, permit: CircuitPermit, err: unknown, trace: RouteTrace): RetryOn | null {
    const kind = failureKind(err);
    const upstream = err instanceof GatewayError ? err.upstream : undefined;
    trace.upstreamStatus = upstream?.upstreamStatus ?? null;
    if (kind === 'busy')
      permit.abandon(); // load, not a fault
    else if (kind !== null) permit.failure(kind);
    else if (upstream)
      permit.success(); // it answered (e.g. 400): the upstream is alive
    else permit.abandon();
    // The metric says whether the failure was of a transient kind, whatever
    // this request's policy does with it (direct requests never retry).
    this.options.metrics?.attempt(target, kind !== null ? 'retryable_error' : 'error');
    return kind;
  }

  private unavailable(model: string, members: readonly Target[]): GatewayError {
    const waits = members.map((t) => this.breakers.get(t.name)!.retryAfterMs()).filter((w): w is number => w !== null);
    const headers = waits.length ? { 'retry-after': String(Math.max(1, Math.ceil(Math.min(...waits) / 1000))) } : undefined;
    const what = this.groups.has(model) ? `every member of group "${model}" is` : `target "${model}" is`;
    return new GatewayError('unavailable', `${what} unavailable (circuit open or drained); retry later`, headers);
  }

  private fellBack(group: string, from: { target: string; reason: string }, to: string, reqId: string | undefined): void {
    this.options.metrics?.fallback(group);
    this.options.log.info({ reqId, group, from: from.target, to, reason: from.reason }, 'fallback');
  }

  private transitioned(t: CircuitTransition): void {
    this.options.metrics?.transition(t);
    this.options.log.warn({ target: t.target, from: t.from, to: t.to, reason: t.reason }, 'circuit transition');
  }

  private enter(target: string): void {
    this.inFlight.set(target, (this.inFlight.get(target) ?? 0) + 1);
  }

  /** A served request leaving its target (ServedBy.done). */
  leave(target: string): void {
    this.inFlight.set(target, Math.max(0, (this.inFlight.get(target) ?? 0) - 1));
  }
}

/** The attempt options, shared (an attempt only reads them). */
const NO_WAIT: AttemptOptions = Object.freeze({ noWait: true });
const MAY_WAIT: AttemptOptions = Object.freeze({ noWait: false });

/** One attempt into the record's `attempts`. */
function book(
  trace: RouteTrace,
  target: Target,
  started: number,
  waited: number,
  status: number,
  error: string | null,
  err?: unknown,
): void {
  trace.attempts.push({
    target: target.name,
    status,
    upstreamStatus: (err instanceof GatewayError && err.upstream?.upstreamStatus) || null,
    latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
    backoffMs: waited,
    error,
  });
}

/** The served attempt: `done` lets its target's in-flight count go, once. */
class ServedBy<T> implements Served<T> {
  private left = false;

  constructor(
    readonly value: T,
    readonly target: Target,
    private readonly router: Pick<Router, 'leave'>,
  ) {}

  done(): void {
    if (this.left) return;
    this.left = true;
    this.router.leave(this.target.name);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** The status a failed attempt would answer with (a pass-through provider error keeps the provider's). */
function statusOf(err: unknown): number {
  if (err instanceof ProviderError) return err.providerStatus;
  return err instanceof GatewayError ? err.status : 500;
}
