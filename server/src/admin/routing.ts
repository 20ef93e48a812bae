/**
 * Routing in the admin API: each target's circuit (state, failures, success
 * rate), the configured groups, and the drain control (force a target's
 * circuit open until released; the next public request already sees it).
 */
import type { Context } from 'koa';
import { TargetControlSchema, type CircuitView, type GroupView } from '@sipp/shared';
import type { AdminDeps } from './deps.js';
import { AdminError } from '../errors.js';
import { readJson } from './http/read-json.js';

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

/**
 * The operator's reason for a drain or release: the body `{reason}` (docs/dashboard.md#api).
 * The body is optional, so scripts written for the first edition (no body) keep
 * working and are recorded with no reason; an empty reason counts as none.
 */
export async function readTargetReason(ctx: Context): Promise<string | null> {
  const length = ctx.get('content-length');
  if (!ctx.get('transfer-encoding') && (length === '' || Number(length) === 0)) return null;
  const parsed = TargetControlSchema.safeParse(await readJson(ctx));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue?.code === 'unrecognized_keys')
      throw new AdminError('invalid_request', `unknown field(s): ${issue.keys.join(', ')}`);
    const field = issue && issue.path.length ? issue.path.join('.') : 'body';
    throw new AdminError('invalid_request', `${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data.reason || null;
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
