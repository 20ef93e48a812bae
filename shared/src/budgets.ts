/**
 * Budgets and per-key limits (docs/keys.md, docs/budgets.md): the shapes the
 * admin API, the CLI, the TOML tokens and the dashboard share.
 */

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
