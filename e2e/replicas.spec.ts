/**
 * The Replicas view end to end: a real gateway process with the embedded
 * memory state backend (one replica: this one, up), a fake upstream that can
 * hold requests in flight, headless Chromium. The view shows this replica's
 * uptime, in-flight count, requests/s and request total beside the fleet
 * totals, sets its document title, and is screenshotted to e2e/artifacts/.
 * The fleet responses are scanned for the configured secrets.
 */
import { expect, test, type Page } from '@playwright/test';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { e2eConfig, startGatewayProcess, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const ARTIFACTS = join(resolve(fileURLToPath(import.meta.url), '..'), 'artifacts');
const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Replicas-Pass-5a7d10',
  SIPP_E2E_TOKEN: 'e2e-replicas-token-c81b3e09',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-replicas-key-2f64aa',
};

test.describe.configure({ mode: 'serial' });

let upstream: FakeUpstream;
let gateway: GatewayProcess;
let page: Page;
const fleetBodies: string[] = [];
let sent = 0;

function chat(content = 'hello'): Promise<number> {
  sent++;
  return fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRETS.SIPP_E2E_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content }] }),
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

test.beforeAll(async ({ browser }) => {
  await mkdir(ARTIFACTS, { recursive: true });
  upstream = await startFakeUpstream(SECRETS.SIPP_E2E_UPSTREAM_KEY);
  gateway = await startGatewayProcess(
    e2eConfig(`${upstreamTarget('assistant', upstream.url, 30)}
# A short heartbeat: requests/s is measured between heartbeats.
[state]
heartbeat_seconds = 0.5
replica_timeout_seconds = 2
`),
    SECRETS,
  );
  page = await (await browser.newContext()).newPage();
  page.on('response', async (res) => {
    if (res.url().endsWith('/admin/api/fleet')) fleetBodies.push(await res.text().catch(() => ''));
  });
});

test.afterAll(async () => {
  upstream?.releaseHeld();
  await page?.context().close();
  await gateway?.stop();
  await upstream?.close();
});

test('Replicas shows this replica up with its uptime, in-flight and requests/s; the fleet totals match it', async () => {
  await page.goto(`${gateway.managementUrl}/admin/`);
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();

  // Two requests held at the upstream: in flight until released.
  const held = [chat('hold'), chat('hold')];
  await expect.poll(() => upstream.held()).toBe(2);

  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Replicas', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Replicas' })).toBeVisible();
  await expect(page).toHaveTitle('Replicas · Sipp Gateway');
  await expect(page.getByText('State backend memory')).toBeVisible();

  const rows = page.getByTestId('replicas-table').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  const row = rows.first();
  const cell = (n: number) => row.locator(`td:nth-child(${n})`);
  await expect(cell(1)).toContainText('this replica');
  await expect(cell(2)).toHaveText('up');
  await expect(cell(5)).toHaveText(/^(\d+s|\d+m \d+s)$/);
  await expect(cell(6)).toHaveText('now');
  await expect(cell(7)).toHaveText('2');
  const tiles = page.getByTestId('fleet-tiles');
  await expect(tiles).toContainText('Replicas up1 / 1');
  await expect(tiles).toContainText('In flight (fleet)2this replica: 2');

  // Steady traffic (about 20/s) until the view's requests/s, measured between heartbeats, is above zero.
  let loading = true;
  const load = (async () => {
    while (loading) {
      expect(await chat()).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await expect.poll(async () => Number(await cell(8).textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
  await shot('replicas-01-this-replica');
  loading = false;
  await load;

  upstream.releaseHeld();
  expect(await Promise.all(held)).toEqual([200, 200]);
  // Every request counted once the held ones finished; nothing left in flight.
  await expect(cell(7)).toHaveText('0', { timeout: 15_000 });
  await expect(cell(9)).toHaveText(String(sent), { timeout: 15_000 });
  await expect(tiles).toContainText(`Requests (fleet)${sent}this replica: ${sent}`);
});

test('no fleet response carried a secret', async () => {
  expect(fleetBodies.length).toBeGreaterThan(0);
  expect(fleetBodies.some((b) => b.includes('"self":true'))).toBe(true);
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(
      fleetBodies.some((b) => b.includes(value)),
      `${name} in a fleet response`,
    ).toBe(false);
  }
});
