/**
 * Routing in the admin API: each target's circuit (state, failures, success
 * rate), the configured groups, and the drain control (force a target's
 * circuit open until released; the next public request already sees it).
 */
import type { CircuitView, GroupView } from '@sipp/shared';
import type { AdminDeps } from './deps.js';
import { AdminError } from '../errors.js';

export function circuitView(deps: Pick<AdminDeps, 'router' | 'config'>, target: string): CircuitView | undefined {
  const breaker = deps.router.breaker(target);
  if (!breaker) return undefined;
  const configured = deps.config.targets.find((t) => t.name === target)?.circuit;
  return {
    ...breaker.snapshot(),
    settings: configured ? { failureThreshold: configured.failure_threshold, openSeconds: configured.open_seconds } : null,
  };
}

export function groupViews(deps: Pick<AdminDeps, 'router'>): GroupView[] {
  return deps.router.groupDefinitions().map((g) => ({
    name: g.name,
    strategy: g.strategy,
    targets: [...g.targets],
    weights: g.weights ? [...g.weights] : null,
    retry: { attempts: g.retry.attempts, backoffMs: g.retry.backoffMs, maxBackoffMs: g.retry.maxBackoffMs, on: [...g.retry.on] },
  }));
}

function breakerOf(deps: Pick<AdminDeps, 'router'>, name: string) {
  const breaker = deps.router.breaker(decodeURIComponentSafe(name));
  if (!breaker) throw new AdminError('not_found', 'no such target');
  return breaker;
}

export async function drainTarget(deps: Pick<AdminDeps, 'router' | 'log' | 'state'>, name: string): Promise<void> {
  const breaker = breakerOf(deps, name);
  breaker.drain();
  deps.log.info({ control: 'drain', target: breaker.target }, 'admin drained a target');
  await deps.state.changed({ kind: 'drain', target: breaker.target });
}

export async function releaseTarget(deps: Pick<AdminDeps, 'router' | 'log' | 'state'>, name: string): Promise<void> {
  const breaker = breakerOf(deps, name);
  breaker.release();
  deps.log.info({ control: 'release', target: breaker.target }, 'admin released a target');
  await deps.state.changed({ kind: 'release', target: breaker.target });
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AdminError('invalid_request', 'malformed target name');
  }
}
