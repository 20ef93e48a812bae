/**
 * Caller budgets in the admin API (docs/budgets.md#caller-budgets):
 * `GET/PUT <admin>/api/callers/{caller}/budget`, the body the budget object
 * `{usd?, tokens?, period}` (or `null` to remove it). Each change is audited
 * as `budget.set`.
 */
import type { Budget } from '@sipp/shared';
import type { Context } from 'koa';
import { budgetPercent } from '../budgets/service.js';
import { nanoOf } from '../budgets/pricing.js';
import { BudgetSchema } from '../config/budgets.js';
import { AdminError } from '../errors.js';
import { fieldError } from '../field-error.js';
import type { AuditLog } from './audit-log.js';
import type { Actor } from './controls.js';
import type { AdminDeps } from './deps.js';
import { readJson } from './http/read-json.js';

interface BudgetRoute {
  method: 'GET' | 'PUT';
  path: RegExp;
  guard: 'session' | 'csrf';
  handle(ctx: Context, params: string[]): unknown;
}

const CALLER_BUDGET = /^\/callers\/([^/]+)\/budget$/;

function callerOf(raw: string): string {
  let caller: string;
  try {
    caller = decodeURIComponent(raw);
  } catch {
    throw new AdminError('invalid_request', 'caller: not a valid path segment');
  }
  if (caller.length === 0 || caller.length > 200 || caller.trim() !== caller)
    throw new AdminError('invalid_request', 'caller: must be a caller label (1-200 characters, no surrounding spaces)');
  return caller;
}

/** The budget object, or null to remove it; a bad one is "field: problem" (docs/budgets.md#caller-budgets). */
function parseBudget(body: unknown): Budget | null {
  if (body === null) return null;
  const r = BudgetSchema.safeParse(body);
  if (!r.success) throw fieldError(r.error, body);
  return r.data;
}

export function budgetRoutes(deps: AdminDeps, audit: AuditLog, actor: (ctx: Context) => Actor): BudgetRoute[] {
  const service = () => {
    if (!deps.budgets) throw new AdminError('not_found', 'budgets are not available');
    return deps.budgets;
  };
  const view = async (caller: string) => {
    const budget = service().callerBudgets.get(caller) ?? null;
    if (!budget) return { caller, budget: null, spend: null, reserved: null, percent: null };
    const spend = await service().spend('caller', caller, budget.period);
    const percent = budgetPercent(budget, { nano: nanoOf(spend.usd), tokens: spend.tokens });
    return {
      caller,
      budget,
      spend: { usd: spend.usd, tokens: spend.tokens },
      reserved: spend.reserved,
      percent: Math.round(percent * 10) / 10,
    };
  };
  return [
    { method: 'GET', path: CALLER_BUDGET, guard: 'session', handle: (_ctx, [raw]) => view(callerOf(raw!)) },
    {
      method: 'PUT',
      path: CALLER_BUDGET,
      guard: 'csrf',
      handle: async (ctx, [raw]) => {
        const caller = callerOf(raw!);
        const budget = parseBudget(await readJson(ctx));
        const before = service().callerBudgets.get(caller) ?? null;
        await service().callerBudgets.set(caller, budget);
        audit.record({ action: 'budget.set', before: { caller, budget: before }, after: { caller, budget }, ...actor(ctx) });
        return view(caller);
      },
    },
  ];
}

export type { BudgetRoute };
