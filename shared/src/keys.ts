/**
 * Managed API keys (docs/keys.md): the admin API's request bodies and answers,
 * used by the server (`server/src/keys`, `server/src/admin`), the CLI and the
 * dashboard. A key's secret appears only in `KeySecretResponse`, once, at
 * creation and at rotation; every other shape carries the display prefix only.
 */
import { z } from 'zod';
import { BudgetSchema, RpmSchema, TpmSchema, type Budget, type BudgetPeriod } from './budgets.js';

/** Every managed key's secret starts with this; the rest is at least 32 base62 characters. */
export const KEY_SECRET_PREFIX = 'sk-sipp-';

/** What a key is now: `active` authenticates; the others are refused like an unknown token. */
export const KEY_STATUSES = ['active', 'disabled', 'expired', 'revoked'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** A key's spend over its budget period (its budget's, or the calendar month when it has none), from the usage rollups. */
export interface KeySpend {
  period: BudgetPeriod;
  /** ISO 8601 start of the current period (null for `total`). */
  from: string | null;
  usd: number;
  /** Input + output tokens. */
  tokens: number;
  requests: number;
  /** Percent of the budget spent (the larger of USD and tokens when both are set); null without a budget. */
  budget_used_pct: number | null;
}

/** One managed key as the admin API shows it (never its secret or hash). */
export interface ManagedKey {
  id: string;
  name: string;
  caller: string;
  /** The secret's first characters, e.g. `sk-sipp-Ab3x`, to recognise it. */
  prefix: string;
  /** Targets or groups it may use; empty = every one. */
  targets: string[];
  rpm: number | null;
  tpm: number | null;
  budget: Budget | null;
  /** ISO 8601. */
  expires_at: string | null;
  metadata: Record<string, unknown>;
  disabled: boolean;
  revoked_at: string | null;
  created_at: string;
  updated_at: string;
  /** Until when the secret before the last rotation still authenticates (ISO 8601), or null. */
  previous_valid_until: string | null;
  status: KeyStatus;
  /** Spend in the current period; null when the usage database could not be read. */
  spend: KeySpend | null;
  /**
   * What running requests hold against the key's budget until they settle
   * (docs/budgets.md#reservations), as `reserved` of `GET callers/{caller}/budget`.
   * Null without a budget (nothing is reserved), when the budget ledger could
   * not be read, and in the `keys` CLI (no running gateway holds anything).
   */
  reserved: { usd: number; tokens: number } | null;
}

/** `GET <admin>/api/keys`. */
export interface KeyListResponse {
  keys: ManagedKey[];
}

/** `GET/PATCH/DELETE <admin>/api/keys/{id}`. */
export interface KeyResponse {
  key: ManagedKey;
}

/** `POST <admin>/api/keys` (201) and `POST <admin>/api/keys/{id}/rotate`: the secret, shown this once. */
export interface KeySecretResponse {
  key: ManagedKey;
  secret: string;
}

const label = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9._:@\-]+$/, 'may contain only letters, digits and . _ : @ -');

const keyName = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const isoTime = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && Number.isFinite(Date.parse(s)), 'must be an ISO 8601 date-time');

const metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 8192, 'must be at most 8 KiB as JSON');

/** `POST <admin>/api/keys`. */
export const KeyCreateSchema = z.strictObject({
  name: keyName,
  caller: label,
  targets: z.array(label).max(1000).optional(),
  rpm: RpmSchema.optional(),
  tpm: TpmSchema.optional(),
  budget: BudgetSchema.optional(),
  expires_at: isoTime.optional(),
  metadata: metadata.optional(),
});
export type KeyCreate = z.infer<typeof KeyCreateSchema>;

/** `PATCH <admin>/api/keys/{id}`: each field present is changed; null clears a limit, the budget or the expiry. */
export const KeyUpdateSchema = z.strictObject({
  name: keyName.optional(),
  disabled: z.boolean().optional(),
  targets: z.array(label).max(1000).optional(),
  rpm: RpmSchema.nullable().optional(),
  tpm: TpmSchema.nullable().optional(),
  budget: BudgetSchema.nullable().optional(),
  expires_at: isoTime.nullable().optional(),
  metadata: metadata.optional(),
});
export type KeyUpdate = z.infer<typeof KeyUpdateSchema>;

/** `POST <admin>/api/keys/{id}/rotate`: how long the old secret keeps working (default 0: it stops at once). */
export const KeyRotateSchema = z.strictObject({
  grace_seconds: z
    .number()
    .int('must be a whole number')
    .min(0, 'must be >= 0')
    .max(30 * 86_400, 'must be at most 30 days')
    .optional(),
});
export type KeyRotate = z.infer<typeof KeyRotateSchema>;
