/**
 * The Keys view end to end (docs/keys.md, docs/dashboard.md#views): a real
 * gateway process with the embedded usage database, a fake upstream, headless
 * Chromium. A key is created with its secret shown once (and copied), used on
 * the public listener, its spend and share of the budget appear, its limits
 * are edited, it is disabled and enabled, rotated and revoked with
 * confirmation — each change checked on the public listener. Every admin
 * response is scanned: a secret only ever appears in the answer that makes it.
 */
import { expect, test, type Page, type Response } from '@playwright/test';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { e2eConfig, startGatewayProcess, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const ARTIFACTS = join(resolve(fileURLToPath(import.meta.url), '..'), 'artifacts');
const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Keys-Pass-4e19b2',
  SIPP_E2E_TOKEN: 'e2e-keys-token-93d1c0aa',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-keys-upstream-6b2f',
};

test.describe.configure({ mode: 'serial' });

let upstream: FakeUpstream;
let gateway: GatewayProcess;
let page: Page;
let dataDir: string;
/** The first secret, made by the first test and used by the second. */
let firstSecret = '';
const seen: Array<{ url: string; method: string; body: string }> = [];
const pending: Array<Promise<void>> = [];

/** One chat request; `content` "hold" is held by the fake provider until `upstream.releaseHeld()`. */
async function chat(token: string, content = 'hello'): Promise<number> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    // max_tokens: a budget of 1,000 tokens admits a request only when its worst case fits (docs/budgets.md).
    body: JSON.stringify({ model: 'assistant', max_tokens: 16, messages: [{ role: 'user', content }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const row = () => page.getByTestId('key-row').filter({ hasText: 'ci bot' });

test.beforeAll(async ({ browser }) => {
  await mkdir(ARTIFACTS, { recursive: true });
  dataDir = await mkdtemp(join(tmpdir(), 'sipp-e2e-keys-'));
  upstream = await startFakeUpstream(SECRETS.SIPP_E2E_UPSTREAM_KEY);
  gateway = await startGatewayProcess(
    e2eConfig(`${upstreamTarget('assistant', upstream.url)}
[database]
data_dir = "${dataDir}"
flush_interval_ms = 100
`),
    SECRETS,
  );
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
  page.on('response', (res: Response) => {
    if (!res.url().startsWith(`${gateway.managementUrl}/admin/api/`)) return;
    pending.push(
      (async () => {
        seen.push({ url: res.url(), method: res.request().method(), body: await res.text().catch(() => '') });
      })(),
    );
  });
});

test.afterAll(async () => {
  await page?.context().close();
  await gateway?.stop();
  await upstream?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('create a key: the secret is shown once with a copy button, and it authenticates', async () => {
  await page.goto(`${gateway.managementUrl}/admin/keys`);
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Keys' })).toBeVisible();
  await expect(page).toHaveTitle('Keys · Sipp Gateway');
  await expect(page.getByText('No managed keys yet.')).toBeVisible({ timeout: 30_000 });

  // A bad value: the server's message names the field.
  await page.getByLabel('Name').fill('ci bot');
  await page.getByLabel('Caller').fill('team-a');
  await page.getByLabel('Requests / min').fill('0');
  await page.getByRole('button', { name: 'Create key' }).click();
  await expect(page.getByText(/^rpm: must be > 0/)).toBeVisible();

  await page.getByLabel('Requests / min').fill('60');
  await page.getByLabel('Budget tokens').fill('1000');
  await page.getByLabel('Budget period').selectOption('month');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-secret').textContent())!.trim();
  expect(secret).toMatch(/^sk-sipp-[0-9A-Za-z]{40}$/);
  await page.getByTestId('secret-once').getByRole('button', { name: 'Copy' }).click();
  await expect(page.getByTestId('secret-once').getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await shot('keys-01-created');

  await expect(row()).toContainText(secret.slice(0, 12));
  await expect(row()).toContainText('active');
  await expect(row().getByTestId('key-limits')).toContainText('60 rpm');
  await expect(row().getByTestId('key-budget')).toContainText('1,000 tok / month');

  // Used twice on the public listener: spend and the share of the budget appear (7 + 2 tokens each).
  expect(await chat(secret)).toBe(200);
  expect(await chat(secret)).toBe(200);
  await expect(row().getByTestId('key-spend')).toContainText('18 tok', { timeout: 20_000 });
  await expect(row().getByTestId('key-budget-pct')).toHaveText('1.8% of budget');

  // Dismissed, the secret is gone for good.
  await page.getByTestId('secret-once').getByRole('button', { name: 'Done' }).click();
  await page.reload();
  await expect(row()).toBeVisible();
  expect(await page.content()).not.toContain(secret);
  firstSecret = secret;
});

test("the key's caller, in no config, is on the Callers view with its traffic", async () => {
  // team-a exists only through the managed key (docs/dashboard.md#callers-made-by-keys).
  await page.getByRole('link', { name: 'Callers' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Callers' })).toBeVisible();
  const teamA = page.getByTestId('caller-row-team-a');
  // Td 2 is Requests (after Trend and Req/s); the unpriced target costs $0.
  await expect(teamA.locator('td').nth(2)).toHaveText('2', { timeout: 20_000 });
  await expect(teamA.getByTestId('cost')).toHaveText('$0');
  await expect(page.getByTestId('caller-row-e2e-client').locator('td').nth(2)).toHaveText('0');
  await shot('keys-01b-callers');
  await page.getByRole('link', { name: 'Keys' }).click();
  await expect(row()).toBeVisible();
});

test("a running request's reservation shows in the Reserved column, as the API reports it, released when it settles", async () => {
  // A token budget and an unpriced target: only tokens are reserved (docs/budgets.md#reservations).
  await expect(row().getByTestId('key-reserved')).toHaveText('0 tok');
  const held = chat(firstSecret, 'hold');
  try {
    await expect.poll(() => upstream.held(), { timeout: 15_000 }).toBe(1);
    // The page's own session reads the figure the row must show (the view refreshes every 5 s).
    const reserved = await page.evaluate(async () => {
      const body = (await (await fetch('/admin/api/keys')).json()) as {
        keys: Array<{ name: string; reserved: { tokens: number } | null }>;
      };
      return body.keys.find((k) => k.name === 'ci bot')!.reserved!.tokens;
    });
    expect(reserved).toBeGreaterThan(16);
    await expect(row().getByTestId('key-reserved')).toHaveText(`${new Intl.NumberFormat('en-US').format(reserved)} tok`, {
      timeout: 30_000,
    });
    await shot('keys-01c-reserved');
  } finally {
    upstream.releaseHeld();
  }
  expect(await held).toBe(200);
  await expect(row().getByTestId('key-reserved')).toHaveText('0 tok', { timeout: 30_000 });
});

test('edit limits, disable and enable, rotate and revoke with confirmation', async () => {
  const first = firstSecret;
  await row().getByRole('button', { name: 'Edit ci bot' }).click();
  await page.locator('input[name="edit-rpm"]').fill('120');
  await page.locator('input[name="edit-usd"]').fill('5');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(row().getByTestId('key-limits')).toContainText('120 rpm');
  await expect(row().getByTestId('key-budget')).toContainText('$5 + 1,000 tok / month');

  await row().getByRole('button', { name: 'Disable ci bot' }).click();
  await expect(row()).toContainText('disabled');
  expect(await chat(first)).toBe(401);
  await row().getByRole('button', { name: 'Enable ci bot' }).click();
  await expect(row()).toContainText('active');
  expect(await chat(first)).toBe(200);

  await row().getByRole('button', { name: 'Rotate ci bot' }).click();
  const rotate = page.getByRole('group', { name: 'Confirm rotating ci bot' });
  await rotate.getByRole('button', { name: 'Cancel' }).click();
  expect(await chat(first)).toBe(200);
  await row().getByRole('button', { name: 'Rotate ci bot' }).click();
  await page.getByRole('group', { name: 'Confirm rotating ci bot' }).getByRole('button', { name: 'Confirm rotate' }).click();
  const second = (await page.getByTestId('new-secret').textContent())!.trim();
  expect(second).toMatch(/^sk-sipp-[0-9A-Za-z]{40}$/);
  expect(second).not.toBe(first);
  expect(await chat(second)).toBe(200);
  expect(await chat(first)).toBe(401);
  await page.getByTestId('secret-once').getByRole('button', { name: 'Done' }).click();

  await row().getByRole('button', { name: 'Revoke ci bot' }).click();
  await shot('keys-02-confirm-revoke');
  await page.getByRole('group', { name: 'Confirm revoking ci bot' }).getByRole('button', { name: 'Confirm revoke' }).click();
  await expect(row()).toContainText('revoked');
  expect(await chat(second)).toBe(401);
  await shot('keys-03-revoked');

  // Every admin answer scanned: each secret only in the answer that made it.
  await Promise.all(pending);
  for (const s of [first, second]) {
    const holders = seen.filter((r) => r.body.includes(s));
    expect(holders.length).toBe(1);
    expect(holders[0]!.method).toBe('POST');
    expect(holders[0]!.url).toMatch(/\/admin\/api\/keys(\/key_[0-9A-Za-z]{16}\/rotate)?$/);
  }
  for (const r of seen) for (const v of Object.values(SECRETS)) expect(r.body).not.toContain(v);
});
