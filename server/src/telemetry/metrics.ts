/**
 * Gateway Prometheus metrics (docs/operations.md#metrics) on a registry of its own. Labels come
 * only from fixed sets: API surface, operation, target name, status class.
 * Children for each label value are bound once, and the per-request counters
 * add to plain tallies (Tally) handed to prom-client when the registry is
 * read, so the hot path does no label hashing.
 */
import { APIS, OPERATIONS, type Api, type Operation, type RequestRecord } from '@sipp/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.js';
import type { CircuitState } from '@sipp/shared';
import type { CircuitTransition } from '../routing/circuit-breaker.js';
import type { AttemptOutcome, RoutingMetrics } from '../routing/router.js';
import { IGNORABLE_FIELDS } from '../targets/ignored.js';
import type { RequestObserver } from './observer.js';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export const ADMIN_LOGIN_LOCKOUTS = 'sipp_gateway_admin_login_lockouts_total';

/** Counts a global admin login lockout on the registry createMetrics filled. */
export function loginLockoutRecorder(registry: Registry): (scope: 'client' | 'global') => void {
  return (scope) => {
    if (scope === 'global') (registry.getSingleMetric(ADMIN_LOGIN_LOCKOUTS) as Counter | undefined)?.inc();
  };
}

export interface GatewayMetrics extends RequestObserver {
  registry: Registry;
}

export function createMetrics(options: {
  targetNames: readonly string[];
  activeRequests: () => number;
  /** The admission limit (`max_concurrent_requests`); null = unlimited, exported as 0. */
  maxConcurrentRequests?: number | null;
  /** Whether /readyz answers 200 (targets loaded, not draining); read at scrape time. */
  ready?: () => boolean;
  processMetrics?: boolean;
}): GatewayMetrics {
  const registry = new Registry();
  // Filled below; each counter hands its tallies to prom-client when the registry is read.
  const requestsTallies: Tally[] = [];
  const errorsTallies: Tally[] = [];
  const responsesTallies: Tally[] = [];
  const rateLimitTallies: Tally[] = [];
  const blocklistTallies: Tally[] = [];
  const inputTallies: Tally[] = [];
  const outputTallies: Tally[] = [];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sipp_gateway_' });

  const requests = new Counter({
    name: 'sipp_gateway_requests_total',
    collect: () => flush(requestsTallies),
    help: 'Public inference requests received, by API surface (sipp, openai, anthropic) and operation.',
    labelNames: ['api', 'operation'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'sipp_gateway_errors_total',
    collect: () => flush(errorsTallies),
    help: 'Public inference requests that ended in an error (HTTP >= 400 or a stream error frame), by API surface and operation.',
    labelNames: ['api', 'operation'],
    registers: [registry],
  });
  const responses = new Counter({
    name: 'sipp_gateway_responses_total',
    collect: () => flush(responsesTallies),
    help: 'Public listener responses by status class.',
    labelNames: ['status_class'],
    registers: [registry],
  });
  new Gauge({
    name: 'sipp_gateway_active_requests',
    help: 'Inference requests admitted and still running.',
    registers: [registry],
    collect() {
      this.set(options.activeRequests());
    },
  });
  new Gauge({
    name: 'sipp_gateway_max_concurrent_requests',
    help: 'The admission limit max_concurrent_requests (0 = unlimited); with sipp_gateway_active_requests it gives saturation.',
    registers: [registry],
  }).set(options.maxConcurrentRequests ?? 0);
  const ready = options.ready;
  new Gauge({
    name: 'sipp_gateway_ready',
    help: 'Readiness as /readyz reports it: 1 ready, 0 while targets load or the gateway drains.',
    registers: [registry],
    collect() {
      this.set(ready === undefined || ready() ? 1 : 0);
    },
  });
  const rateLimitHits = new Counter({
    name: 'sipp_gateway_rate_limit_hits_total',
    collect: () => flush(rateLimitTallies),
    help: 'Requests refused by the per-client rate limit.',
    registers: [registry],
  });
  const blocklistHits = new Counter({
    name: 'sipp_gateway_blocklist_hits_total',
    collect: () => flush(blocklistTallies),
    help: 'Requests refused because the client IP is blocklisted.',
    registers: [registry],
  });
  new Counter({
    name: ADMIN_LOGIN_LOCKOUTS,
    help: 'Times the global failed-login budget of the admin dashboard ran out and every sign-in was refused for the cool-down.',
    registers: [registry],
  });
  const inputTokens = new Counter({
    name: 'sipp_gateway_input_tokens_total',
    collect: () => flush(inputTallies),
    help: 'Input (prompt) tokens reported by targets.',
    labelNames: ['target'],
    registers: [registry],
  });
  const outputTokens = new Counter({
    name: 'sipp_gateway_output_tokens_total',
    collect: () => flush(outputTallies),
    help: 'Output (generated) tokens reported by targets.',
    labelNames: ['target'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sipp_gateway_request_duration_seconds',
    help: 'Public inference request duration (for streams: until the last frame), by API surface and operation.',
    labelNames: ['api', 'operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });

  const ignoredFields = new Counter({
    name: 'sipp_gateway_ignored_fields_total',
    help: 'Hint-only request fields the gateway ignored because the target has no equivalent (docs/api.md#ignored-fields), by API surface and field.',
    labelNames: ['api', 'field'],
    registers: [registry],
  });
  const knownIgnorable = new Set<string>(IGNORABLE_FIELDS);

  type Children = { requests: Tally; errors: Tally; duration: Histogram.Internal<string> };
  const byApiOp = new Map<Api, Map<Operation, Children>>();
  for (const api of APIS) {
    const byOp = new Map<Operation, Children>();
    for (const op of OPERATIONS) {
      byOp.set(op, {
        requests: tally(requestsTallies, requests.labels(api, op)),
        errors: tally(errorsTallies, errors.labels(api, op)),
        duration: duration.labels(api, op),
      });
    }
    byApiOp.set(api, byOp);
  }
  const byClass = STATUS_CLASSES.map((c) => tally(responsesTallies, responses.labels(c), false));
  const rateLimited = tally(rateLimitTallies, rateLimitHits, false);
  const blocked = tally(blocklistTallies, blocklistHits, false);
  const byTarget = new Map(
    options.targetNames.map(
      (t) =>
        [t, { input: tally(inputTallies, inputTokens.labels(t)), output: tally(outputTallies, outputTokens.labels(t)) }] as const,
    ),
  );

  return {
    registry,
    onRequest(r: RequestRecord) {
      const cls = byClass[Math.floor(r.status / 100) - 1];
      cls?.add();
      if (r.code === 'rate_limited') rateLimited.add();
      else if (r.code === 'blocked') blocked.add();
      if (r.operation) {
        const m = byApiOp.get(r.api)!.get(r.operation)!;
        m.requests.add();
        if (r.code !== null) m.errors.add();
        m.duration.observe(r.durationMs / 1000);
      }
      if (r.ignored) for (const f of r.ignored) if (knownIgnorable.has(f)) ignoredFields.labels(r.api, f).inc();
      if (r.target) {
        const t = byTarget.get(r.target);
        if (t) {
          if (r.inputTokens) t.input.add(r.inputTokens);
          if (r.outputTokens) t.output.add(r.outputTokens);
        }
      }
    },
  };
}

/**
 * One counter child's increments as a plain sum, handed to prom-client when
 * the registry is read (the counter's `collect`): prom-client hashes and
 * validates the labels on every `inc`, even a bound child's (~0.15 µs, several
 * per request; docs/architecture.md#cost-per-request). Refuses what `inc`
 * refuses, at once.
 */
class Tally {
  private pending = 0;

  constructor(private readonly child: Pick<Counter.Internal, 'inc'>) {}

  add(n = 1): void {
    if (!Number.isFinite(n)) throw new TypeError(`Value is not a valid number: ${n}`);
    if (n < 0) throw new Error('It is not possible to decrease a counter');
    this.pending += n;
  }

  flush(): void {
    if (this.pending === 0) return;
    const n = this.pending;
    this.pending = 0;
    this.child.inc(n);
  }
}

/** A tally of `child`, listed for its counter's collect; `zero` exports the label set at 0 before its first count. */
function tally(list: Tally[], child: Pick<Counter.Internal, 'inc'>, zero = true): Tally {
  if (zero) child.inc(0);
  const t = new Tally(child);
  list.push(t);
  return t;
}

function flush(tallies: readonly Tally[]): void {
  for (const t of tallies) t.flush();
}

const CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
const ATTEMPT_OUTCOMES = ['success', 'retryable_error', 'error'] as const;

/**
 * Routing metrics (docs/configuration.md#groups--fallbacks-load-balancing-retries) on the gateway registry. Labels are configured
 * target and group names and fixed outcome/state words only.
 */
export function createRoutingMetrics(
  registry: Registry,
  targetNames: readonly string[],
  groupNames: readonly string[],
): RoutingMetrics & { watchCircuits(states: () => Iterable<readonly [string, CircuitState]>): void } {
  const attemptTallies: Tally[] = [];
  const attempts = new Counter({
    collect: () => flush(attemptTallies),
    name: 'sipp_gateway_upstream_attempts_total',
    help: 'Calls to a target (each retry and fallback counts), by target and outcome: success, retryable_error (connect, timeout, 429, 5xx, busy), error (any other failure).',
    labelNames: ['target', 'outcome'],
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'sipp_gateway_fallbacks_total',
    help: 'Requests of a group that moved on from one member to another.',
    labelNames: ['group'],
    registers: [registry],
  });
  let source: (() => Iterable<readonly [string, CircuitState]>) | null = null;
  const state = new Gauge({
    name: 'sipp_gateway_circuit_state',
    help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open (drained included).',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      // Read at scrape time, so an open circuit whose open_seconds are over
      // shows half-open before the next request arrives.
      if (!source) return;
      for (const [target, st] of source()) if (known.has(target)) this.labels(target).set(CIRCUIT_STATE_VALUE[st]);
    },
  });
  const known = new Set(targetNames);
  const transitions = new Counter({
    name: 'sipp_gateway_circuit_transitions_total',
    help: 'Circuit breaker state changes per target, by the state entered.',
    labelNames: ['target', 'to'],
    registers: [registry],
  });
  const attemptsOf = new Map<string, Record<AttemptOutcome, Tally>>();
  for (const t of targetNames) {
    state.labels(t).set(0);
    const byOutcome = {} as Record<AttemptOutcome, Tally>;
    for (const o of ATTEMPT_OUTCOMES) byOutcome[o] = tally(attemptTallies, attempts.labels(t, o));
    attemptsOf.set(t, byOutcome);
  }
  const knownGroups = new Set(groupNames);
  for (const g of groupNames) fallbacks.labels(g).inc(0);
  return {
    watchCircuits(states) {
      source = states;
    },
    attempt(target: string, outcome: AttemptOutcome) {
      attemptsOf.get(target)?.[outcome].add();
    },
    fallback(group: string) {
      if (knownGroups.has(group)) fallbacks.labels(group).inc();
    },
    transition(t: CircuitTransition) {
      if (!known.has(t.target)) return;
      transitions.labels(t.target, t.to).inc();
    },
  };
}
