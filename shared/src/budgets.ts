/**
 * Budgets and per-key limits (docs/keys.md, docs/budgets.md): the shapes the
 * admin API, the CLI, the TOML tokens and the dashboard share.
 */
import { z } from 'zod';

/** Calendar UTC periods a budget resets on; `total` never resets. */
export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/**
 * A budget in USD and/or tokens (input + output) per period. At least one of
 * `usd` and `tokens` is set.
 */
export interface Budget {
  usd?: number;
  tokens?: number;
  period: BudgetPeriod;
}

/** The limits a managed key (or a config token) may carry; absent = unlimited. */
export interface KeyLimits {
  /** Requests per minute for this key. */
  rpm?: number;
  /** Tokens (input + output) per minute for this key. */
  tpm?: number;
  budget?: Budget;
}

/**
 * Largest budget amounts (docs/budgets.md#budgets). Spend is counted in whole
 * nano-dollars, so $1,000,000 (1e15 nano-USD) keeps every sum below 2^53;
 * 1e12 tokens is far above any period's traffic and as safe.
 */
export const BUDGET_MAX_USD = 1_000_000;
export const BUDGET_MAX_TOKENS = 1_000_000_000_000;

/**
 * The one budget schema: managed keys (admin API, CLI), `[[tokens]] budget`
 * in TOML and caller budgets (`PUT <admin>/api/callers/{caller}/budget`).
 */
export const BudgetSchema = z
  .strictObject({
    usd: z.number().positive('must be > 0').max(BUDGET_MAX_USD, `must be <= ${BUDGET_MAX_USD}`).optional(),
    tokens: z
      .number()
      .int('must be an integer')
      .positive('must be > 0')
      .max(BUDGET_MAX_TOKENS, `must be <= ${BUDGET_MAX_TOKENS}`)
      .optional(),
    period: z.enum(BUDGET_PERIODS, { message: `must be one of ${BUDGET_PERIODS.join(', ')}` }),
  })
  .refine((b) => b.usd !== undefined || b.tokens !== undefined, { message: 'must set usd, tokens or both', path: ['usd'] });

/**
 * Largest per-key rates (docs/keys.md, docs/budgets.md#per-key-rpm-and-tpm):
 * 10^8 requests a minute (over 1.6 million a second) and as many tokens a
 * minute as a budget may hold (10^12). Both stay far below 2^53, so the
 * token buckets (memory or Redis) count them exactly.
 */
export const RPM_MAX = 100_000_000;
export const TPM_MAX = BUDGET_MAX_TOKENS;

const perMinute = (max: number) => z.number().int('must be an integer').positive('must be > 0').max(max, `must be <= ${max}`);

/**
 * The one rpm/tpm schema: managed keys (admin API, CLI) and `[[tokens]]` in
 * TOML, so a limit one accepts the other accepts too.
 */
export const RpmSchema = perMinute(RPM_MAX);
export const TpmSchema = perMinute(TPM_MAX);
