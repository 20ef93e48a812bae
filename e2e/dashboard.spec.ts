/**
 * The Admin Dashboard end to end: a real gateway process, a fake
 * OpenAI-compatible upstream, headless Chromium. Every response the browser
 * gets from the management listener is scanned for the configured secrets,
 * and every view is screenshotted to e2e/artifacts/.
 */
import { expect, test, type Page, type Response } from '@playwright/test';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';

const ARTIFACTS = join(resolve(fileURLToPath(import.meta.url), '..'), 'artifacts');
const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Admin-Pass-8c41f0',
  SIPP_E2E_TOKEN: 'e2e-bearer-token-5d2e9a71',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-upstream-key-77aa31',
};

test.describe.configure({ mode: 'serial' });

let upstream: FakeUpstream;
let gateway: GatewayProcess;
let page: Page;
const scanned: Array<{ url: string; body: string; headers: string }> = [];
const cspViolations: string[] = [];
const pending: Array<Promise<void>> = [];

async function chat(requestId?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${SECRETS.SIPP_E2E_TOKEN}`,
      'content-type': 'application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content: 'hello' }] }),
  });
  return { status: res.status, body: await res.json() };
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

test.beforeAll(async ({ browser }) => {
  await mkdir(ARTIFACTS, { recursive: true });
  upstream = await startFakeUpstream(SECRETS.SIPP_E2E_UPSTREAM_KEY);
  gateway = await startGatewayProcess(
    `public_bind = "127.0.0.1:0"
management_bind = "127.0.0.1:0"
admin_password_env = "SIPP_E2E_ADMIN_PASSWORD"

[security]

[[tokens]]
env = "SIPP_E2E_TOKEN"
caller = "e2e-client"

[[targets]]
name = "assistant"
type = "openai_compatible"
model = "served-model"
base_url = "${upstream.url}"
token_env = "SIPP_E2E_UPSTREAM_KEY"
timeout_seconds = 10
`,
    SECRETS,
  );
  page = await browser.newPage();
  page.on('response', (res: Response) => {
    if (!res.url().startsWith(gateway.managementUrl)) return;
    pending.push(
      (async () => {
        const headers = JSON.stringify(await res.allHeaders());
        const body = await res.text().catch(() => '');
        scanned.push({ url: res.url(), body, headers });
      })(),
    );
  });
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
});

test.afterAll(async () => {
  await page?.close();
  await gateway?.stop();
  await upstream?.close();
});

test('a wrong password is refused', async () => {
  await page.goto(`${gateway.managementUrl}/admin/`);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await shot('01-login');
  await page.getByLabel('Admin password').fill('definitely-not-it');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong password.');
  await expect(page.getByRole('navigation', { name: 'Views' })).toHaveCount(0);
  await shot('02-login-refused');
});

test('login works and the Overview shows live traffic', async () => {
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('total-requests')).toHaveText('0');

  for (let i = 0; i < 4; i++) expect((await chat(`e2e-request-${i}`)).status).toBe(200);
  const unauth = await fetch(`${gateway.publicUrl}/v1/chat`, { method: 'POST', body: '{}' });
  expect(unauth.status).toBe(401);

  // Auto-refresh picks the traffic up without a reload.
  await expect(page.getByTestId('total-requests')).toHaveText('5', { timeout: 15_000 });
  await expect(page.getByText('No traffic in the last 30 minutes')).toHaveCount(0, { timeout: 15_000 });
  await shot('03-overview');

  await page.setViewportSize({ width: 420, height: 900 });
  await shot('04-overview-narrow');
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('Traffic lists the client, its caller label and the recent requests', async () => {
  await page.getByRole('link', { name: 'Traffic' }).click();
  await expect(page).toHaveURL(/\/admin\/traffic$/);
  const clients = page.getByTestId('clients-table');
  await expect(clients).toContainText('127.0.0.1');
  await expect(clients).toContainText('e2e-client');
  const recent = page.getByTestId('recent-table');
  await expect(recent).toContainText('e2e-request-3');
  await expect(recent).toContainText('assistant');
  await expect(recent).toContainText('401');
  await shot('05-traffic');
});

test('blocking a client in the Security view makes its next public request 403', async () => {
  await page.getByRole('link', { name: 'Security' }).click();
  await expect(page.getByRole('heading', { name: 'Blocklist' })).toBeVisible();
  await expect(page.getByText('No blocked clients.')).toBeVisible();

  // Client-side validation of the rate-limit form (same schema as the server).
  const burst = page.getByLabel('Burst');
  await burst.fill('0');
  await expect(page.getByText('must be > 0')).toBeVisible();
  await burst.fill('60');

  await page.getByLabel('IP address to block').fill('127.0.0.1');
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await expect(page.getByTestId('blocklist')).toContainText('127.0.0.1');
  await shot('06-security');

  const blocked = await chat('e2e-after-block');
  expect(blocked.status).toBe(403);
  expect(blocked.body.error.code).toBe('blocked');

  await page.getByRole('button', { name: 'Unblock 127.0.0.1' }).click();
  await expect(page.getByText('No blocked clients.')).toBeVisible();
  expect((await chat('e2e-after-unblock')).status).toBe(200);
});

test('Targets and Routes views', async () => {
  await page.getByRole('link', { name: 'Targets' }).click();
  const card = page.getByTestId('target-assistant');
  await expect(card).toContainText('OpenAI-compatible');
  await expect(card).toContainText('served-model');
  await expect(card).toContainText(upstream.url);
  await shot('07-targets');

  await page.getByRole('link', { name: 'Routes' }).click();
  await expect(page.getByTestId('routes-table')).toContainText('/v1/chat');
  await expect(page.getByTestId('routes-table')).toContainText('/admin');
  await shot('08-routes');

  // Deep link straight to a view (SPA fallback on the server).
  await page.goto(`${gateway.managementUrl}/admin/security`);
  await expect(page.getByRole('heading', { name: 'Security' })).toBeVisible();
});

test('sign out returns to the login screen and ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  const api = await page.request.get(`${gateway.managementUrl}/admin/api/overview`);
  expect(api.status()).toBe(401);
  await shot('09-signed-out');
});

test('no management response carried a secret, and the CSP was never violated', async () => {
  await Promise.all(pending);
  expect(scanned.length).toBeGreaterThan(10);
  expect(scanned.some((r) => r.url.includes('/assets/') && r.url.endsWith('.js'))).toBe(true);
  expect(scanned.some((r) => r.url.endsWith('/api/session'))).toBe(true);
  const leaks = scanned.flatMap((r) =>
    Object.entries(SECRETS)
      .filter(([, value]) => r.body.includes(value) || r.headers.includes(value))
      .map(([name]) => `${name} in ${r.url}`),
  );
  expect(leaks).toEqual([]);
  const logLeaks = gateway.logs.filter((line) => Object.values(SECRETS).some((v) => line.includes(v)));
  expect(logLeaks).toEqual([]);
  expect(cspViolations).toEqual([]);
});
