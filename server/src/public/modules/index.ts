/**
 * The registration list of the public pipeline: which modules run, in which
 * order within each stage (stages.ts). A new check, budget, cache or tracer is
 * one module file plus one line here (docs/architecture.md#pipeline-stages).
 */
import type { Router } from '../../routing/router.js';
import type { Authenticator } from '../../security/bearer.js';
import type { Controls } from '../../security/controls.js';
import type { RequestObserver } from '../../telemetry/observer.js';
import type { Tracing } from '../../telemetry/tracing.js';
import type { PipelineModule } from '../stages.js';
import {
  admissionCheck,
  authorizationCheck,
  blocklistCheck,
  clientMistakesCheck,
  rateLimitCheck,
  routeResolution,
  tokenCheck,
} from './checks.js';
import type { RequestPolicy } from '../../targets/request-checks.js';
import { observe } from './observers.js';
import { attribution, recordCaller } from './attribution.js';
import type { BudgetService } from '../../budgets/service.js';
import { budgetModule } from './budget.js';
import { tracingModule } from './tracing.js';

export interface PipelineModuleDeps {
  /** OpenTelemetry traces, when on (docs/operations.md#traces); null registers nothing. */
  tracing: Tracing | null;
  controls: Controls;
  authenticate: Authenticator;
  router: Pick<Router, 'resolve' | 'canonical' | 'known'>;
  /** What the client-mistakes check lets through (`allow_private_image_urls`); default: nothing private. */
  requestPolicy?: RequestPolicy;
  /** Budgets, cost and per-key limits (docs/budgets.md); absent: requests are not priced. */
  budgets?: { service: BudgetService; defaultMaxTokens: number };
  /** afterFinish observers by module name (metrics, dashboard, fleet). */
  observers: Readonly<Record<string, RequestObserver>>;
}

export function pipelineModules(deps: PipelineModuleDeps): PipelineModule[] {
  return [
    // First, so its SERVER span covers every check and its attempt spans wrap every other module's.
    ...(deps.tracing ? [tracingModule(deps.tracing)] : []),
    // beforeBody: the checks before any body byte is read.
    blocklistCheck(deps.controls.blocklist, recordCaller(deps.authenticate)),
    rateLimitCheck(deps.controls.rateLimiter, recordCaller(deps.authenticate)),
    tokenCheck(deps.authenticate),
    // beforeRun: the checks on the parsed request, before any target runs (attribution first: refusals count under the asked name).
    attribution(deps.router),
    clientMistakesCheck(deps.requestPolicy ?? { allowPrivateImageUrls: false }),
    authorizationCheck(deps.router),
    routeResolution(deps.router),
    admissionCheck(deps.controls.admission),
    // Reserves against budgets once the route is known; prices the record before the observers read it.
    ...(deps.budgets ? [budgetModule(deps.budgets.service, deps.budgets.defaultMaxTokens)] : []),
    // afterFinish: observers of the finished request.
    ...Object.entries(deps.observers).map(([name, observer]) => observe(name, observer)),
  ];
}
