/** Routing (target groups, circuits) as the admin API shows it. */

export type CircuitState = 'closed' | 'half_open' | 'open';

export const GROUP_STRATEGIES = ['fallback', 'round_robin', 'weighted', 'least_busy'] as const;
export type GroupStrategy = (typeof GROUP_STRATEGIES)[number];

/** Retryable failure kinds a group's `retry.on` may list. */
export const RETRY_ON = ['connect', 'timeout', '429', '5xx', 'busy'] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** One target's circuit, on `GET <admin>/api/targets` (`TargetView.circuit`). */
export interface CircuitView {
  state: CircuitState;
  /** Forced open by an operator (`POST <admin>/api/targets/{name}/drain`) until released. */
  drained: boolean;
  consecutiveFailures: number;
  /** Epoch ms and failure kind (connect, timeout, 429, 5xx) of the last retryable failure. */
  lastFailure: { time: number; code: string } | null;
  /** Share of successful calls over the last 5 minutes; null without calls. */
  successRate5m: number | null;
  /** Epoch ms when an open circuit lets one probe through; null otherwise. */
  halfOpenAt: number | null;
  /** The configured `[targets.circuit]`, or null when the circuit never opens by itself. */
  settings: { failureThreshold: number; openSeconds: number } | null;
}

/** One `[[groups]]` entry, on `GET <admin>/api/routes` (`RoutesResponse.groups`). */
export interface GroupView {
  name: string;
  strategy: GroupStrategy;
  targets: string[];
  /** Only for `weighted`. */
  weights: number[] | null;
  retry: { attempts: number; backoffMs: number; maxBackoffMs: number; on: RetryOn[] };
}
