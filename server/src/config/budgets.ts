/**
 * Pricing, budgets and per-key limits in TOML (docs/budgets.md,
 * docs/configuration.md#pricing): a target's `pricing` table, the limits a
 * `[[tokens]]` entry may carry (`rpm`, `tpm`, `budget`) and the `[budgets]`
 * table.
 */
import { BudgetSchema, RpmSchema, TpmSchema } from '@sipp/shared';
import { z } from 'zod';

const perMtok = z.number().min(0, 'must be >= 0').max(1_000_000);

/** USD per million tokens; cache prices default to the input price. */
export const PricingSchema = z.strictObject({
  input_per_mtok: perMtok.default(0),
  output_per_mtok: perMtok.default(0),
  cache_read_per_mtok: perMtok.optional(),
  cache_write_per_mtok: perMtok.optional(),
});
export type PricingConfig = z.infer<typeof PricingSchema>;

/** `{usd?, tokens?, period}`: one schema with the admin API's (shared/src/budgets.ts, docs/budgets.md#budgets). */
export { BudgetSchema };

/** What a `[[tokens]]` entry may carry besides its secret and caller: the managed keys' schemas (shared/src/budgets.ts). */
export const TOKEN_LIMIT_KEYS = {
  rpm: RpmSchema.optional(),
  tpm: TpmSchema.optional(),
  budget: BudgetSchema.optional(),
};

const BudgetsTable = z.strictObject({
  /** Percent of a budget at which the soft threshold fires once per period (warn log, audit entry, metric, banner). */
  threshold_percent: z.number().gt(0, 'must be > 0').max(100, 'must be <= 100').default(80),
  /** The output a request that names no max_tokens may generate: reserved at admission and sent as its limit. */
  default_max_tokens: z.number().int('must be an integer').min(1, 'must be >= 1').max(1_000_000).default(4096),
  /** How long a reservation in Redis holds without renewal (its replica renews it every third of that while the request runs). */
  reservation_lease_seconds: z.number().min(0.1, 'must be >= 0.1').max(86_400, 'must be <= 86400').default(60),
});
export const BudgetsSchema = BudgetsTable.default(() => BudgetsTable.parse({}));
export type BudgetsConfig = z.infer<typeof BudgetsTable>;
