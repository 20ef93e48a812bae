/**
 * What a request costs (docs/budgets.md#cost): the served target's `pricing`
 * (USD per million tokens) over the usage the target reported. Cached input
 * and cache writes are priced apart (their prices default to the input
 * price); reasoning tokens are part of the output count. Amounts are kept in
 * whole nano-USD (1e-9 USD) so that sums are exact in any store.
 */
import type { PricingConfig } from '../config/budgets.js';

export interface Pricing {
  /** nano-USD per token (USD per million tokens × 1000). */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface TokenCounts {
  /** All input tokens, cached ones included (as every surface reports them). */
  input: number;
  output: number;
  /** Of `input`, read from the provider's prompt cache. */
  cacheRead?: number;
  /** Of `input`, written to the provider's prompt cache. */
  cacheWrite?: number;
}

export const FREE: Pricing = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

export function pricingOf(p: PricingConfig | undefined): Pricing {
  if (!p) return FREE;
  return {
    input: p.input_per_mtok * 1000,
    output: p.output_per_mtok * 1000,
    cacheRead: (p.cache_read_per_mtok ?? p.input_per_mtok) * 1000,
    cacheWrite: (p.cache_write_per_mtok ?? p.input_per_mtok) * 1000,
  };
}

/** The cost in whole nano-USD (rounded to the nearest). */
export function costNano(p: Pricing, t: TokenCounts): number {
  const cacheRead = Math.min(t.cacheRead ?? 0, t.input);
  const cacheWrite = Math.min(t.cacheWrite ?? 0, t.input - cacheRead);
  const plain = t.input - cacheRead - cacheWrite;
  return Math.round(plain * p.input + cacheRead * p.cacheRead + cacheWrite * p.cacheWrite + t.output * p.output);
}

export const NANO_PER_USD = 1e9;

export const usdOf = (nano: number): number => nano / NANO_PER_USD;
export const nanoOf = (usd: number): number => Math.round(usd * NANO_PER_USD);
