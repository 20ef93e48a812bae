/**
 * The operator's controls and failure modes end to end (docs/dashboard.md): a
 * real gateway process with two fake upstream targets and the demo model as a
 * local target, headless Chromium.
 * - Drain and release ask for confirmation and a reason; the audit entry shows it.
 * - The audit log: readable times and values, filter by action, sign-ins hidden
 *   until asked for, CSV / JSON export of exactly the filtered list.
 * - A failing API call says what failed and offers Retry, and recovers; a view
 *   whose refresh fails dims its data; a call that never answers ends in an
 *   error, not "Loading…" forever.
 * - The configuration view shows default_max_tokens (it is no secret).
 * - The Targets table: health and circuit first, fits at 1440 px, usable at
 *   390 px without the page scrolling sideways.
 * Every management response is scanned for the configured secrets.
 */
import { expect, test, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDashboardRig, type DashboardRig } from './support/dashboard-rig.js';
import { e2eConfig, upstreamTarget, type GatewayProcess } from './support/gateway-process.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const SECRETS = {
  SIPP_E2E_ADMIN_PASSWORD: 'e2e-Ops-Pass-5a17c3',
  SIPP_E2E_TOKEN: 'e2e-ops-token-7e21b9d0',
  SIPP_E2E_UPSTREAM_KEY: 'sk-e2e-ops-key-c0ffee42',
};
const DRAIN_REASON = 'INC-4711: primary answers 500s';
const RELEASE_REASON = 'provider confirmed the fix';

test.describe.configure({ mode: 'serial' });

let rig: DashboardRig;
let gateway: GatewayProcess;
let page: Page;
/** Takes the gateway's OTLP exports (tracing is on, so requests get a trace id) and counts them. */
let otlpSink: Server;
let exports = 0;

async function ask(model: string, requestId?: string): Promise<number> {
  const res = await fetch(`${gateway.publicUrl}/v1/chat`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${SECRETS.SIPP_E2E_TOKEN}`,
      'content-type': 'application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.text();
  return res.status;
}

const open = async (label: string) => {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: label, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
};

test.beforeAll(async ({ browser }) => {
  otlpSink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => otlpSink.listen(0, '127.0.0.1', r));
  rig = await startDashboardRig(browser, {
    secrets: SECRETS,
    upstreams: 2,
    config: ([primaryUrl, secondaryUrl]) =>
      e2eConfig(`${upstreamTarget('primary', primaryUrl!)}
[targets.circuit]
failure_threshold = 3
open_seconds = 30

${upstreamTarget('secondary-with-a-long-name', secondaryUrl!)}

[[targets]]
name = "tiny"
type = "local"
model = "${join(ROOT, 'models', 'demo.gguf')}"
[targets.runtime]
context_size = 256
parallel = 1
default_max_tokens = 24

[telemetry.traces]
enabled = true
endpoint = "http://127.0.0.1:${(otlpSink.address() as AddressInfo).port}"
export_delay_ms = 50
`),
    context: { acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'] },
  });
  ({ gateway, page } = rig);
  for (const model of ['primary', 'secondary-with-a-long-name', 'tiny']) expect(await ask(model)).toBe(200);
  await rig.signIn();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
});

test.afterAll(async () => {
  await rig?.close();
  await new Promise((r) => otlpSink?.close(r));
});

test('drain asks for confirmation and a reason; cancel changes nothing; release asks too', async () => {
  await open('Targets');
  const state = page.getByTestId('circuit-state-primary');
  await expect(state).toHaveText('closed');

  await page.getByRole('button', { name: 'Drain primary' }).click();
  const confirm = page.getByRole('form', { name: 'Confirm: drain primary' });
  await expect(confirm).toBeVisible();
  const go = confirm.getByRole('button', { name: 'Confirm drain' });
  await expect(go).toBeDisabled();
  await confirm.getByLabel('Reason (kept in the audit log)').fill('   ');
  await expect(go).toBeDisabled();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(state).toHaveText('closed');
  expect(await ask('primary')).toBe(200);

  await page.getByRole('button', { name: 'Drain primary' }).click();
  await confirm.getByLabel('Reason (kept in the audit log)').fill(DRAIN_REASON);
  await rig.shot('ops-01-drain-confirm');
  await go.click();
  await expect(state).toHaveText('drained');
  expect(await ask('primary')).toBe(503);

  await page.getByRole('button', { name: 'Release primary' }).click();
  const confirmRelease = page.getByRole('form', { name: 'Confirm: release primary' });
  await expect(confirmRelease.getByRole('button', { name: 'Confirm release' })).toBeDisabled();
  await confirmRelease.getByLabel('Reason (kept in the audit log)').fill(RELEASE_REASON);
  await confirmRelease.getByRole('button', { name: 'Confirm release' }).click();
  await expect(state).toHaveText('closed');
  expect(await ask('primary')).toBe(200);
});

test('the audit log: reasons, readable times and values, sign-ins hidden until shown, filter by action', async () => {
  await open('Security');
  const table = page.getByTestId('audit-table');
  const rows = table.getByTestId('audit-row');
  await expect(rows).toHaveCount(2);
  await expect(table.locator('[data-action="login"]')).toHaveCount(0);
  const [release, drain] = [rows.nth(0), rows.nth(1)];
  await expect(release).toHaveAttribute('data-action', 'target.release');
  await expect(release.getByTestId('audit-reason')).toHaveText(RELEASE_REASON);
  await expect(drain.getByTestId('audit-reason')).toHaveText(DRAIN_REASON);

  // Readable: a date with the year, no epoch milliseconds, no JSON punctuation.
  const year = String(new Date().getFullYear());
  const timeText = await drain.locator('td').first().innerText();
  expect(timeText).toContain(year);
  expect(timeText).not.toMatch(/\d{12,}/);
  await expect(drain.getByTestId('audit-after')).toContainText('drained');
  await expect(drain.getByTestId('audit-after')).toContainText('yes');
  await expect(drain.getByTestId('audit-before')).toContainText('no');
  for (const cell of [drain.getByTestId('audit-before'), drain.getByTestId('audit-after')]) {
    expect(await cell.innerText()).not.toMatch(/[{}"]/);
  }
  // The values that changed are marked: drained and state, not the target's name.
  await expect(drain.getByTestId('audit-after').locator('.changed', { hasText: 'drained' })).toContainText('yes');
  await expect(drain.getByTestId('audit-after').locator('.changed', { hasText: 'target' })).toHaveCount(0);
  await rig.shot('ops-02-audit');

  await page.getByLabel('Show sign-ins and sign-outs').check();
  await expect(table.locator('[data-action="login"]')).toHaveCount(1);
  await expect(rows).toHaveCount(3);

  await page.getByLabel('Action').selectOption('target.drain');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-action', 'target.drain');
  await page.getByLabel('Show sign-ins and sign-outs').uncheck();
  await expect(rows).toHaveCount(1);
});

test('the audit export downloads exactly the filtered list as CSV and JSON', async () => {
  // Filter: target.drain (from the previous test), sign-ins hidden.
  const csvDownload = page.waitForEvent('download');
  await page.getByRole('link', { name: 'CSV' }).click();
  const csv = await readFile((await (await csvDownload).path())!, 'utf8');
  const lines = csv.trimEnd().split('\r\n');
  expect(lines[0]).toBe('time,action,reason,before,after,session,client');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z,target\.drain,INC-4711: primary answers 500s,/);

  await page.getByLabel('Action').selectOption('');
  await page.getByLabel('Show sign-ins and sign-outs').check();
  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('link', { name: 'JSON' }).click();
  const doc = JSON.parse(await readFile((await (await jsonDownload).path())!, 'utf8'));
  expect(doc.entries.map((e: any) => e.action)).toEqual(['target.release', 'target.drain', 'login']);
  await page.getByLabel('Show sign-ins and sign-outs').uncheck();
});

test('a failing API call says what failed and offers Retry; it recovers', async () => {
  // A view not loaded before in this session, so there is no last data to fall back on.
  let fail = true;
  await page.route('**/admin/api/fleet', (route) =>
    fail
      ? route.fulfill({
          status: 500,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'internal', message: 'the fleet view broke' } }),
        })
      : route.fallback(),
  );
  await open('Replicas');
  const error = page.getByTestId('error-state');
  await expect(error).toContainText('Could not load');
  await expect(error).toContainText('the fleet view broke');
  await expect(error).toContainText('GET fleet · HTTP 500 internal');
  await expect(page.getByText('Loading…')).toHaveCount(0);
  await rig.shot('ops-03-error-retry');
  fail = false;
  await error.getByRole('button', { name: 'Retry' }).click();
  await expect(error).toHaveCount(0);
  await expect(page.getByTestId('error-state')).toHaveCount(0);
  await expect(page.locator('.query-data').first()).toBeVisible();
  await page.unroute('**/admin/api/fleet');
});

test('when refreshes fail the last data stays, dimmed, under a banner with Retry; it recovers', async () => {
  await open('Overview');
  const data = page.locator('.query-data').first();
  await expect(data).toHaveAttribute('data-stale', 'false');
  let down = true;
  await page.route('**/admin/api/overview?*', (route) => (down ? route.abort('connectionrefused') : route.fallback()));
  await expect(data).toHaveAttribute('data-stale', 'true', { timeout: 20_000 });
  // Dimming is a 0.2 s opacity transition (ops.css): read until it has run, not once at its start.
  const opacity = () => data.evaluate((el) => Number(getComputedStyle(el).opacity));
  await expect.poll(opacity, { timeout: 10_000 }).toBeLessThan(0.75);
  const banner = page.getByTestId('stale-banner').first();
  await expect(banner).toContainText('The gateway is not reachable');
  await rig.shot('ops-04-stale');
  down = false;
  await banner.getByRole('button', { name: 'Retry now' }).click();
  await expect(data).toHaveAttribute('data-stale', 'false');
  await expect.poll(opacity, { timeout: 10_000 }).toBe(1);
  await page.unroute('**/admin/api/overview?*');
});

test('a call the gateway never answers ends in an error with Retry, not "Loading…" forever', async () => {
  await open('Overview');
  let hang = true;
  await page.route('**/admin/api/clients', (route) => (hang ? undefined : route.fallback()));
  await open('Clients');
  await expect(page.getByText('Loading…')).toBeVisible();
  const error = page.getByTestId('error-state');
  // REQUEST_TIMEOUT_MS (20 s), then one retry after 1 s and its 20 s.
  await expect(error).toContainText('did not answer within 20 s', { timeout: 60_000 });
  hang = false;
  await error.getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByRole('table').first()).toBeVisible();
  await page.unroute('**/admin/api/clients');
});

test('the request detail shows the trace id with a copy button', async () => {
  expect(await ask('primary', 'ops-traced-1')).toBe(200);
  // The log line comes through the gateway's stdout pipe, which may arrive after the HTTP answer: wait for it.
  const find = () => gateway.logs.map((l) => JSON.parse(l.startsWith('{') ? l : '{}')).find((l) => l.reqId === 'ops-traced-1');
  await expect.poll(() => find()?.traceId, { timeout: 10_000 }).toMatch(/^[0-9a-f]{32}$/);
  const line = find();
  await open('Requests');
  await page.getByRole('button', { name: 'Details of ops-traced-1' }).click();
  const detail = page.getByTestId('request-detail');
  await expect(detail.getByTestId('detail-trace-id')).toHaveText(line.traceId);
  await detail.getByRole('button', { name: 'Copy trace id' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(line.traceId);
  await expect.poll(() => exports).toBeGreaterThan(0);
});

test('the configuration view shows default_max_tokens; nothing in this config is a secret', async () => {
  await open('Configuration');
  const tiny = page.getByTestId('config-targets').locator('.card', { hasText: 'tiny' });
  const row = tiny.locator('div', { has: page.locator('dt', { hasText: /^default_max_tokens$/ }) }).last();
  await expect(row.locator('dd')).toHaveText('24');
  await expect(page.getByText('[redacted]')).toHaveCount(0);
  await expect(tiny).toContainText('context_size');
});

/** How far the page scrolls sideways, and (to say why) the elements sticking out that no scroll box holds. */
async function pageOverflow(): Promise<{ px: number; culprits: string[] }> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const scrolls = (e: Element) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
    const held = (e: Element) => {
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return true;
      return false;
    };
    const culprits = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 0.5 && !held(e))
      .slice(0, 8)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} → ${Math.round(e.getBoundingClientRect().right)} px`);
    return { px: document.documentElement.scrollWidth - width, culprits };
  });
}

test('the Targets table fits at 1440 px with health and circuit first', async () => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await open('Targets');
  const table = page.getByTestId('targets-table');
  await expect(table).toBeVisible();
  const headers = (await table.locator('thead th').allTextContents()).map((h) => h.trim());
  expect(headers.slice(0, 3)).toEqual(['Target', 'Health', 'Circuit']);
  const wrap = page.getByTestId('targets-table-wrap');
  expect(await wrap.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
  expect(await pageOverflow()).toEqual({ px: 0, culprits: [] });
  await rig.shot('ops-05-targets-1440');
});

test('the Targets table is usable at 390 px: no sideways page scroll, name, health and circuit in view', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await expect(page.getByTestId('targets-table')).toBeVisible();
  expect(await pageOverflow()).toEqual({ px: 0, culprits: [] });
  const row = page.getByTestId('target-row-primary');
  for (const cell of [row.locator('th'), row.locator('td').nth(0), row.locator('td').nth(1)]) {
    const box = (await cell.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
  }
  // The rest of the table scrolls inside its own box; the name column stays put.
  const wrap = page.getByTestId('targets-table-wrap');
  await wrap.evaluate((el) => el.scrollBy(400, 0));
  const name = (await row.locator('th').boundingBox())!;
  expect(name.x).toBeGreaterThanOrEqual(0);
  expect(name.x + name.width).toBeLessThanOrEqual(390);
  await rig.shot('ops-06-targets-390');
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('no management response carried a secret', async () => {
  // Responses and the gateway's log lines: no configured secret in either.
  expect(await rig.leaks()).toEqual([]);
  expect(rig.scanned.some((r) => r.url.includes('/drain'))).toBe(true);
});
