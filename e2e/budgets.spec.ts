/**
 * The Overview's budget banner end to end (docs/budgets.md#soft-threshold): a
 * real gateway process with a priced target and a config token whose budget
 * passes its soft threshold; the Overview names it.
 */
import { expect, test } from '@playwright/test';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { e2eConfig, startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';

const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Admin-Pass-budget-31c9',
  SIPP_E2E_TOKEN: 'e2e-bearer-token-budget-7a1',
  SIPP_E2E_BUDGET_TOKEN: 'e2e-budget-token-0c5f9e21',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-upstream-budget-52',
};

let upstream: FakeUpstream;
let gateway: GatewayProcess;

test.beforeAll(async () => {
  upstream = await startFakeUpstream(SECRETS.SIPP_E2E_UPSTREAM_KEY);
  // The fake answers 2 completion tokens: 0.002 USD each at 1000 USD per Mtok; 4 requests = 80 % of 0.01.
  gateway = await startGatewayProcess(
    e2eConfig(`[[tokens]]
env = "SIPP_E2E_BUDGET_TOKEN"
caller = "budget-client"
budget = { usd = 0.01, period = "month" }

[[targets]]
name = "assistant"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "SIPP_E2E_UPSTREAM_KEY"
pricing = { input_per_mtok = 0, output_per_mtok = 1000 }
`),
    SECRETS,
  );
});

test.afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
});

test('a budget past its soft threshold shows as a banner on the Overview', async ({ page }) => {
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.SIPP_E2E_BUDGET_TOKEN}` },
      body: JSON.stringify({ model: 'assistant', max_tokens: 2, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
  }
  await page.goto(`${gateway.managementUrl}/admin/`);
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  const banner = page.getByTestId('budget-banner');
  await expect(banner).toContainText('key config:budget-client at 80.0 % of its monthly budget');
});
