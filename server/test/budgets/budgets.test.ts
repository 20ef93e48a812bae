/**
 * Budgets and per-key limits on one gateway (docs/budgets.md), with the
 * official SDKs against a fake OpenAI: a burst of 50 concurrent requests
 * against a budget that allows 10 never passes it; `budget_exceeded` in each
 * surface's error shape with Retry-After until the period resets (none for
 * `total`); a key's rpm and tpm; the soft threshold counted once; caller
 * budgets through the admin API.
 *
 * Price: output 1000 USD per Mtok, input free: a request with max_tokens 10
 * that generates 10 tokens reserves and costs exactly 0.01 USD.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { AdminClient } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { tokenGateway, type TestToken } from '../support/token-gateway.js';
import { until } from '../support/wait.js';
import { gate, PRICED_TARGET, type Gate } from './rig.js';

const ADMIN_PASSWORD = 'admin-pw-budgets-0123456789';
const T = {
  burst: 'tok-budget-burst-0123456789',
  spent: 'tok-budget-spent-0123456789',
  daily: 'tok-budget-daily-0123456789',
  rpm: 'tok-budget-rpm-0123456789ab',
  tpm: 'tok-budget-tpm-0123456789ab',
  warn: 'tok-budget-warn-0123456789a',
  team: 'tok-budget-team-0123456789a',
};
const TOKENS: TestToken[] = [
  { env: 'T_BURST', value: T.burst, caller: 'burst', toml: 'budget = { usd = 0.1, period = "total" }' },
  { env: 'T_SPENT', value: T.spent, caller: 'spent', toml: 'budget = { usd = 0.000001, period = "total" }' },
  { env: 'T_DAILY', value: T.daily, caller: 'daily', toml: 'budget = { tokens = 5, period = "day" }' },
  { env: 'T_RPM', value: T.rpm, caller: 'rpm', toml: 'rpm = 2' },
  { env: 'T_TPM', value: T.tpm, caller: 'tpm', toml: 'tpm = 100' },
  { env: 'T_WARN', value: T.warn, caller: 'warn', toml: 'budget = { usd = 0.1, period = "month" }' },
  { env: 'T_TEAM', value: T.team, caller: 'team' },
];

const ask = (max_tokens = 10) => ({ model: 'gpt', max_tokens, messages: [{ role: 'user' as const, content: 'hi' }] });

describe('budgets and per-key limits on one gateway', () => {
  let openai: FakeOpenAI;
  let gw: TestGateway;
  let g: Gate;
  const sdk = (token: string) => new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: token, maxRetries: 0 });

  before(async () => {
    openai = await startFakeOpenAI();
    g = gate();
    gw = await startTestGateway({
      ...tokenGateway({
        adminPassword: ADMIN_PASSWORD,
        tokens: TOKENS,
        targets: PRICED_TARGET(openai.url),
        env: { OPENAI_KEY: openai.apiKey },
      }),
      logLevel: 'info',
      modules: [g.module, g.capture],
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
  });
  beforeEach(() => {
    openai.setReply({ promptTokens: 8, completionTokens: 10 });
  });

  it('50 concurrent requests against a budget that allows 10: exactly 10 served, 40 budget_exceeded, spend at the budget', async () => {
    // Bug caught: admission that checks the settled spend but not the reservations in flight admits all 50.
    g.arm(50);
    const client = sdk(T.burst);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.chat.completions.create(ask())));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as any).status === 429);
    assert.equal(ok, 10);
    assert.equal(refused.length, 40);
    await until(() => g.records.filter((r) => r.caller === 'burst').length === 50, 'every record');
    const spent = g.records.filter((r) => r.caller === 'burst').reduce((s, r) => s + (r.costUsd ?? 0), 0);
    assert.ok(Math.abs(spent - 0.1) < 1e-12, `spent ${spent}`);
    // Settled: the next one is refused too (the budget is spent, not merely reserved).
    await assert.rejects(client.chat.completions.create(ask()), (e: any) => e.status === 429);
  });

  it('budget_exceeded in each surface shape: no Retry-After for a total budget', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, ask(), { token: T.spent });
    assert.equal(r.status, 429);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message']);
    assert.equal(r.body.error.code, 'budget_exceeded');
    assert.equal(r.headers.get('retry-after'), null);

    const e1: any = await sdk(T.spent)
      .chat.completions.create(ask())
      .catch((e) => e);
    assert.equal(e1.error.type, 'insufficient_quota');
    assert.equal(e1.error.code, 'insufficient_quota');
    assert.ok(e1 instanceof OpenAI.RateLimitError);
    const e2: any = await sdk(T.spent)
      .responses.create({ model: 'gpt', input: 'hi', max_output_tokens: 10 })
      .catch((e) => e);
    assert.equal(e2.error.code, 'insufficient_quota');
    assert.ok(e2 instanceof OpenAI.RateLimitError);
    const ant = new Anthropic({ baseURL: gw.publicUrl, apiKey: T.spent, maxRetries: 0 });
    const e3: any = await ant.messages.create(ask()).catch((e) => e);
    assert.equal(e3.error.type, 'error');
    assert.equal(e3.error.error.type, 'rate_limit_error');
    assert.match(e3.error.error.message, /^budget_exceeded: /);
    assert.ok(e3 instanceof Anthropic.RateLimitError);
    // Nothing reached the provider for a refused request.
    assert.ok(g.records.filter((x) => x.caller === 'spent').every((x) => x.attempts.length === 0 && x.costUsd === 0));
  });

  it('a daily budget: Retry-After is the seconds until the next UTC midnight', async () => {
    // A tokens budget of 5 cannot hold any request's worst case (its body bytes plus max_tokens).
    const before = Date.now();
    const r = await postJson(`${gw.publicUrl}/v1/chat`, ask(), { token: T.daily });
    const afterMs = Date.now();
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'budget_exceeded');
    const midnight = Date.UTC(
      new Date(afterMs).getUTCFullYear(),
      new Date(afterMs).getUTCMonth(),
      new Date(afterMs).getUTCDate() + 1,
    );
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(
      retry >= Math.ceil((midnight - afterMs) / 1000) && retry <= Math.ceil((midnight - before) / 1000),
      `Retry-After ${retry}`,
    );
  });

  it("a key's rpm: the third request within the minute is 429 rate_limited with Retry-After", async () => {
    // Bug caught: a bucket that is read but never taken from admits every request.
    const client = sdk(T.rpm);
    await client.chat.completions.create(ask());
    await client.chat.completions.create(ask());
    const e: any = await client.chat.completions.create(ask()).catch((x) => x);
    assert.equal(e.status, 429);
    assert.equal(e.error.code, 'rate_limited');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
  });

  it("a key's tpm: a request that used more than the minute's tokens leaves the key refused until they refill", async () => {
    // Bug caught: settlement that does not charge the tokens used to the key's tpm bucket.
    openai.setReply({ promptTokens: 8, completionTokens: 100 });
    const client = sdk(T.tpm);
    await client.chat.completions.create(ask(100));
    await until(() => g.records.some((r) => r.caller === 'tpm'), 'the settled record');
    await until(async () => (await client.chat.completions.create(ask()).catch((x) => x)).status === 429, 'tpm refusal', 5_000);
    const e: any = await client.chat.completions.create(ask()).catch((x) => x);
    assert.equal(e.error.code, 'rate_limited');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
  });

  it('the soft threshold (80 %) is crossed once: one warn line, one audit entry, the metric once', async () => {
    // Bug caught: a threshold check without the per-period "warned" flag fires on every request past 80 %.
    const client = sdk(T.warn);
    const metric = async () => {
      const text = await (await fetch(`${gw.managementUrl}/metrics`)).text();
      return Number(/^sipp_gateway_budget_threshold_crossings_total (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await metric();
    for (let i = 0; i < 10; i++) {
      await client.chat.completions.create(ask());
      await until(() => g.records.filter((r) => r.caller === 'warn').length === i + 1, 'settled');
    }
    assert.equal((await metric()) - before, 1);
    const warns = gw.logs
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'key budget passed its soft threshold' && l.key === 'config:warn');
    assert.equal(warns.length, 1);
    assert.equal(warns[0].level, 'warn');
    assert.equal(warns[0].spent_usd, 0.08);
    const admin = new AdminClient(`${gw.managementUrl}/admin`);
    assert.equal((await admin.login(ADMIN_PASSWORD)).status, 200);
    const audit = (await admin.request('GET', '/api/audit')).body.entries.filter(
      (e: any) => e.action === 'budget.threshold' && e.after.key === 'config:warn',
    );
    assert.equal(audit.length, 1);
    assert.equal(audit[0].after.percent, 80);
    const overview = (await admin.request('GET', '/api/overview')).body;
    assert.deepEqual(
      overview.budgetAlerts.filter((a: any) => a.name === 'config:warn'),
      [{ scope: 'key', name: 'config:warn', period: 'month', percent: 100 }],
    );
    const refused: any = await client.chat.completions.create(ask()).catch((x) => x);
    assert.equal(refused.status, 429);
    const text = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    assert.match(text, /^sipp_gateway_budget_rejections_total \d+$/m);
  });

  it('a caller budget through the admin API: validated, audited, enforced on the sum of its keys, readable back', async () => {
    // Bug caught: admission that reads only the key's own budget lets the caller pass its budget.
    const admin = new AdminClient(`${gw.managementUrl}/admin`);
    assert.equal((await admin.login(ADMIN_PASSWORD)).status, 200);
    const bad = await admin.request('PUT', '/api/callers/team/budget', { json: { usd: -1, period: 'day' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^usd: /);
    const noPeriod = await admin.request('PUT', '/api/callers/team/budget', { json: { usd: 1 } });
    assert.equal(noPeriod.status, 400);
    assert.equal(noPeriod.body.error.message, 'period: required');
    const notNumber = await admin.request('PUT', '/api/callers/team/budget', { json: { tokens: '5', period: 'day' } });
    assert.equal(notNumber.body.error.message, 'tokens: must be a number');
    // Worded like the keys API (docs/budgets.md#caller-budgets), not zod's default message.
    const badPeriod = await admin.request('PUT', '/api/callers/team/budget', { json: { usd: 1, period: 'year' } });
    assert.equal(badPeriod.status, 400);
    assert.equal(badPeriod.body.error.message, 'period: must be one of day, week, month, total');
    const extra = await admin.request('PUT', '/api/callers/team/budget', { json: { usd: 1, period: 'day', cap: 2 } });
    assert.equal(extra.body.error.message, 'body: unknown field(s): cap');
    const put = await admin.request('PUT', '/api/callers/team/budget', { json: { usd: 0.02, period: 'total' } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.budget, { usd: 0.02, period: 'total' });
    const client = sdk(T.team);
    await client.chat.completions.create(ask());
    await client.chat.completions.create(ask());
    const e: any = await client.chat.completions.create(ask()).catch((x) => x);
    assert.equal(e.status, 429);
    assert.equal(e.error.code, 'insufficient_quota');
    assert.match(e.error.message, /caller/);
    await until(() => g.records.filter((r) => r.caller === 'team').length === 3, 'records');
    const got = await admin.request('GET', '/api/callers/team/budget');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, {
      caller: 'team',
      budget: { usd: 0.02, period: 'total' },
      spend: { usd: 0.02, tokens: 36 },
      // Every request settled: nothing is held (docs/budgets.md#leases for what a shared ledger leaves out).
      reserved: { usd: 0, tokens: 0 },
      percent: 100,
    });
    const audit = (await admin.request('GET', '/api/audit')).body.entries.filter((x: any) => x.action === 'budget.set');
    assert.deepEqual(audit[0].after, { caller: 'team', budget: { usd: 0.02, period: 'total' } });
    // Removing it (null) lets the caller through again.
    assert.equal((await admin.request('PUT', '/api/callers/team/budget', { json: null })).status, 200);
    await client.chat.completions.create(ask());
    // The bounds of the one budget schema, shared with managed keys and TOML (docs/budgets.md#budgets).
    const atMax = await admin.request('PUT', '/api/callers/roomy/budget', { json: { usd: 1e6, tokens: 1e12, period: 'month' } });
    assert.equal(atMax.status, 200, atMax.text);
    const overUsd = await admin.request('PUT', '/api/callers/roomy/budget', { json: { usd: 1e6 + 0.01, period: 'month' } });
    assert.equal(overUsd.status, 400);
    assert.equal(overUsd.body.error.message, 'usd: must be <= 1000000');
    const overTokens = await admin.request('PUT', '/api/callers/roomy/budget', { json: { tokens: 1e12 + 1, period: 'month' } });
    assert.equal(overTokens.body.error.message, 'tokens: must be <= 1000000000000');
  });
});
