/**
 * The Overview's one health verdict and its circuits strip
 * (docs/dashboard.md#health-verdict). The verdict reads the last 5 minutes of
 * traffic (whatever window the tiles show), the circuits and the in-flight
 * count now:
 *
 *   down      not ready; every target's circuit refusing (open or drained);
 *             or 5xx ≥ 50 % of the requests
 *   degraded  any circuit not closed (open, half-open, drained); 5xx ≥ 5 %;
 *             429 ≥ 10 %; in flight ≥ 90 % of max_concurrent_requests
 *   healthy   none of these
 *
 * The 5xx and 429 shares count only with at least HEALTH_MIN_REQUESTS requests
 * in the 5 minutes, so one failed request on an idle gateway is no verdict.
 */
import type { CircuitStripEntry, HealthStatus, HealthVerdict } from '@sipp/shared';
import type { Router } from '../routing/router.js';
import { HEALTH_SECONDS, type TrafficStats } from './stats/traffic-stats.js';

export const HEALTH_THRESHOLDS = {
  minRequests: 10,
  serverErrorDegraded: 0.05,
  serverErrorDown: 0.5,
  rateLimitedDegraded: 0.1,
  saturation: 0.9,
} as const;

/** Every circuit that is not closed, in target order. */
export function openCircuits(router: Pick<Router, 'circuitStates' | 'breaker'>): CircuitStripEntry[] {
  const out: CircuitStripEntry[] = [];
  for (const [target] of router.circuitStates()) {
    const breaker = router.breaker(target)!;
    const c = breaker.snapshot();
    if (c.drained) out.push({ target, state: 'drained', retryInSeconds: null });
    else if (c.state === 'open')
      out.push({ target, state: 'open', retryInSeconds: Math.ceil((breaker.retryAfterMs() ?? 0) / 1000) });
    else if (c.state === 'half_open') out.push({ target, state: 'half_open', retryInSeconds: 0 });
  }
  return out;
}

const pct = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)} %`;

export function healthVerdict(input: {
  stats: TrafficStats;
  circuits: CircuitStripEntry[];
  targets: number;
  ready: boolean;
  inFlight: number;
  limit: number | null;
  now?: number;
}): HealthVerdict {
  const t = HEALTH_THRESHOLDS;
  let status: HealthStatus = 'healthy';
  const reasons: string[] = [];
  const worse = (to: HealthStatus, why: string) => {
    if (to === 'down' || status === 'healthy') status = to;
    reasons.push(why);
  };
  if (!input.ready) worse('down', 'not ready (loading targets or shutting down)');
  const refusing = input.circuits.filter((c) => c.state !== 'half_open');
  if (input.circuits.length > 0) {
    const names = input.circuits.map((c) => `${c.target} (${c.state.replace('_', '-')})`).join(', ');
    const all = input.targets > 0 && refusing.length === input.targets;
    worse(all ? 'down' : 'degraded', `${all ? 'every circuit refusing' : 'circuits not closed'}: ${names}`);
  }
  const a = input.stats.recentAggregate(HEALTH_SECONDS, input.now);
  if (a.requests >= t.minRequests) {
    const server = a.serverErrors / a.requests;
    if (server >= t.serverErrorDown) worse('down', `5xx ${pct(server)} of ${a.requests} requests in the last 5 min`);
    else if (server >= t.serverErrorDegraded) worse('degraded', `5xx ${pct(server)} of ${a.requests} requests in the last 5 min`);
    const limited = a.rateLimited / a.requests;
    if (limited >= t.rateLimitedDegraded) worse('degraded', `429 ${pct(limited)} of ${a.requests} requests in the last 5 min`);
  }
  if (input.limit !== null && input.limit > 0 && input.inFlight / input.limit >= t.saturation) {
    worse('degraded', `saturated: ${input.inFlight} of ${input.limit} concurrent requests in flight`);
  }
  return { status, reasons };
}
