/**
 * The error-table rows that need a real local model: 503 `not_ready` while
 * targets have not loaded, and 500 `execution` when the model fails under a
 * request (here: its llama.cpp context and model were disposed under it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { ensureDemoModel, tomlString } from '../local/models.js';

const TOKEN = 'tok-lifecycle-0123456789';
const env = { TEST_ADMIN_PASSWORD: 'pw-admin-lifecycle', T: TOKEN };

function toml(modelPath: string): string {
  return `${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "m"
type = "local"
model = ${tomlString(modelPath)}
backend = "cpu"
[targets.runtime]
threads = 1
parallel = 1
context_size = 256
`;
}

describe('start-up and model failures on the public listener', () => {
  const gateways: TestGateway[] = [];
  after(async () => {
    for (const g of gateways) await g.stop();
  });

  it('503 not_ready (with Retry-After) while targets are not loaded; readiness agrees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipp-notready-'));
    const bogus = join(dir, 'not-a-model.gguf');
    writeFileSync(bogus, 'this is not a GGUF file');
    const gw = await startTestGateway({ toml: toml(bogus), env, waitLoaded: false });
    gateways.push(gw);
    await assert.rejects(gw.gateway.loaded, /"m"/);
    const r = await postJson(`${gw.publicUrl}/v1/query`, { model: 'm', prompt: 'hi' }, { token: TOKEN });
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'not_ready');
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await fetch(`${gw.managementUrl}/readyz`)).status, 503);
  });

  it('500 execution when the local model fails under a request', async () => {
    const gw = await startTestGateway({ toml: toml(ensureDemoModel()), env });
    gateways.push(gw);
    const ok = await postJson(`${gw.publicUrl}/v1/query`, { model: 'm', prompt: 'hi', max_tokens: 2 }, { token: TOKEN });
    assert.equal(ok.status, 200);
    // Pull the llama.cpp context and model out from under the target, as a native
    // failure would: node-llama-cpp then throws inside generation and embedding.
    const internals = gw.gateway.targets.get('m') as unknown as {
      ready: { loaded: { context: { dispose(): Promise<void> }; model: { dispose(): Promise<void> } } };
    };
    await internals.ready.loaded.context.dispose();
    await internals.ready.loaded.model.dispose();
    for (const stream of [false, true]) {
      const r = await postJson(`${gw.publicUrl}/v1/query`, { model: 'm', prompt: 'hi', max_tokens: 2, stream }, { token: TOKEN });
      assert.equal(r.status, 500, `stream=${stream}`);
      assert.equal(r.body.error.code, 'execution');
      assert.match(r.body.error.message, /local target "m"/);
    }
    const e = await postJson(`${gw.publicUrl}/v1/embed`, { model: 'm', input: 'x' }, { token: TOKEN });
    assert.equal(e.status, 500);
    assert.equal(e.body.error.code, 'execution');
  });
});
