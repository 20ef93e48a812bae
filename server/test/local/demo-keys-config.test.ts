/**
 * config/demo-keys.toml (what docs/keys.md, docs/budgets.md and docs/usage.md
 * run against) served for real: the docs' first steps — create a key through
 * the admin API with the admin API token, use it on the public API, see its
 * spend in `<admin>/api/spend` — on its embedded database, priced `demo`
 * target and local model. Only the ports, the model path and `data_dir` (a
 * temp directory instead of the shipped `data/`) are changed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdminClient } from '../admin/admin-client.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { until } from '../support/wait.js';
import { ensureDemoModel, REPO_ROOT, tomlString } from './models.js';

const DEMO_KEYS = readFileSync(resolve(REPO_ROOT, 'config/demo-keys.toml'), 'utf8');
// The docs' environment (docs/keys.md).
const env = {
  SIPP_GATEWAY_TOKEN: 'demo-client-token',
  SIPP_GATEWAY_ADMIN_PASSWORD: 'demo-admin-password',
  SIPP_GATEWAY_ADMIN_API_TOKEN: 'demo-admin-api-token',
};

function rewrite(dataDir: string): string {
  const replaced = [
    [/^(public_bind|management_bind) = .*$/gm, ''],
    ['data_dir = "data"', `data_dir = ${tomlString(dataDir)}`],
    ['model = "models/demo.gguf"', `model = ${tomlString(ensureDemoModel())}`],
  ] as const;
  let toml = DEMO_KEYS;
  for (const [from, to] of replaced) {
    const next = toml.replace(from, to);
    assert.notEqual(next, toml, `config/demo-keys.toml no longer has ${String(from)}`);
    toml = next;
  }
  return toml;
}

describe('config/demo-keys.toml', () => {
  let gw: TestGateway | undefined;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipp-demo-keys-'));
    gw = await startTestGateway({ toml: rewrite(dir), env, logLevel: 'info' });
  });
  after(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the first steps of docs/keys.md: a key from the admin API token, used on the public API, its spend in /api/spend', async () => {
    const g = gw!;
    await g.gateway.keys!.loaded();
    const admin = new AdminClient(`${g.managementUrl}/admin`);
    const bot = (method: string, path: string, json?: unknown) =>
      admin.request(method, path, {
        json,
        cookie: null,
        csrf: false,
        headers: { authorization: `Bearer ${env.SIPP_GATEWAY_ADMIN_API_TOKEN}` },
      });

    // docs/keys.md's create call (its expires_at left out: the test must not expire with the calendar).
    const created = await bot('POST', '/api/keys', {
      name: 'ci bot',
      caller: 'team-a',
      targets: ['demo'],
      rpm: 60,
      budget: { usd: 50, period: 'month' },
    });
    assert.equal(created.status, 201, created.text);
    const secret: string = created.body.secret;
    assert.match(secret, /^sk-sipp-/);
    assert.equal(created.body.key.caller, 'team-a');

    // docs/keys.md's query with the key on the public listener.
    const q = await postJson(
      `${g.publicUrl}/v1/query`,
      { model: 'demo', prompt: 'Once upon a time', max_tokens: 24 },
      { token: secret },
    );
    assert.equal(q.status, 200, q.text);
    assert.ok(q.body.usage.output_tokens > 0);

    // docs/usage.md's spend call: the caller's row, priced by the demo target's made-up prices.
    let row: { group: string; requests: number; cost_usd: number } | undefined;
    await until(async () => {
      const spend = await bot('GET', '/api/spend?group_by=caller');
      assert.equal(spend.status, 200, spend.text);
      row = spend.body.rows.find((r: { group: string }) => r.group === 'team-a');
      return row !== undefined && row.requests === 1;
    }, 'team-a in /api/spend');
    assert.ok(row!.cost_usd > 0, JSON.stringify(row));

    // The key's own spend, in the key list.
    const key = (await bot('GET', `/api/keys/${created.body.key.id}`)).body.key;
    assert.equal(key.spend.requests, 1);
  });
});
