/** Builds the Router from the validated configuration and the created targets. */
import type { Logger } from 'pino';
import { AliasTable } from '../config/aliases.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Target } from '../targets/target.js';
import type { CircuitSettings } from './circuit-breaker.js';
import { Router, type GroupDefinition, type RouterOptions, type RoutingMetrics } from './router.js';

/** What tests may inject into the router: a clock, the jitter source and the backoff sleep. */
export type RoutingClock = Pick<RouterOptions, 'now' | 'random' | 'sleep'>;

export function groupDefinitions(config: GatewayConfig): GroupDefinition[] {
  return config.groups.map((g) => ({
    name: g.name,
    strategy: g.strategy,
    targets: [...g.targets],
    ...(g.weights ? { weights: [...g.weights] } : {}),
    retry: {
      attempts: g.retry.attempts,
      backoffMs: g.retry.backoff_ms,
      maxBackoffMs: g.retry.max_backoff_ms,
      on: new Set(g.retry.on),
    },
  }));
}

export function circuitSettings(config: GatewayConfig): Map<string, CircuitSettings> {
  const map = new Map<string, CircuitSettings>();
  for (const t of config.targets) {
    if (t.circuit) map.set(t.name, { failureThreshold: t.circuit.failure_threshold, openMs: t.circuit.open_seconds * 1000 });
  }
  return map;
}

export function createRouter(
  config: GatewayConfig,
  targets: ReadonlyMap<string, Target>,
  log: Logger,
  metrics: RoutingMetrics,
  clock: RoutingClock = {},
): Router {
  const aliases = new AliasTable([...config.targets, ...config.groups]);
  return new Router({
    targets,
    groups: groupDefinitions(config),
    circuits: circuitSettings(config),
    aliases,
    log,
    metrics,
    ...clock,
  });
}
