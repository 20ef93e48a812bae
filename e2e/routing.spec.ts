/**
 * Routing in the Admin Dashboard end to end: a real gateway process with a
 * fallback group over two fake upstreams, headless Chromium. The operator
 * drains the primary from the Targets view (the next public request is served
 * by the secondary), then releases it; Configuration shows the group. Management
 * responses are scanned for the configured secrets.
 */
import { expect, test, type Page } from '@playwright/test';
import { startDashboardRig, type DashboardRig } from './support/dashboard-rig.js';
import { e2eConfig, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Routing-Pass-19bc02',
  SIPP_E2E_TOKEN: 'e2e-routing-token-4f8e1c22',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-routing-key-90d3e1',
};

test.describe.configure({ mode: 'serial' });

let rig: DashboardRig;
let gateway: GatewayProcess;
let page: Page;

async function ask(): Promise<{ status: number; target: string | null }> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRETS.SIPP_E2E_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.text();
  return { status: res.status, target: res.headers.get('x-sipp-target') };
}

test.beforeAll(async ({ browser }) => {
  rig = await startDashboardRig(browser, {
    secrets: SECRETS,
    upstreams: 2,
    config: ([primaryUrl, secondaryUrl]) =>
      e2eConfig(`${upstreamTarget('primary', primaryUrl!)}
[targets.circuit]
failure_threshold = 3
open_seconds = 30

${upstreamTarget('secondary', secondaryUrl!)}

[[groups]]
name = "assistant"
strategy = "fallback"
targets = ["primary", "secondary"]
`),
  });
  ({ gateway, page } = rig);
});

test.afterAll(async () => {
  await rig?.close();
});

test('drain and release a target from the Targets view', async () => {
  expect(await ask()).toEqual({ status: 200, target: 'primary' });

  await rig.signIn();
  await page.getByRole('link', { name: 'Targets' }).click();

  const circuit = page.getByTestId('circuit-primary');
  await expect(page.getByTestId('circuit-state-primary')).toHaveText('closed');
  await expect(circuit).toContainText('opens after 3 failures for 30s');
  await expect(circuit).toContainText('100%');
  await expect(page.getByTestId('circuit-secondary')).toContainText('opens only when drained');

  // Drain and release ask for a reason (e2e/operations.spec.ts covers the confirmation itself).
  await page.getByRole('button', { name: 'Drain primary' }).click();
  await page.getByLabel('Reason (kept in the audit log)').fill('routing e2e: primary under maintenance');
  await page.getByRole('button', { name: 'Confirm drain' }).click();
  await expect(page.getByTestId('circuit-state-primary')).toHaveText('drained');
  await rig.shot('routing-01-drained');
  expect(await ask()).toEqual({ status: 200, target: 'secondary' });

  await page.getByRole('button', { name: 'Release primary' }).click();
  await page.getByLabel('Reason (kept in the audit log)').fill('routing e2e: maintenance over');
  await page.getByRole('button', { name: 'Confirm release' }).click();
  await expect(page.getByTestId('circuit-state-primary')).toHaveText('closed');
  expect(await ask()).toEqual({ status: 200, target: 'primary' });
});

test('Configuration shows the group with its strategy and members', async () => {
  await page.getByRole('link', { name: 'Configuration' }).click();
  const groups = page.getByTestId('groups-table');
  await expect(groups).toContainText('assistant');
  await expect(groups).toContainText('fallback');
  await expect(groups).toContainText('primary → secondary');
  await rig.shot('routing-02-routes');
});

test('no management response carried a secret', async () => {
  expect(await rig.leaks()).toEqual([]);
  expect(rig.scanned.some((r) => r.url.includes('/drain'))).toBe(true);
});
