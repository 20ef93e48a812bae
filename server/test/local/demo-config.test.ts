/** config/demo.toml (what `npm start` serves) is valid and answers the README's curls with finite, streamed output. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';
import { ensureDemoModel, REPO_ROOT } from './models.js';

const DEMO = readFileSync(resolve(REPO_ROOT, 'config/demo.toml'), 'utf8');

describe('config/demo.toml', () => {
  let gw: TestGateway;
  before(async () => {
    // Serve it as-is except for ephemeral ports and the absolute model path.
    const toml = DEMO.replace(/^(public_bind|management_bind) = .*$/gm, '').replace(
      'model = "models/demo.gguf"',
      `model = ${JSON.stringify(ensureDemoModel())}`,
    );
    gw = await startTestGateway({
      toml,
      env: { SIPP_GATEWAY_TOKEN: 'demo-client-token', SIPP_GATEWAY_ADMIN_PASSWORD: 'demo-admin-password' },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('passes check with one local target named demo on models/demo.gguf', () => {
    const cfg = parseConfigText(DEMO);
    assert.equal(cfg.targets.length, 1);
    const t = cfg.targets[0]!;
    assert.equal(t.name, 'demo');
    assert.equal(t.type, 'local');
    assert.ok(t.type === 'local' && t.model === 'models/demo.gguf' && t.runtime.threads === 1);
  });

  it('streams a finite answer to the README chat curl', async () => {
    const r = await postJson(
      `${gw.publicUrl}/v1/chat`,
      { model: 'demo', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 16, stream: true },
      { token: 'demo-client-token' },
    );
    assert.equal(r.status, 200);
    const events = parseSse(r.text);
    assert.ok(events.some((e) => e.event === 'token' && e.data.text.length > 0));
    assert.equal(events.at(-1)!.event, 'done');
  });

  it('answers a query without max_tokens with a short, finite text', async () => {
    const r = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'demo', prompt: 'Once upon a time' },
      { token: 'demo-client-token' },
    );
    assert.equal(r.status, 200);
    assert.ok(r.body.usage.output_tokens <= 64);
  });
});
