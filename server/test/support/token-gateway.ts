/**
 * The configuration of a test gateway with several `[[tokens]]`, each with
 * its own caller and limits (rpm, tpm, budget: docs/budgets.md), and the
 * environment that holds their secrets: what the budget tests on one gateway
 * and on a Redis-backed fleet share. Spread the result into startTestGateway.
 */
import { BASE_TOML } from './gateway.js';

/** One `[[tokens]]` entry: the variable holding its secret, the secret, its caller and any more TOML keys (limits). */
export interface TestToken {
  env: string;
  value: string;
  caller: string;
  /** Keys of the entry after `caller`, e.g. `budget = { usd = 0.1, period = "total" }` or `rpm = 2`. */
  toml?: string;
}

export interface TokenGatewayConfig {
  adminPassword: string;
  tokens: readonly TestToken[];
  /** Tables after the tokens, e.g. `[state]`. */
  tables?: string;
  /** The `[[targets]]`, last. */
  targets: string;
  /** More variables: provider keys, the Redis URL. */
  env?: Record<string, string>;
}

export function tokenGateway(c: TokenGatewayConfig): { toml: string; env: Record<string, string> } {
  const tokens = c.tokens.map((t) => `[[tokens]]\nenv = "${t.env}"\ncaller = "${t.caller}"\n${t.toml ? `${t.toml}\n` : ''}`);
  return {
    toml: `${BASE_TOML}${tokens.join('')}${c.tables ? `${c.tables.trim()}\n` : ''}${c.targets}`,
    env: {
      TEST_ADMIN_PASSWORD: c.adminPassword,
      ...Object.fromEntries(c.tokens.map((t) => [t.env, t.value])),
      ...c.env,
    },
  };
}
