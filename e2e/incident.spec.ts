/**
 * An incident, end to end (docs/dashboard.md#reasons): a real gateway process,
 * two fake upstreams, headless Chromium. `beta` fails (every call a provider
 * 500) until its circuit opens and further requests to it are refused; a
 * fallback group still succeeds on `alpha`; a burst of requests with a valid
 * token runs into the rate limit; one request names no target. The dashboard
 * must put every number on the right target and caller: beta's row counts its
 * refusals (reason circuit_open), the 429s land on their caller (not on
 * "unauthenticated"), "no target" holds only what named nothing, the fallback's
 * detail lists both attempts with the served one first, the Overview says
 * "degraded" with the open circuit and its countdown. Then the explorer: pages
 * beyond the first, sort by duration, export of the current filter, filters
 * in the URL. Management responses are scanned for the configured secrets.
 */
import { expect, test, type Page } from '@playwright/test';
import { startDashboardRig, type DashboardRig } from './support/dashboard-rig.js';
import type { FakeUpstream } from './support/fake-upstream.js';
import { e2eConfig, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Incident-Pass-7a21c9',
  SIPP_E2E_TOKEN: 'e2e-incident-token-5d0f3b18',
  SIPP_E2E_TOKEN_B: 'e2e-incident-token-b-c4e9a2',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-incident-key-31b7e0',
};

test.describe.configure({ mode: 'serial' });

let rig: DashboardRig;
let beta: FakeUpstream;
let gateway: GatewayProcess;
let page: Page;

async function ask(
  model: string,
  o: { token?: string; ip: string; id?: string },
): Promise<{ status: number; target: string | null }> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${o.token ?? SECRETS.SIPP_E2E_TOKEN}`,
      'content-type': 'application/json',
      'x-forwarded-for': o.ip,
      ...(o.id ? { 'x-request-id': o.id } : {}),
    },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.text();
  return { status: res.status, target: res.headers.get('x-sipp-target') };
}

const cell = (row: string, n: number) => page.getByTestId(row).locator('td').nth(n);

test.beforeAll(async ({ browser }) => {
  rig = await startDashboardRig(browser, {
    secrets: SECRETS,
    upstreams: 2,
    config: ([alphaUrl, betaUrl]) =>
      e2eConfig(
        `[[tokens]]
env = "SIPP_E2E_TOKEN_B"
caller = "team-b"

${upstreamTarget('alpha', alphaUrl!)}

${upstreamTarget('beta', betaUrl!)}
[targets.circuit]
failure_threshold = 2
open_seconds = 600

[[groups]]
name = "assistant"
strategy = "fallback"
targets = ["beta", "alpha"]
[groups.retry]
on = ["5xx"]
`,
        `[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32", "::1/128"]
[security.rate_limit]
enabled = true
requests_per_minute = 6
burst = 3`,
      ),
  });
  ({ gateway, page } = rig);
  beta = rig.upstreams[1]!;
});

test.afterAll(async () => {
  await rig?.close();
});

test('the incident: numbers land on the right target and caller', async () => {
  beta.setFailing(true);
  // A fallback success: beta fails (its first failure), alpha serves.
  expect(await ask('assistant', { ip: '10.0.0.1', id: 'incident-fallback' })).toEqual({ status: 200, target: 'alpha' });
  // beta's second failure opens its circuit; then four refusals without a call.
  expect((await ask('beta', { ip: '10.0.0.2' })).status).toBe(502);
  const calls = beta.calls();
  for (let i = 0; i < 4; i++) expect((await ask('beta', { ip: `10.0.1.${i}` })).status).toBe(503);
  expect(beta.calls()).toBe(calls);
  // The group skips the open member.
  expect(await ask('assistant', { ip: '10.0.0.3' })).toEqual({ status: 200, target: 'alpha' });
  // A 429 burst with a valid token: 3 pass (burst), 7 are refused.
  const burst: number[] = [];
  for (let i = 0; i < 10; i++) burst.push((await ask('alpha', { ip: '10.0.9.9', token: SECRETS.SIPP_E2E_TOKEN_B })).status);
  expect(burst.filter((s) => s === 200)).toHaveLength(3);
  expect(burst.filter((s) => s === 429)).toHaveLength(7);
  // A name that is no target or group.
  expect((await ask('nope', { ip: '10.0.0.4' })).status).toBe(404);

  await rig.signIn();

  // Overview: one verdict with its reasons, and the open circuit with its countdown.
  await expect(page.getByTestId('health-status')).toHaveText('degraded');
  await expect(page.getByTestId('health-reasons')).toContainText('beta (open)');
  await expect(page.getByTestId('health-reasons')).toContainText('429');
  await expect(page.getByTestId('strip-beta')).toContainText('open');
  await expect(page.getByTestId('strip-beta')).toContainText(/probe in \d+s/);
  await expect(page.getByTestId('strip-alpha')).toHaveCount(0);
  await rig.shot('incident-01-overview');

  // Targets: beta counts its failure and its four refusals; "no target" only the unknown name and the 429s before the body.
  await page.getByRole('link', { name: 'Targets' }).click();
  // Columns after the name: health, circuit, trend, req/s, requests, 4xx, 5xx, 429, codes …
  await expect(cell('target-row-beta', 4)).toHaveText('5');
  await expect(cell('target-row-beta', 6)).toHaveText('5');
  await expect(page.getByTestId('target-row-beta').getByTestId('row-reasons')).toHaveText('refused: circuit_open ×4');
  await expect(cell('target-row-alpha', 4)).toHaveText('5');
  await expect(cell('target-row-alpha', 6)).toHaveText('0');
  await expect(cell('target-row--', 4)).toHaveText('8');
  await expect(page.getByTestId('target-row--')).toContainText('nope (1)');
  await expect(page.getByTestId('group-row-assistant')).toContainText('beta, alpha');
  await expect(page.getByTestId('group-row-assistant').locator('td').nth(2)).toHaveText('2');
  await rig.shot('incident-02-targets');

  // Callers: the 429s are team-b's, not "unauthenticated".
  await page.getByRole('link', { name: 'Callers' }).click();
  // Columns: trend, req/s, requests, tokens in, tokens out, 4xx, 5xx, 429 …
  await expect(cell('caller-row-team-b', 2)).toHaveText('10');
  await expect(cell('caller-row-team-b', 8)).toHaveText('7');
  await expect(cell('caller-row-e2e-client', 2)).toHaveText('8');
  await expect(cell('caller-row--', 2)).toHaveText('0');
  await rig.shot('incident-03-callers');

  // The explorer: target=beta finds the refusals, with their reason.
  await page.goto(`${gateway.managementUrl}/admin/requests?target=beta&reason=circuit_open`);
  await expect(page.getByTestId('explorer-count')).toContainText('4 of the last');
  // The fallback: the detail leads with the served attempt, then the failed one.
  await page.goto(`${gateway.managementUrl}/admin/requests?q=incident-fallback`);
  await page.getByRole('button', { name: 'Details of incident-fallback' }).click();
  const detail = page.getByTestId('request-detail');
  await expect(page.getByTestId('detail-reason')).toHaveText('served');
  const attempts = page.getByTestId('detail-attempts').locator('li');
  await expect(attempts).toHaveCount(2);
  await expect(attempts.nth(0)).toContainText('alpha');
  await expect(attempts.nth(0)).toContainText('served');
  await expect(attempts.nth(1)).toContainText('beta');
  await expect(attempts.nth(1)).toContainText('upstream 500');
  await expect(detail).toContainText('Upstream status');
  await rig.shot('incident-04-fallback-detail');
  beta.setFailing(false);
});

test('the explorer pages beyond the first page, sorts by duration, exports the current filter, keeps filters in the URL', async () => {
  // 105 more requests (35 client addresses × the burst of 3).
  const all: Array<Promise<unknown>> = [];
  for (let c = 0; c < 35; c++) for (let i = 0; i < 3; i++) all.push(ask('alpha', { ip: `10.7.0.${c}` }));
  await Promise.all(all);
  await page.goto(`${gateway.managementUrl}/admin/requests?caller=e2e-client`);
  const count = page.getByTestId('explorer-count');
  await expect(count).toContainText('113 of the last');
  await expect(count).toContainText('(1–100 shown)');
  const topId = () => page.getByTestId('requests-table').locator('tbody tr').first().getByRole('button');
  const firstPageTop = await topId().innerText();
  await page.getByRole('button', { name: 'Next page' }).click();
  await expect(page.getByTestId('explorer-page')).toHaveText('Page 2');
  await expect(count).toContainText('(101–113 shown)');
  await expect(page.getByTestId('requests-table').locator('tbody tr')).toHaveCount(13);
  await expect(page.getByRole('button', { name: 'Next page' })).toBeDisabled();
  await page.getByRole('button', { name: 'Previous page' }).click();
  await expect(topId()).toHaveText(firstPageTop);

  await page.getByLabel('Sort').selectOption('duration');
  await expect(page).toHaveURL(/sort=duration/);
  await expect(page).toHaveURL(/caller=e2e-client/);
  const durations = await page.getByTestId('requests-table').locator('tbody tr td:nth-child(8)').allInnerTexts();
  const asMs = (t: string) => (t.endsWith(' ms') ? Number.parseFloat(t) : t.endsWith(' s') ? Number.parseFloat(t) * 1000 : 0);
  for (let i = 1; i < durations.length; i++) expect(asMs(durations[i - 1]!)).toBeGreaterThanOrEqual(asMs(durations[i]!));

  const href = await page.getByTestId('export-csv').getAttribute('href');
  expect(href).toContain('caller=e2e-client');
  expect(href).toContain('sort=duration');
  expect(href).toContain('format=csv');
  const csv = await page.request.get(new URL(href!, gateway.managementUrl).toString());
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-disposition']).toMatch(/^attachment/);
  const lines = (await csv.text()).trimEnd().split('\r\n');
  expect(lines).toHaveLength(1 + 113);
  expect(lines.slice(1).every((l) => l.includes(',e2e-client,'))).toBe(true);
  const json = await page.request.get(
    new URL((await page.getByTestId('export-json').getAttribute('href'))!, gateway.managementUrl).toString(),
  );
  expect((await json.json()).requests).toHaveLength(113);

  // Filters survive a reload (they live in the URL).
  await page.reload();
  await expect(page.getByLabel('Caller')).toHaveValue('e2e-client');
  await expect(page.getByLabel('Sort')).toHaveValue('duration');
  await rig.shot('incident-05-explorer-sorted');
});

test('no management response carried a secret', async () => {
  expect(await rig.leaks()).toEqual([]);
});
