/**
 * The Admin Dashboard end to end: a real gateway process, a fake
 * OpenAI-compatible upstream, headless Chromium. Mixed traffic comes from
 * several client addresses (X-Forwarded-For from a trusted loopback proxy),
 * two callers and unauthenticated clients. Every response the browser gets
 * from the management listener is scanned for the configured secrets, and
 * every view is screenshotted to e2e/artifacts/.
 */
import { expect, test, type Page } from '@playwright/test';
import { startDashboardRig, type DashboardRig } from './support/dashboard-rig.js';
import type { FakeUpstream } from './support/fake-upstream.js';
import { e2eConfig, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Admin-Pass-8c41f0',
  SIPP_E2E_TOKEN: 'e2e-bearer-token-5d2e9a71',
  SIPP_E2E_BATCH_TOKEN: 'e2e-batch-token-0f77c2d4',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-upstream-key-77aa31',
};

test.describe.configure({ mode: 'serial' });

let rig: DashboardRig;
let upstream: FakeUpstream;
let gateway: GatewayProcess;
let page: Page;

interface ChatOptions {
  requestId?: string;
  client?: string;
  token?: string | null;
  model?: string;
  content?: string;
}

async function chat(o: ChatOptions = {}): Promise<{ status: number; body: any }> {
  const token = o.token === undefined ? SECRETS.SIPP_E2E_TOKEN : o.token;
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(o.requestId ? { 'x-request-id': o.requestId } : {}),
      ...(o.client ? { 'x-forwarded-for': o.client } : {}),
    },
    body: JSON.stringify({ model: o.model ?? 'assistant', messages: [{ role: 'user', content: o.content ?? 'hello' }] }),
  });
  return { status: res.status, body: await res.json() };
}

const nav = () => page.getByRole('navigation', { name: 'Views' });
const open = async (label: string) => {
  await nav().getByRole('link', { name: label, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
  await expect(page).toHaveTitle(`${label} · Sipp Gateway`);
};

test.beforeAll(async ({ browser }) => {
  rig = await startDashboardRig(browser, {
    secrets: SECRETS,
    upstreams: 1,
    config: ([url]) =>
      e2eConfig(
        `[[tokens]]
env = "SIPP_E2E_BATCH_TOKEN"
caller = "batch-client"

${upstreamTarget('assistant', url!)}`,
        `[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32"]`,
      ),
    context: { permissions: ['clipboard-read', 'clipboard-write'] },
  });
  ({ gateway, page } = rig);
  upstream = rig.upstreams[0]!;
});

test.afterAll(async () => {
  await rig?.close();
});

test('a wrong password is refused', async () => {
  await page.goto(`${gateway.managementUrl}/admin/`);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page).toHaveTitle('Sign in · Sipp Gateway');
  await rig.shot('01-login');
  await page.getByLabel('Admin password').fill('definitely-not-it');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong password.');
  await expect(nav()).toHaveCount(0);
});

test('the Overview shows current figures; the window and range selectors change the numbers', async () => {
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page).toHaveTitle('Overview · Sipp Gateway');
  await expect(page.getByTestId('total-requests')).toHaveText('0');

  // Mixed traffic: 6 OK from three addresses and two callers, 2 upstream failures, 1 unauthenticated, 1 unknown model.
  for (let i = 0; i < 3; i++) expect((await chat({ requestId: `e2e-ok-${i}`, client: '203.0.113.10' })).status).toBe(200);
  for (let i = 0; i < 2; i++)
    expect(
      (await chat({ requestId: `e2e-batch-${i}`, client: '198.51.100.20', token: SECRETS.SIPP_E2E_BATCH_TOKEN })).status,
    ).toBe(200);
  expect((await chat({ requestId: 'e2e-local-0' })).status).toBe(200);
  for (let i = 0; i < 2; i++)
    expect((await chat({ requestId: `e2e-fail-${i}`, client: '203.0.113.10', content: 'fail' })).status).toBeGreaterThanOrEqual(
      500,
    );
  expect((await chat({ requestId: 'e2e-unauth-0', client: '192.0.2.66', token: null })).status).toBe(401);
  expect((await chat({ requestId: 'e2e-nomodel-0', client: '203.0.113.10', model: 'no-such-model' })).status).toBe(404);

  await expect(page.getByTestId('total-requests')).toHaveText('10', { timeout: 15_000 });
  await expect(page.getByTestId('window-requests')).toHaveText('10 requests');
  // 10 requests in 5 minutes: 0.03 req/s; 2 of 10 are 5xx, 2 of 10 are 4xx.
  await expect(page.getByTestId('tile-rps')).toHaveText('0.03');
  await expect(page.getByTestId('tile-5xx')).toHaveText('20%');
  await expect(page.getByTestId('tile-4xx')).toHaveText('20%');
  await expect(page.getByTestId('chart-requests').getByText('No traffic in this range')).toHaveCount(0, { timeout: 15_000 });
  await rig.shot('02-overview');

  await page.getByRole('group', { name: 'Window' }).getByRole('button', { name: '1m' }).click();
  await expect(page).toHaveURL(/[?&]window=1m/);
  await expect(page.getByTestId('tile-rps')).toHaveText('0.17');
  await page.getByRole('group', { name: 'Window' }).getByRole('button', { name: '1h' }).click();
  await expect(page.getByTestId('tile-rps')).toHaveText('<0.01');
  await page.reload();
  await expect(page.getByRole('group', { name: 'Window' }).getByRole('button', { name: '1h' })).toHaveAttribute(
    'aria-pressed',
    'true',
  );

  // Range: 10 s buckets at 15m, 1 min buckets at 6h — the per-second rate of the same requests changes.
  const chart = page.getByTestId('chart-requests');
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '15m' }).click();
  await chart.getByText('Numbers behind the chart').click();
  const fineRows = chart.locator('details tbody tr');
  await expect(fineRows.first()).toBeVisible();
  const fineTotal = await sumColumn(fineRows);
  expect(fineTotal).toBeCloseTo(10 / 10, 1);
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '6h' }).click();
  await expect(page).toHaveURL(/[?&]range=6h/);
  await expect.poll(async () => sumColumn(chart.locator('details tbody tr'))).toBeCloseTo(10 / 60, 1);

  // Hover tooltip with exact values and time.
  await chart.locator('.chart-plot').hover({ position: { x: 5, y: 40 } });
  await expect(chart.getByTestId('chart-tooltip')).toContainText('req/s');
});

/** Sums the first value column of a chart's data table (rates are per second). */
async function sumColumn(rows: ReturnType<Page['locator']>): Promise<number> {
  const cells = await rows.locator('td:nth-child(2)').allTextContents();
  return cells.reduce((a, t) => a + (t.startsWith('<') ? 0 : Number(t)), 0);
}

test('one click from an error spike opens the explorer filtered to it', async () => {
  const errors = page.getByTestId('chart-errors');
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '15m' }).click();
  await errors.getByText('Numbers behind the chart').click();
  await errors.getByRole('button', { name: 'Open these errors' }).first().click();
  await expect(page).toHaveURL(/\/admin\/requests\?.*status=5xx/);
  await expect(page).toHaveTitle('Requests · Sipp Gateway');
  const table = page.getByTestId('requests-table');
  await expect(table).toContainText('e2e-fail-');
  await expect(table).not.toContainText('e2e-ok-');
  for (const status of await table.locator('tbody tr .pill').allTextContents())
    expect(Number(status)).toBeGreaterThanOrEqual(500);
});

test('the explorer filters, searches, pauses and shows a request in detail', async () => {
  await page.getByRole('button', { name: 'Clear filters' }).click();
  const table = page.getByTestId('requests-table');
  await expect(table.locator('tbody tr')).toHaveCount(10);

  await page.getByLabel('Status').selectOption('4xx');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  await expect(table).toContainText('e2e-unauth-0');
  await expect(table).toContainText('no-such-model');
  await page.getByLabel('Status').selectOption('');

  await page.getByLabel('Caller').fill('batch-client');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  await page.getByLabel('Caller').fill('');
  await page.getByLabel('Client IP').fill('198.51.100.20');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  await page.getByLabel('Client IP').fill('');
  await page.getByLabel('Error code').fill('authentication');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.getByLabel('Error code').fill('');
  await page.getByLabel('Request id').fill('e2e-ok-');
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(page).toHaveURL(/q=e2e-ok-/);

  // Pause: new traffic does not appear until resumed.
  await page.getByLabel('Request id').fill('e2e-late');
  await expect(page.getByText('No request matches.')).toBeVisible();
  await page.getByRole('button', { name: 'Pause live updates' }).click();
  expect((await chat({ requestId: 'e2e-late-0', client: '203.0.113.10' })).status).toBe(200);
  await expect(page.getByTestId('explorer-count')).toContainText('paused');
  await page.getByRole('button', { name: 'Resume live updates' }).click();
  await expect(table).toContainText('e2e-late-0', { timeout: 15_000 });

  await page.getByRole('button', { name: 'Details of e2e-late-0' }).click();
  const detail = page.getByTestId('request-detail');
  await expect(detail.getByTestId('detail-id')).toHaveText('e2e-late-0');
  for (const text of [
    'API surface',
    'sipp',
    'Target asked for',
    'assistant',
    'Target served',
    'e2e-client',
    '203.0.113.10',
    'Upstream status',
    'Time to first token',
    '7 / 2',
  ]) {
    await expect(detail).toContainText(text);
  }
  await detail.getByRole('button', { name: 'Copy' }).click();
  await expect(detail.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('e2e-late-0');
  await rig.shot('03-requests');

  // Block from the explorer: confirmation first, then undo.
  await detail.getByRole('button', { name: 'Block 203.0.113.10' }).click();
  await expect(detail.getByText('Block 203.0.113.10?')).toBeVisible();
  await detail.getByRole('button', { name: 'Confirm block' }).click();
  await expect(detail.getByRole('button', { name: 'Undo' })).toBeVisible();
  expect((await chat({ client: '203.0.113.10' })).status).toBe(403);
  await detail.getByRole('button', { name: 'Undo' }).click();
  await expect(detail.getByRole('button', { name: 'Block 203.0.113.10' })).toBeVisible();
  expect((await chat({ client: '203.0.113.10' })).status).toBe(200);
});

test('Callers: per-caller table with sparklines; a count opens the explorer', async () => {
  await open('Callers');
  const table = page.getByTestId('callers-table');
  await expect(table.locator('caption')).toBeVisible();
  await expect(table.getByRole('rowheader', { name: 'e2e-client' })).toBeVisible();
  await expect(table.getByRole('rowheader', { name: 'batch-client' })).toBeVisible();
  await expect(table.getByRole('rowheader', { name: 'unauthenticated' })).toBeVisible();
  await expect(table.locator('svg.spark')).toHaveCount(3);
  await rig.shot('04-callers');
  await table.getByRole('button', { name: '2 server errors: open in the request explorer' }).click();
  await expect(page).toHaveURL(/caller=e2e-client/);
  await expect(page.getByTestId('requests-table').locator('tbody tr')).toHaveCount(2);
});

test('Targets: health, errors by class with top codes, the unrouted row; an error count opens the explorer', async () => {
  await open('Targets');
  const row = page.getByTestId('target-row-assistant');
  await expect(row).toContainText(/ready|degraded|failing/);
  await expect(row).toContainText('upstream');
  const unrouted = page.getByTestId('target-row--');
  await expect(unrouted).toContainText('no-such-model');
  await expect(page.getByTestId('target-assistant')).toContainText('OpenAI-compatible');
  await rig.shot('05-targets');
  await row.getByRole('button', { name: '2 server errors: open in the request explorer' }).click();
  await expect(page).toHaveURL(/target=assistant/);
  await expect(page).toHaveURL(/status=5xx/);
  await expect(page.getByTestId('requests-table').locator('tbody tr')).toHaveCount(2);
});

test('Clients: block asks for confirmation and can be undone', async () => {
  await open('Clients');
  const table = page.getByTestId('clients-table');
  await expect(table).toContainText('198.51.100.20');
  await expect(table).toContainText('batch-client');
  await table.getByRole('button', { name: 'Block 198.51.100.20' }).click();
  await table.getByRole('button', { name: 'Cancel' }).click();
  expect((await chat({ client: '198.51.100.20' })).status).toBe(200);
  await table.getByRole('button', { name: 'Block 198.51.100.20' }).click();
  await table.getByRole('button', { name: 'Confirm block' }).click();
  await expect(table.getByRole('button', { name: 'Undo' })).toBeVisible();
  expect((await chat({ client: '198.51.100.20' })).status).toBe(403);
  await rig.shot('06-clients');
  await table.getByRole('button', { name: 'Undo' }).click();
  await expect(table.getByRole('button', { name: 'Block 198.51.100.20' })).toBeVisible();
  expect((await chat({ client: '198.51.100.20' })).status).toBe(200);
});

test('Security: a CIDR with expiry and note blocks the range; the audit log records every action', async () => {
  await open('Security');
  await expect(page.getByTestId('client-ip-source')).toContainText('x-forwarded-for');
  await expect(page.getByTestId('client-ip-source')).toContainText('127.0.0.1/32');

  const burst = page.getByLabel('Burst');
  await burst.fill('0');
  await expect(page.getByText('must be > 0')).toBeVisible();
  await burst.fill('60');

  await page.getByLabel('Address or CIDR to block').fill('not-an-address');
  await expect(page.getByText('Enter an IPv4/IPv6 address or a CIDR range')).toBeVisible();
  await page.getByLabel('Address or CIDR to block').fill('203.0.113.99/24');
  await page.getByLabel('Expires after').selectOption('3600');
  await page.getByLabel('Note (optional)').fill('e2e scanner range');
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  const list = page.getByTestId('blocklist');
  await expect(list).toContainText('203.0.113.0/24');
  await expect(list).toContainText('e2e scanner range');
  await expect(list.locator('tbody tr').first()).not.toContainText('never');
  expect((await chat({ client: '203.0.113.45' })).status).toBe(403);
  expect((await chat({ client: '203.0.114.1' })).status).toBe(200);

  const audit = page.getByTestId('audit-table');
  await expect(audit).toContainText('blocklist.add');
  await expect(audit).toContainText('203.0.113.0/24');
  await expect(audit).toContainText('blocklist.remove');
  await expect(audit).not.toContainText('login_failed'); // sign-ins are hidden until asked for
  await page.getByLabel('Show sign-ins and sign-outs').check();
  await expect(audit).toContainText('login_failed');
  await expect(audit.locator('tbody tr').first()).toContainText('127.0.0.1');
  await rig.shot('07-security');

  await page.getByRole('button', { name: 'Unblock 203.0.113.0/24' }).click();
  await expect(page.getByText('No blocked clients.')).toBeVisible();
  expect((await chat({ client: '203.0.113.45' })).status).toBe(200);
  expect(gateway.logs.some((l) => l.includes('"action":"blocklist.add"') && l.includes('203.0.113.0/24'))).toBe(true);
});

test('Configuration shows the effective settings by name and no secret value', async () => {
  await open('Configuration');
  await expect(page.getByTestId('config-tokens')).toContainText('SIPP_E2E_TOKEN');
  await expect(page.getByTestId('config-tokens')).toContainText('batch-client');
  await expect(page.getByTestId('config-targets')).toContainText('SIPP_E2E_UPSTREAM_KEY');
  await expect(page.getByTestId('config-targets')).toContainText(upstream.url);
  await expect(page.getByTestId('routes-table')).toContainText('/v1/chat');
  await expect(page.getByTestId('metrics-link')).toHaveAttribute('href', '/metrics');
  const html = await page.content();
  const text = await page.locator('body').innerText();
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(html.includes(value), `${name} in the page`).toBe(false);
    expect(text.includes(value), `${name} in the page text`).toBe(false);
  }
  await rig.shot('08-config');
});

test('360 px: the navigation stays usable, nothing overflows; the skip link comes first', async () => {
  await page.setViewportSize({ width: 360, height: 800 });
  await open('Overview');
  for (const label of [
    'Overview',
    'Requests',
    'Callers',
    'Targets',
    'Clients',
    'Keys',
    'Security',
    'Configuration',
    'Replicas',
  ]) {
    const link = nav().getByRole('link', { name: label, exact: true });
    await link.scrollIntoViewIfNeeded();
    await expect(link).toBeInViewport();
  }
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await nav().getByRole('link', { name: 'Security', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Security' })).toBeVisible();
  await open('Overview');
  await rig.shot('09-overview-360px');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeInViewport();
  await page.setViewportSize({ width: 1440, height: 900 });
});

/** Lowest WCAG contrast ratio among the elements matching `selector` (backgrounds composited up the tree). */
async function lowestContrast(selector: string): Promise<{ ratio: number; text: string }> {
  return page.evaluate((sel) => {
    const parse = (c: string) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]!
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      return [p[0]!, p[1]!, p[2]!, p[3] ?? 1];
    };
    const over = (top: number[], bottom: number[]) =>
      [0, 1, 2].map((i) => top[i]! * top[3]! + bottom[i]! * (1 - top[3]!)).concat(1);
    const lum = (c: number[]) => {
      const ch = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(c[0]!) + 0.7152 * ch(c[1]!) + 0.0722 * ch(c[2]!);
    };
    const backgroundOf = (el: Element | null): number[] => {
      const layers: number[][] = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg[3]! > 0) layers.push(bg);
        if (bg[3] === 1) break;
      }
      return layers.reduceRight((acc, layer) => over(layer, acc), [255, 255, 255, 1]);
    };
    let worst = { ratio: Infinity, text: '' };
    for (const el of Array.from(document.querySelectorAll(sel))) {
      const fg = over(parse(getComputedStyle(el).color), backgroundOf(el));
      const a = lum(fg);
      const b = lum(backgroundOf(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < worst.ratio) worst = { ratio, text: el.textContent ?? '' };
    }
    return worst;
  }, selector);
}

test('status pills and small text meet WCAG AA contrast; tables have captions and header scopes', async () => {
  for (const label of ['Requests', 'Targets', 'Security']) {
    await open(label);
    await expect(page.locator('table').first()).toBeVisible();
    const worst = await lowestContrast('.pill, .small, .muted, .tile-hint, th, caption, .live strong, .live-age');
    expect(worst.ratio, `${label}: "${worst.text}"`).toBeGreaterThanOrEqual(4.5);
    for (const table of await page.locator('table').all()) {
      await expect(table.locator('caption')).toHaveCount(1);
      expect(await table.locator('thead th:not([scope="col"])').count()).toBe(0);
    }
  }
  await open('Overview');
});

test('an expired session returns to sign-in with a message', async () => {
  await expect(page.getByTestId('liveness')).toHaveAttribute('data-tone', 'ok');
  await expect(page.getByTestId('liveness')).toContainText(/Updated \d+ s ago/);
  // The browser loses its session cookie, as when the session ends on the server.
  await page.context().clearCookies();
  await expect(page.getByText('Your session expired. Sign in again.')).toBeVisible({ timeout: 15_000 });
  await rig.shot('10-session-expired');
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
});

test('sign out returns to the login screen and ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByText('Your session expired. Sign in again.')).toHaveCount(0);
  const api = await page.request.get(`${gateway.managementUrl}/admin/api/overview`);
  expect(api.status()).toBe(401);
  await page.getByLabel('Admin password').fill(SECRETS.SIPP_E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
});

test('no management response carried a secret, and the CSP was never violated', async () => {
  // Responses and the gateway's log lines (docs/dashboard.md): no configured secret in either.
  expect(await rig.leaks()).toEqual([]);
  const { scanned } = rig;
  expect(scanned.length).toBeGreaterThan(10);
  const js = scanned.find((r) => r.url.includes('/assets/') && r.url.endsWith('.js'));
  expect(js).toBeTruthy();
  expect(js!.headers).toMatch(/"content-encoding":"br"/);
  expect(js!.headers).toMatch(/"vary":"[^"]*accept-encoding/i);
  expect(scanned.some((r) => r.url.endsWith('/api/session'))).toBe(true);
  expect(rig.cspViolations).toEqual([]);
});

test('the liveness indicator turns red when the gateway stops', async () => {
  await expect(page.getByTestId('liveness')).toHaveAttribute('data-tone', 'ok');
  await gateway.stop();
  await expect(page.getByTestId('liveness')).toHaveAttribute('data-tone', 'bad', { timeout: 40_000 });
  await expect(page.getByTestId('liveness')).toContainText('Offline');
  await rig.shot('11-liveness-offline');
});
