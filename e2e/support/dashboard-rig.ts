/**
 * The setup the dashboard specs with fake upstreams share: N fake upstreams,
 * a real gateway process on a config built from their URLs, a Chromium page
 * that records every management response (to scan for the configured
 * secrets) and every Content Security Policy complaint, screenshots to
 * e2e/artifacts/, sign-in, and teardown.
 */
import type { Browser, BrowserContextOptions, Page, Response } from '@playwright/test';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';

const ARTIFACTS = join(resolve(fileURLToPath(import.meta.url), '../..'), 'artifacts');

/** The e2e secrets: the admin password, the client token(s) and the key the fake upstreams expect. */
export interface RigSecrets extends Record<string, string> {
  SIPP_E2E_ADMIN_PASSWORD: string;
  SIPP_E2E_UPSTREAM_KEY: string;
}

export interface ScannedResponse {
  url: string;
  body: string;
  headers: string;
}

export interface DashboardRig {
  upstreams: FakeUpstream[];
  gateway: GatewayProcess;
  page: Page;
  /** Every management response the page received (complete once `leaks()` resolved). */
  scanned: ScannedResponse[];
  /** Console messages of the page that report a Content Security Policy violation. */
  cspViolations: string[];
  /** A full-page screenshot in e2e/artifacts/<name>.png. */
  shot(name: string): Promise<void>;
  /** Opens the dashboard and signs in with the admin password. */
  signIn(): Promise<void>;
  /** "NAME in URL" for each secret in a management response, "NAME in a log line" for each in the gateway's log. */
  leaks(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startDashboardRig(
  browser: Browser,
  o: {
    /** Passed to the gateway as its environment, and what `leaks()` looks for. */
    secrets: RigSecrets;
    upstreams: number;
    config: (upstreamUrls: string[]) => string;
    /** The page's browser context (downloads, clipboard permissions). */
    context?: BrowserContextOptions;
  },
): Promise<DashboardRig> {
  await mkdir(ARTIFACTS, { recursive: true });
  const upstreams: FakeUpstream[] = [];
  let started: GatewayProcess | undefined;
  let page: Page;
  try {
    for (let i = 0; i < o.upstreams; i++) upstreams.push(await startFakeUpstream(o.secrets.SIPP_E2E_UPSTREAM_KEY));
    started = await startGatewayProcess(o.config(upstreams.map((u) => u.url)), o.secrets);
    page = await (await browser.newContext(o.context)).newPage();
  } catch (err) {
    await started?.stop();
    for (const u of upstreams) await u.close();
    throw err;
  }
  const gateway = started;
  const cspViolations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  const scanned: ScannedResponse[] = [];
  const pending: Array<Promise<void>> = [];
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
  const secrets = Object.entries(o.secrets);
  return {
    upstreams,
    gateway,
    page,
    scanned,
    cspViolations,
    shot: async (name) => {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async signIn() {
      await page.goto(`${gateway.managementUrl}/admin/`);
      await page.getByLabel('Admin password').fill(o.secrets.SIPP_E2E_ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    async leaks() {
      await Promise.all(pending);
      return [
        ...scanned.flatMap((r) =>
          secrets
            .filter(([, value]) => r.body.includes(value) || r.headers.includes(value))
            .map(([name]) => `${name} in ${r.url}`),
        ),
        ...gateway.logs.flatMap((line) =>
          secrets.filter(([, value]) => line.includes(value)).map(([name]) => `${name} in a log line`),
        ),
      ];
    },
    async close() {
      await page.context().close();
      await gateway.stop();
      for (const u of upstreams) await u.close();
    },
  };
}
