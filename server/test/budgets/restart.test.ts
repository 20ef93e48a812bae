/**
 * A restart does not reset spend (docs/budgets.md#restarts): the gateway seeds
 * its counters from the usage database's daily rollups at start. One gateway
 * spends half a budget and stops (its usage rows are flushed); a new one on
 * the same embedded database allows the other half and no more. The usage
 * rows carry cost and cache tokens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { AdminClient } from '../admin/admin-client.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway } from '../support/gateway.js';
import { PRICED_TARGET } from './rig.js';

const TOKEN = 'tok-restart-budget-0123456789';

describe('spend survives a restart', () => {
  let openai: FakeOpenAI;
  let dir: string;

  before(async () => {
    openai = await startFakeOpenAI();
    openai.setReply({ promptTokens: 8, completionTokens: 10, cachedTokens: 4 });
    dir = mkdtempSync(join(tmpdir(), 'sipp-budget-restart-'));
  });
  after(async () => {
    await openai?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('half a budget spent before the restart leaves half after it', async () => {
    // Bug caught: counters that start from zero at start (no seed from the usage database) allow a second full budget.
    const toml = `${BASE_TOML}
[[tokens]]
env = "T"
caller = "restart"
budget = { usd = 0.1, period = "total" }
[database]
data_dir = "${dir}"
flush_interval_ms = 50
${PRICED_TARGET(openai.url)}`;
    const env = { TEST_ADMIN_PASSWORD: 'admin-pw-restart-0123456789', OPENAI_KEY: openai.apiKey, T: TOKEN };
    const ask = { model: 'gpt', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };

    const first = await startTestGateway({ toml, env, logLevel: 'warn' });
    try {
      const c = new OpenAI({ baseURL: `${first.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
      for (let i = 0; i < 5; i++) await c.chat.completions.create(ask);
      // A caller budget is kept in the usage database (migration 3) with the memory state backend.
      const admin = new AdminClient(`${first.managementUrl}/admin`);
      assert.equal((await admin.login(env.TEST_ADMIN_PASSWORD)).status, 200);
      const put = await admin.request('PUT', '/api/callers/restart/budget', { json: { usd: 5, period: 'month' } });
      assert.equal(put.status, 200);
    } finally {
      await first.stop();
    }

    const second = await startTestGateway({ toml, env, logLevel: 'warn' });
    try {
      const c = new OpenAI({ baseURL: `${second.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
      for (let i = 0; i < 5; i++) await c.chat.completions.create(ask);
      const e: any = await c.chat.completions.create(ask).catch((x) => x);
      assert.equal(e.status, 429);
      assert.equal(e.error.code, 'insufficient_quota');
      const admin = new AdminClient(`${second.managementUrl}/admin`);
      assert.equal((await admin.login(env.TEST_ADMIN_PASSWORD)).status, 200);
      const got = await admin.request('GET', '/api/callers/restart/budget');
      assert.deepEqual(got.body.budget, { usd: 5, period: 'month' });
      assert.ok(Math.abs(got.body.spend.usd - 0.1) < 1e-9, `caller spend ${got.body.spend.usd}`);
      await second.gateway.usage!.writer.flush();
      const db = await second.gateway.usage!.database();
      const rows = await db.query<{ n: string; cost: number; cache: string; key_id: string | null }>(
        `SELECT count(*) AS n, sum(cost_usd) AS cost, sum(cache_read_tokens) AS cache, max(key_id) AS key_id FROM usage_rows WHERE status = 200`,
      );
      assert.equal(Number(rows[0]!.n) >= 5, true);
      assert.equal(Number(rows[0]!.cache), Number(rows[0]!.n) * 4);
      assert.ok(Math.abs(Number(rows[0]!.cost) - Number(rows[0]!.n) * 0.01) < 1e-9);
    } finally {
      await second.stop();
    }
  });
});
