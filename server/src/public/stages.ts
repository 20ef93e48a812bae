/**
 * The named stages of the one public request pipeline, and the modules that
 * register into them. The pipeline (pipeline.ts) runs the stages in a fixed
 * order; within a stage, modules run in registration order (modules/index.ts).
 * Every hook is optional: a module implements only the stages it needs.
 *
 *   beforeBody   identity is known, no body byte read yet (blocklist, rate limit, token)
 *   beforeRun    body parsed into the internal request (authorization, route resolution,
 *                admission, budget reservation; next: cache lookup). May short-circuit.
 *   aroundAttempt  wraps each target attempt the router makes (retries, fallbacks):
 *                tracing spans, per-attempt accounting
 *   afterFinish  the request is over (answered, rejected or cut): the RequestRecord
 *                (budget settlement and pricing, metrics, dashboard, fleet, usage rows)
 *
 * Errors: a throw (or rejection) in beforeBody / beforeRun / aroundAttempt ends
 * the request with that error, rendered by the one error renderer (a
 * GatewayError by its code, anything else as a logged 500 `internal`); later
 * modules of the stage do not run. afterFinish runs after the answer, so a
 * failing hook cannot change it: its error is logged at error level naming the
 * module, and the other hooks still run. See docs/architecture.md#pipeline-stages.
 */
import type { RequestRecord } from '@sipp/shared';
import type { Logger } from 'pino';
import type { CallContext, Target } from '../targets/target.js';
import type { RequestContext, RunContext } from './request-context.js';
import type { CallOutcome } from './target-call.js';

/** One attempt of the router on one target (the first, a retry or a fallback). */
export interface Attempt {
  readonly rc: RunContext;
  readonly target: Target;
  /** 1 for the request's first attempt, counting across members. */
  readonly number: number;
  /** The call context the target gets (request id, abort signal, log). */
  readonly call: CallContext;
}

/**
 * Returned by a beforeRun hook to answer without running a target (a cache
 * hit): the later beforeRun hooks and the run are skipped, and the outcome is
 * rendered by the surface as if `served` had answered.
 */
export interface ShortCircuit {
  served: string;
  outcome: CallOutcome;
}

export type Awaitable<T> = T | Promise<T>;

export interface PipelineModule {
  /** Unique; names the module in logs. */
  readonly name: string;
  beforeBody?(rc: RequestContext): Awaitable<void>;
  beforeRun?(rc: RunContext): Awaitable<void | ShortCircuit>;
  /** Must call `next()` at most once and return (or transform) its outcome; may throw to fail the attempt. */
  aroundAttempt?(attempt: Attempt, next: () => Promise<CallOutcome>): Promise<CallOutcome>;
  afterFinish?(record: RequestRecord, rc: RequestContext): Awaitable<void>;
}

/** The composed stages, as the pipeline calls them. */
export interface Stages {
  /** A promise only when some hook is asynchronous (e.g. a shared rate-limit store); otherwise done on return. */
  beforeBody(rc: RequestContext): Promise<void> | undefined;
  /** Likewise: the short circuit (or null) itself when every hook ran synchronously. */
  beforeRun(rc: RunContext): Awaitable<ShortCircuit | null>;
  attempt(attempt: Attempt, call: () => Promise<CallOutcome>): Promise<CallOutcome>;
  /** Whether any module wraps attempts; when none does, the pipeline calls the target without building an Attempt. */
  readonly wrapsAttempts: boolean;
  /**
   * Runs the hooks at once; returns a promise (that never rejects) only when
   * some hook is still running asynchronously, so callers can wait for it.
   */
  afterFinish(record: RequestRecord, rc: RequestContext): Promise<void> | undefined;
}

export function composeStages(modules: readonly PipelineModule[], log: Logger): Stages {
  const names = new Set<string>();
  for (const m of modules) {
    if (names.has(m.name)) throw new Error(`pipeline module "${m.name}" is registered twice`);
    names.add(m.name);
  }
  const beforeBody = modules.filter((m) => m.beforeBody);
  const beforeRun = modules.filter((m) => m.beforeRun);
  const around = modules.filter((m) => m.aroundAttempt);
  const after = modules.filter((m) => m.afterFinish);

  const restOfBeforeBody = async (pending: Awaitable<void>, from: number, rc: RequestContext): Promise<void> => {
    await pending;
    for (let i = from; i < beforeBody.length; i++) await beforeBody[i]!.beforeBody!(rc);
  };
  const restOfBeforeRun = async (
    pending: Promise<void | ShortCircuit>,
    from: number,
    rc: RunContext,
  ): Promise<ShortCircuit | null> => {
    const first = await pending;
    if (first) return first;
    for (let i = from; i < beforeRun.length; i++) {
      const r = await beforeRun[i]!.beforeRun!(rc);
      if (r) return r;
    }
    return null;
  };
  const failed = (m: PipelineModule, err: unknown) =>
    log.error({ module: m.name, err: { message: (err as Error)?.message } }, 'afterFinish hook failed');

  return {
    wrapsAttempts: around.length > 0,
    // Synchronous until a hook returns a promise, then the rest after it: no promise per request when none is needed.
    beforeBody(rc) {
      for (let i = 0; i < beforeBody.length; i++) {
        const r = beforeBody[i]!.beforeBody!(rc);
        if (r !== undefined) return restOfBeforeBody(r, i + 1, rc);
      }
      return undefined;
    },
    beforeRun(rc) {
      for (let i = 0; i < beforeRun.length; i++) {
        const r = beforeRun[i]!.beforeRun!(rc);
        if (r instanceof Promise) return restOfBeforeRun(r, i + 1, rc);
        if (r) return r;
      }
      return null;
    },
    attempt(attempt, call) {
      // Onion order: the first registered module is the outermost wrapper.
      let next = call;
      for (let i = around.length - 1; i >= 0; i--) {
        const m = around[i]!;
        const inner = next;
        next = () => m.aroundAttempt!(attempt, inner);
      }
      return next();
    },
    afterFinish(record, rc) {
      let pending: Promise<void>[] | null = null;
      for (const m of after) {
        try {
          const r = m.afterFinish!(record, rc);
          if (r instanceof Promise) (pending ??= []).push(r.catch((err) => failed(m, err)));
        } catch (err) {
          failed(m, err);
        }
      }
      return pending ? Promise.all(pending).then(() => undefined) : undefined;
    },
  };
}
