/**
 * The Spend view and the cost columns end to end: a real gateway process
 * writing usage rows to a real PostgreSQL server (started on an ephemeral
 * port), headless Chromium. Priced rows for the last days are inserted into
 * the usage database with the server's own batch insert (rows and rollups),
 * next to the live traffic the gateway records itself. Every response the
 * browser gets from the management listener is scanned for secrets.
 */
import { expect, test, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { openDatabase } from '../server/src/usage/database.js';
import { migrate } from '../server/src/usage/migrations.js';
import { insertBatch, newRowId, type UsageRow } from '../server/src/usage/rows.js';
import { startPostgres, type TestPostgres } from '../server/test/support/postgres.js';
import { startDashboardRig, type DashboardRig } from './support/dashboard-rig.js';
import { e2eConfig, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Admin-Pass-spend-41c9',
  SIPP_E2E_TOKEN: 'e2e-bearer-token-spend-8e02',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-upstream-key-spend-5b',
  SIPP_E2E_ADMIN_API_TOKEN: 'e2e-admin-api-token-spend-7d3f',
};
const DAY = 86_400_000;

test.describe.configure({ mode: 'serial' });

let pg: TestPostgres;
let rig: DashboardRig;
let gateway: GatewayProcess;
let page: Page;

/** Seeded spend (this week, so every range shows it): team-a spends most, on claude. */
const now = Date.now();
const SEED: Array<Partial<UsageRow> & { n: number }> = [
  { n: 4, caller: 'team-a', keyId: 'key-a1', target: 'anthropic', model: 'claude', costUsd: 1.5, time: now - 2 * 3_600_000 },
  { n: 3, caller: 'team-a', keyId: 'key-a2', target: 'openai', model: 'gpt', costUsd: 0.5, time: now - 3_600_000 },
  { n: 2, caller: 'team-b', keyId: 'key-b1', target: 'openai', model: 'gpt', costUsd: 0.25, time: now - 3_600_000 },
];
// Rows from earlier days land in the over-time charts; they stay inside the 7-day range.
const EARLIER: Array<Partial<UsageRow> & { n: number }> = [
  { n: 2, caller: 'team-b', keyId: 'key-b1', target: 'openai', model: 'gpt', costUsd: 1, time: now - 3 * DAY },
];
const total = [...SEED, ...EARLIER].reduce((s, r) => s + r.n * r.costUsd!, 0); // 6 + 1.5 + 0.5 + 2 = 10

function rowsOf(spec: Array<Partial<UsageRow> & { n: number }>): UsageRow[] {
  return spec.flatMap(({ n, ...r }) =>
    Array.from({ length: n }, (_, i) => ({
      rowId: newRowId(),
      time: now,
      requestId: `seed-${newRowId()}-${i}`,
      keyId: null,
      caller: null,
      api: 'openai',
      operation: 'chat',
      model: null,
      target: null,
      status: 200,
      code: null,
      inputTokens: 1000,
      outputTokens: 500,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0,
      latencyMs: 20,
      ttftMs: null,
      stream: false,
      ...r,
    })),
  );
}

async function chat(token: string | null): Promise<number> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

const nav = () => page.getByRole('navigation', { name: 'Views' });
const open = async (label: string) => {
  await nav().getByRole('link', { name: label, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
};

test.beforeAll(async ({ browser }) => {
  pg = await startPostgres();
  const db = await openDatabase({ backend: 'postgres', url: pg.url });
  try {
    await migrate(db);
    await db.transaction((tx) => insertBatch(tx, [...rowsOf(SEED), ...rowsOf(EARLIER)]));
  } finally {
    await db.close();
  }
  rig = await startDashboardRig(browser, {
    // The database URL (with its password) is a secret too: scanned for like the others.
    secrets: { ...SECRETS, SIPP_E2E_DB_URL: pg.url },
    upstreams: 1,
    config: ([url]) =>
      e2eConfig(
        `${upstreamTarget('assistant', url!)}
[database]
backend = "postgres"
url_env = "SIPP_E2E_DB_URL"
flush_interval_ms = 100
[admin]
api_token_env = "SIPP_E2E_ADMIN_API_TOKEN"
`,
      ),
    context: { acceptDownloads: true },
  });
  ({ gateway, page } = rig);
});

test.afterAll(async () => {
  await rig?.close();
  await pg?.destroy();
});

test('the Spend view shows totals, top spenders and cost over time from the usage database', async () => {
  expect(await chat(SECRETS.SIPP_E2E_TOKEN)).toBe(200);
  expect(await chat(null)).toBe(401);
  await rig.signIn();
  await open('Spend');
  await expect(page).toHaveTitle('Spend · Sipp Gateway');

  const tiles = page.getByTestId('spend-tiles');
  await expect(tiles).toContainText(`$${total.toFixed(2)}`);
  // 11 seeded rows, plus the live 200 and 401 once the writer flushed them (every 100 ms).
  await expect(tiles.locator('.tile', { hasText: 'Requests' })).toContainText('13', { timeout: 15_000 });

  const table = page.getByTestId('spend-table');
  await expect(table.locator('tbody tr').first()).toHaveAttribute('data-testid', 'spend-row-team-a');
  await expect(page.getByTestId('spend-row-team-a')).toContainText('$7.50');
  await expect(page.getByTestId('spend-row-team-b')).toContainText('$2.50');
  await expect(page.getByTestId('spend-row-team-a')).toContainText('75%');
  await expect(page.getByTestId('spend-row-e2e-client')).toContainText('$0');
  await expect(page.getByTestId('spend-row--')).toContainText('(unauthenticated)');
  await expect(page.getByTestId('chart-spend-cost')).toContainText('team-a');
  await expect(page.getByTestId('chart-spend-tokens')).toBeVisible();

  // By model, then by key: the same total regrouped.
  await page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'model' }).click();
  await expect(page.getByTestId('spend-row-claude')).toContainText('$6.00');
  await expect(page.getByTestId('spend-row-gpt')).toContainText('$4.00');
  await expect(page).toHaveURL(/by=model/);
  await page.getByRole('group', { name: 'Group by' }).getByRole('button', { name: 'key' }).click();
  await expect(page.getByTestId('spend-row-key-b1')).toContainText('$2.50');
  await expect(page.getByTestId('spend-row--')).toContainText('(config token)');
  // The 24 h range leaves out the row from three days ago.
  await page.getByRole('group', { name: 'Range' }).getByRole('button', { name: '24h' }).click();
  await expect(page.getByTestId('spend-row-key-b1')).toContainText('$0.50');
  await expect(page.getByTestId('chart-spend-cost')).toContainText('Cost per hour');
  await rig.shot('spend-01-view');
});

test('the budget burn-down shows spend so far against a caller budget', async () => {
  // The caller's budget, set through the admin API the way automation would (docs/budgets.md#caller-budgets).
  const put = await fetch(`${gateway.managementUrl}/admin/api/callers/team-a/budget`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${SECRETS.SIPP_E2E_ADMIN_API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ usd: 10, period: 'month' }),
  });
  expect(put.status).toBe(200);
  // team-a is a caller the dashboard knows from the routes; the e2e config has one caller, so add it to the answer.
  await page.route('**/admin/api/routes', async (route) => {
    const res = await route.fetch();
    const body = (await res.json()) as { callers: Array<{ caller: string; targets: null }> };
    body.callers.push({ caller: 'team-a', targets: null });
    await route.fulfill({ response: res, json: body });
  });
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Spend' })).toBeVisible();
  const row = page.getByTestId('budget-caller-team-a-USD');
  // team-a's spend since the first of this UTC month (all of it, unless this runs in the month's first hours).
  const d = new Date(now);
  const month = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const spent = SEED.filter((r) => r.caller === 'team-a' && r.time! >= month).reduce((s, r) => s + r.n * r.costUsd!, 0);
  await expect(row).toContainText(`$${spent.toFixed(2)}`);
  await expect(row).toContainText('$10.00');
  await expect(row.locator('meter')).toHaveAttribute('value', String(spent / 10));
  if (spent === 7.5) await expect(row.locator('meter')).toHaveAttribute('aria-label', 'team-a: 75% of the month budget used');
  await expect(page.getByTestId('budget-table')).not.toContainText('e2e-client');
  await page.unrouteAll({ behavior: 'wait' });
  await rig.shot('spend-02-budget');
});

test('the burn-down shows what a running request reserves against its caller budget, released when it settles', async () => {
  // A token budget: the fake target has no pricing, so only tokens are reserved (docs/budgets.md#reservations).
  const budgetUrl = `${gateway.managementUrl}/admin/api/callers/e2e-client/budget`;
  const admin = { authorization: `Bearer ${SECRETS.SIPP_E2E_ADMIN_API_TOKEN}`, 'content-type': 'application/json' };
  const put = await fetch(budgetUrl, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ tokens: 1_000_000, period: 'month' }),
  });
  expect(put.status).toBe(200);
  const row = page.getByTestId('budget-caller-e2e-client-tokens');
  await expect(row.getByTestId('reserved')).toHaveText('0', { timeout: 30_000 });

  // A request the fake provider holds: its worst case stays reserved until it settles.
  const upstream = rig.upstreams[0]!;
  const held = fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.SIPP_E2E_TOKEN}` },
    body: JSON.stringify({ model: 'assistant', messages: [{ role: 'user', content: 'hold' }] }),
  });
  try {
    await expect.poll(() => upstream.held(), { timeout: 15_000 }).toBe(1);
    const body = (await (await fetch(budgetUrl, { headers: admin })).json()) as { reserved: { usd: number; tokens: number } };
    expect(body.reserved.tokens).toBeGreaterThan(0);
    // The page picks it up on its own (the caller budgets refresh every 5 s).
    await expect(row.getByTestId('reserved')).toHaveText(new Intl.NumberFormat('en-US').format(body.reserved.tokens), {
      timeout: 30_000,
    });
    await rig.shot('spend-02b-reserved');
  } finally {
    upstream.releaseHeld();
  }
  const res = await held;
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  await expect(row.getByTestId('reserved')).toHaveText('0', { timeout: 30_000 });
  // Caller budgets are not part of the other tests' figures: remove it again.
  expect((await fetch(budgetUrl, { method: 'PUT', headers: admin, body: 'null' })).status).toBe(200);
});

test('Export CSV downloads the raw rows of the range with a header', async () => {
  await page.getByRole('group', { name: 'Range' }).getByRole('button', { name: '7d' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  expect(download.suggestedFilename()).toMatch(/^sipp-usage-.*\.csv$/);
  const text = await readFile((await download.path())!, 'utf8');
  const lines = text.trimEnd().split('\r\n');
  expect(lines[0]).toBe(
    'time,request_id,key_id,caller,api,operation,model,target,status,code,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cost_usd,latency_ms,ttft_ms,stream',
  );
  // 11 seeded rows, the live 200 and 401 of the first test and the held request of the reservation test.
  expect(lines.length - 1).toBe(14);
  expect(lines.filter((l) => l.includes(',team-a,')).length).toBe(7);
  expect(lines.some((l) => l.includes(',401,authentication,'))).toBe(true);
  for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
});

test('Callers and Targets have a cost column', async () => {
  await open('Callers');
  const callers = page.getByTestId('callers-table');
  await expect(callers.getByRole('columnheader', { name: 'Cost' })).toBeVisible();
  // Live traffic of this run is unpriced (no `pricing` on the target): it costs $0.
  await expect(page.getByTestId('caller-row-e2e-client').getByTestId('cost')).toHaveText('$0');
  await open('Targets');
  await expect(page.getByTestId('targets-table').getByRole('columnheader', { name: 'Cost' })).toBeVisible();
  await expect(page.getByTestId('target-row-assistant').getByTestId('cost')).toHaveText('$0');
  await rig.shot('spend-03-callers');
});

test('no secret in any dashboard response, and the CSP was never violated', async () => {
  // Responses and the gateway's log lines: no configured secret (nor the database URL) in either.
  expect(await rig.leaks()).toEqual([]);
  expect(rig.cspViolations).toEqual([]);
  expect(rig.scanned.length).toBeGreaterThan(5);
  // The database password on its own, too.
  for (const r of rig.scanned) expect(`${r.body}${r.headers}`, `${r.url} holds a secret`).not.toContain(pg.password);
});
